#!/usr/bin/env bash
# One scinas experiment as one Slurm job on one GPU.
#
#   mkdir -p results/slurm && sbatch slurm/submit-gpu.sh E            # from the repository root
#   sbatch --export=ALL,CONFIGS=E slurm/submit-gpu.sh                 # name through the environment
#   sbatch slurm/submit-gpu.sh E E.training.epochs=50                 # plus KEY=VALUE overrides
#   sbatch slurm/submit-gpu.sh --resume results/E/<run id>            # continue a stopped run
#   slurm/parallel-gpu.sh                                             # one job per experiment
#
# The #SBATCH lines are defaults; options given to sbatch override them (sbatch --time=2:00:00 ...).
# Slurm opens the --output file before the script starts, so results/slurm must already exist.
#SBATCH --job-name=scinas
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --gpus=1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=results/slurm/%x-%j.out
# SIGINT to the batch shell 5 minutes before the time limit: scinas stops cleanly, resumable.
#SBATCH --signal=B:INT@300
set -euo pipefail

# sbatch runs a spooled copy of this file, so the repository is where sbatch was called from.
root="${SCINAS_ROOT:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
cd "$root"

if [[ ! -f src/main.py ]]; then
  echo "submit-gpu.sh: $root is not the scinas repository (no src/main.py); submit from its root" \
    "or set SCINAS_ROOT" >&2
  exit 2
fi

# Experiment: the first plain argument, else CONFIGS='...' among the arguments, else $CONFIGS.
# Options (--no-progress, --results=DIR, --resume DIR) and KEY=VALUE overrides are passed on.
configs=""
resume=""
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --resume)
      resume="${2:?submit-gpu.sh: --resume needs a run folder}"
      args+=("$1" "$2")
      shift
      ;;
    --resume=*) resume="${1#--resume=}" && args+=("$1") ;;
    -*) args+=("$1") ;;
    CONFIGS=*) configs="${1#CONFIGS=}" ;;
    *=*) args+=("$1") ;;
    *) configs="${configs:+$configs }$1" ;;
  esac
  shift
done
configs="${configs:-${CONFIGS:-}}"
if [[ -z "$configs" && -z "$resume" ]]; then
  echo "submit-gpu.sh: no experiment given: sbatch slurm/submit-gpu.sh NAME (or CONFIGS=NAME," \
    "or --resume results/NAME/RUN_ID)" >&2
  exit 2
fi

# Site set-up (module load cuda ..., conda activate ...) can go in this optional file.
if [[ -f slurm/site-setup.sh ]]; then
  # shellcheck source=/dev/null
  source slurm/site-setup.sh
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "submit-gpu.sh: no .venv in $root: run \`make install\` on a login node first" >&2
  exit 2
fi
# shellcheck source=/dev/null
source .venv/bin/activate

export TF_FORCE_GPU_ALLOW_GROWTH="${TF_FORCE_GPU_ALLOW_GROWTH:-true}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export MPLBACKEND="${MPLBACKEND:-Agg}"
export PYTHONUNBUFFERED=1

echo "scinas job ${SLURM_JOB_ID:-?} on $(hostname): ${resume:+resume $resume }${configs:+CONFIGS=\"$configs\"}" \
  "GPUs=${CUDA_VISIBLE_DEVICES:-none} CPUs=${SLURM_CPUS_PER_TASK:-?} start=$(date -Is)"

# exec: python itself receives the --signal above. CONFIGS is passed as an argument, so the
# environment copy is dropped (scinas would otherwise read it, also next to --resume).
unset CONFIGS
if [[ -n "$resume" ]]; then
  exec python src/main.py "${args[@]}"
fi
exec python src/main.py CONFIGS="$configs" "${args[@]}"
