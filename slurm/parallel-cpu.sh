#!/usr/bin/env bash
# Submit one CPU-only Slurm job (slurm/submit-cpu.sh) per scinas experiment: slurm/parallel-gpu.sh --cpu.
#
#   slurm/parallel-cpu.sh E A E.training.epochs=5
#   sbatch slurm/parallel-cpu.sh E A             the same from a small job
#
# Every option and variable of slurm/parallel-gpu.sh applies (slurm/parallel-gpu.sh --help); the
# partition is SCINAS_SLURM_CPU_PARTITION and SCINAS_SLURM_CPUS defaults to 4.
#SBATCH --job-name=scinas-submit
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=00:15:00
#SBATCH --output=results/slurm/%x-%j.out
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -n "${SCINAS_ROOT:-}" ]]; then root="$SCINAS_ROOT"
elif [[ -f "$here/parallel-gpu.sh" ]]; then root="$(dirname "$here")"
else root="${SLURM_SUBMIT_DIR:-$PWD}"; fi
if [[ ! -x "$root/slurm/parallel-gpu.sh" ]]; then
  echo "parallel-cpu.sh: $root is not the scinas repository (no slurm/parallel-gpu.sh); run it from its root" \
    "or set SCINAS_ROOT" >&2
  exit 2
fi
exec "$root/slurm/parallel-gpu.sh" --cpu "$@"
