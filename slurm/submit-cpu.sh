#!/usr/bin/env bash
# One scinas experiment as one Slurm job on CPUs only (slurm/submit-gpu.sh: the same on a GPU).
#
#   sbatch slurm/submit-cpu.sh E                                      # from the repository root
#   sbatch --export=ALL,CONFIGS=E slurm/submit-cpu.sh                 # name through the environment
#   sbatch slurm/submit-cpu.sh E E.training.epochs=50                 # plus KEY=VALUE overrides
#   sbatch slurm/submit-cpu.sh --resume results/E/<run id>            # continue a stopped run
#   sbatch --partition=cpu --account=proj --time=4:00:00 slurm/submit-cpu.sh E
#   slurm/parallel-cpu.sh E A                                         # one job per experiment
#
# The #SBATCH lines are site-neutral defaults; sbatch options (command line, SBATCH_PARTITION,
# SBATCH_ACCOUNT, SBATCH_TIMELIMIT ... in the environment) override them. slurm/parallel-cpu.sh
# adds the CPU partition, account, CPUs, memory and time of slurm/cluster.env. In the job:
# SCINAS_VENV (default .venv; none = the python on PATH), SCINAS_CONTAINER (an Apptainer image
# of docker/scinas.def instead of the venv), SCINAS_SLURM_SETUP and slurm/site-setup.sh (module
# loads ...). See slurm/README.md.
#SBATCH --job-name=scinas
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=4
#SBATCH --time=24:00:00
#SBATCH --output=results/slurm/%x-%j.out
# SIGINT to the batch shell 5 minutes before the time limit: scinas stops cleanly, resumable.
#SBATCH --signal=B:INT@300
set -euo pipefail

me=submit-cpu.sh
# sbatch runs a spooled copy of this file: the repository is then where sbatch was called from.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -n "${SCINAS_ROOT:-}" ]]; then root="$SCINAS_ROOT"
elif [[ -f "$here/common.sh" ]]; then root="$(dirname "$here")"
else root="${SLURM_SUBMIT_DIR:-$PWD}"; fi
if [[ ! -f "$root/slurm/common.sh" ]]; then
  echo "$me: $root is not the scinas repository (no slurm/common.sh); submit from its root or set SCINAS_ROOT" >&2
  exit 2
fi
cd "$root"
# shellcheck source=slurm/common.sh
source slurm/common.sh
scinas_load_cluster_env
scinas_job cpu "$@"
