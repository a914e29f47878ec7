# shellcheck shell=bash
# Shared by the scripts of slurm/ (sourced, never run): slurm/cluster.env, the sbatch resource
# options built from SCINAS_SLURM_* variables, and the body of a job (activation + exec python).
# The calling script sets `root` (the repository) and `me` (its name for messages) first.

scinas_die() {
  echo "${me:-scinas}: $*" >&2
  exit "${SCINAS_EXIT:-2}"
}

# Read slurm/cluster.env (or $SCINAS_CLUSTER_ENV) as shell assignments, exported so that jobs see them.
# Variables already set in the environment win over the file: the file holds a site's defaults and
# `SCINAS_SLURM_TIME=1:00:00 slurm/parallel-gpu.sh` changes one submission.
scinas_load_cluster_env() {
  local file="${SCINAS_CLUSTER_ENV:-$root/slurm/cluster.env}" saved
  if [[ ! -f "$file" ]]; then
    [[ -z "${SCINAS_CLUSTER_ENV:-}" ]] || scinas_die "SCINAS_CLUSTER_ENV=$file does not exist"
    return 0
  fi
  saved="$(export -p | grep -E '^declare -x (SCINAS_[A-Z0-9_]*|SBATCH_ARGS)=' || true)"
  set -a
  # shellcheck source=/dev/null
  source "$file" || scinas_die "could not read $file"
  set +a
  # `declare` inside a function would make the restored variables local: -g keeps them global.
  eval "${saved//declare -x /declare -gx }"
}

# scinas_resource_options MODE: fill the array `resource_options` with the sbatch options of a
# per-experiment job in MODE (gpu | cpu). Unset or empty variables leave the cluster's defaults.
scinas_resource_options() {
  local mode="$1" partition cpus
  resource_options=()
  if [[ "$mode" == gpu ]]; then
    partition="${SCINAS_SLURM_PARTITION:-}"
    cpus="${SCINAS_SLURM_CPUS:-8}"
    resource_options+=("--gpus=${SCINAS_SLURM_GPUS:-1}")
  else
    partition="${SCINAS_SLURM_CPU_PARTITION:-}"
    cpus="${SCINAS_SLURM_CPUS:-4}"
  fi
  [[ -z "$partition" ]] || resource_options+=("--partition=$partition")
  [[ -z "${SCINAS_SLURM_ACCOUNT:-}" ]] || resource_options+=("--account=$SCINAS_SLURM_ACCOUNT")
  [[ -z "${SCINAS_SLURM_QOS:-}" ]] || resource_options+=("--qos=$SCINAS_SLURM_QOS")
  [[ -z "$cpus" ]] || resource_options+=("--cpus-per-task=$cpus")
  [[ -z "${SCINAS_SLURM_MEM:-}" ]] || resource_options+=("--mem=$SCINAS_SLURM_MEM")
  resource_options+=("--time=${SCINAS_SLURM_TIME:-24:00:00}")
}

# scinas_job MODE ARGS...: the body of submit-gpu.sh / submit-cpu.sh, run inside the job.
# ARGS: experiment names (or CONFIGS='E A'), KEY=VALUE overrides, scinas run options.
scinas_job() {
  local mode="$1" configs="" resume="" runner=() container_args=()
  local args=()
  shift
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --resume)
        resume="${2:?$me: --resume needs a run folder}"
        args+=("$1" "$2")
        shift
        ;;
      --resume=*) resume="${1#--resume=}" && args+=("$1") ;;
      --results | --cache-dir | --config-dir)
        args+=("$1" "${2:?$me: $1 needs a value}")
        shift
        ;;
      -*) args+=("$1") ;;
      CONFIGS=*) configs="${configs:+$configs }${1#CONFIGS=}" ;;
      *=*) args+=("$1") ;;
      *) configs="${configs:+$configs }$1" ;;
    esac
    shift
  done
  configs="${configs:-${CONFIGS:-}}"
  if [[ -z "$configs" && -z "$resume" ]]; then
    scinas_die "no experiment given: sbatch slurm/submit-$mode.sh NAME (or CONFIGS=NAME, or --resume" \
      "results/NAME/RUN_ID)"
  fi

  # Site set-up: module loads, proxies, conda activate ... (optional file, then optional variable).
  if [[ -f slurm/site-setup.sh ]]; then
    # shellcheck source=/dev/null
    source slurm/site-setup.sh
  fi
  if [[ -n "${SCINAS_SLURM_SETUP:-}" ]]; then
    eval "$SCINAS_SLURM_SETUP"
  fi

  if [[ -n "${SCINAS_CONTAINER:-}" ]]; then
    # An Apptainer/Singularity image built from docker/scinas.def: results and configs are bound
    # to the image's /app/results and /app/config, the entry point is the image's own.
    [[ -f "$SCINAS_CONTAINER" ]] || scinas_die "SCINAS_CONTAINER=$SCINAS_CONTAINER: no such image file"
    local apptainer more=()
    apptainer="$(command -v apptainer || command -v singularity || true)"
    [[ -n "$apptainer" ]] || scinas_die "SCINAS_CONTAINER is set but neither apptainer nor singularity is on" \
      "PATH (load its module in SCINAS_SLURM_SETUP)"
    mkdir -p results
    [[ "$mode" == gpu ]] && container_args+=(--nv)
    read -r -a more <<<"${SCINAS_CONTAINER_ARGS:-}"
    container_args+=("${more[@]}")
    runner=("$apptainer" exec "${container_args[@]}" --pwd /app
      --bind "$root/results:/app/results" --bind "$root/config:/app/config" "$SCINAS_CONTAINER"
      /app/docker/entrypoint.sh)
  else
    [[ -f src/main.py ]] || scinas_die "$root is not the scinas repository (no src/main.py); submit from its" \
      "root or set SCINAS_ROOT"
    local venv="${SCINAS_VENV:-.venv}"
    if [[ "$venv" != none ]]; then
      [[ -x "$venv/bin/python" ]] || scinas_die "no virtual environment $venv in $root: run \`make install\`" \
        "on a login node first, or set SCINAS_VENV (none: use the python on PATH)"
      # shellcheck source=/dev/null
      source "$venv/bin/activate"
    fi
    runner=(python src/main.py)
  fi

  export TF_FORCE_GPU_ALLOW_GROWTH="${TF_FORCE_GPU_ALLOW_GROWTH:-true}"
  export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
  export MPLBACKEND="${MPLBACKEND:-Agg}"
  export PYTHONUNBUFFERED=1
  # TensorFlow sizes its thread pools from the node's cores, not the job's: keep to the allocation.
  if [[ -n "${SLURM_CPUS_PER_TASK:-}" ]]; then
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$SLURM_CPUS_PER_TASK}"
    export TF_NUM_INTRAOP_THREADS="${TF_NUM_INTRAOP_THREADS:-$SLURM_CPUS_PER_TASK}"
  fi
  # A CPU job on a GPU node must not take the node's GPUs.
  [[ "$mode" == cpu ]] && export CUDA_VISIBLE_DEVICES=""

  echo "scinas $mode job ${SLURM_JOB_ID:-?} on $(hostname): ${resume:+resume $resume }${configs:+CONFIGS=\"$configs\"}" \
    "GPUs=${CUDA_VISIBLE_DEVICES:-none} CPUs=${SLURM_CPUS_PER_TASK:-?} start=$(date -Is)"

  # exec: python itself receives the --signal of the job script. CONFIGS goes as an argument, so
  # the environment copy is dropped (scinas would otherwise read it, also next to --resume).
  unset CONFIGS
  if [[ -n "$resume" ]]; then
    exec "${runner[@]}" "${args[@]}"
  fi
  exec "${runner[@]}" CONFIGS="$configs" "${args[@]}"
}
