#!/usr/bin/env bash
# Submit one Slurm job per scinas experiment (slurm/submit-gpu.sh, or slurm/submit-cpu.sh with
# --cpu) and print one `NAME JOBID` line per job.
#
#   slurm/parallel-gpu.sh                        every experiment of config/configurations.toml
#   slurm/parallel-gpu.sh E A                    only E and A (also CONFIGS='E A', as argument or variable)
#   slurm/parallel-gpu.sh E A E.training.epochs=50   KEY=VALUE overrides go to every job
#   slurm/parallel-gpu.sh --cpu E                CPU-only jobs (the same as slurm/parallel-cpu.sh E)
#   slurm/parallel-gpu.sh --dry-run              print the sbatch commands, submit nothing
#   sbatch slurm/parallel-gpu.sh E A             the same from a small job (its log: results/slurm/)
#
# Options -q/--quiet, --no-progress, --results DIR, --cache-dir DIR and --config-dir DIR go to scinas.
# Resources come from the environment or slurm/cluster.env (see slurm/cluster.env.example):
# SCINAS_SLURM_PARTITION (CPU mode: SCINAS_SLURM_CPU_PARTITION), SCINAS_SLURM_ACCOUNT, SCINAS_SLURM_QOS,
# SCINAS_SLURM_GPUS (1), SCINAS_SLURM_CPUS (8; CPU mode 4), SCINAS_SLURM_MEM, SCINAS_SLURM_TIME (24:00:00),
# SCINAS_SLURM_LOG_DIR (results/slurm), SBATCH_ARGS (more sbatch options, split on spaces; they win),
# SBATCH (the sbatch command). Unset values leave the cluster's defaults.
#SBATCH --job-name=scinas-submit
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=00:15:00
#SBATCH --output=results/slurm/%x-%j.out
set -euo pipefail

me="$(basename "${BASH_SOURCE[0]}")"
[[ "$me" == parallel-*.sh ]] || me=parallel-gpu.sh
# Under `sbatch slurm/parallel-gpu.sh` this file is a spooled copy: the repository is the submit folder.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -n "${SCINAS_ROOT:-}" ]]; then root="$SCINAS_ROOT"
elif [[ -f "$here/common.sh" ]]; then root="$(dirname "$here")"
else root="${SLURM_SUBMIT_DIR:-$PWD}"; fi
if [[ ! -f "$root/slurm/common.sh" ]]; then
  echo "$me: $root is not the scinas repository (no slurm/common.sh); run it from its root or set SCINAS_ROOT" >&2
  exit 2
fi
cd "$root"
# shellcheck source=slurm/common.sh
source slurm/common.sh
scinas_load_cluster_env

mode=gpu
dry_run=0
config_dir="${SCINAS_CONFIG_DIR:-config}"
names=()
overrides=()
options=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cpu) mode=cpu ;;
    --gpu) mode=gpu ;;
    -n | --dry-run) dry_run=1 ;;
    -h | --help)
      sed -n '2,/^#SBATCH/p' "$root/slurm/parallel-gpu.sh" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -q | --quiet | --no-progress) options+=("$1") ;;
    --results | --cache-dir | --config-dir)
      [[ $# -ge 2 ]] || scinas_die "$1 needs a value"
      [[ "$1" == --config-dir ]] && config_dir="$2"
      options+=("$1=$2")
      shift
      ;;
    --results=* | --cache-dir=*) options+=("$1") ;;
    --config-dir=*) config_dir="${1#--config-dir=}" && options+=("$1") ;;
    CONFIGS=*)
      value="${1#CONFIGS=}"
      read -r -a more <<<"${value//,/ }"
      names+=("${more[@]}")
      ;;
    *=*) overrides+=("$1") ;;
    -*) scinas_die "unknown option $1 (see --help)" ;;
    *) names+=("$1") ;;
  esac
  shift
done
if [[ ${#names[@]} -eq 0 && -n "${CONFIGS:-}" ]]; then
  read -r -a names <<<"${CONFIGS//,/ }"
fi
unset CONFIGS

config="$config_dir/configurations.toml"
[[ -f "$config" ]] || scinas_die "no $config (run from the repository root, or give --config-dir)"

# Experiments are the top-level tables; top-level keys such as `default = [...]` are not. Python's
# tomllib reads the file when a Python >= 3.11 is at hand, else the `[NAME]` headers are taken.
list_experiments() {
  local python
  for python in "${SCINAS_VENV:-.venv}/bin/python" python3; do
    command -v "$python" >/dev/null || continue
    "$python" - "$config" 2>/dev/null <<'PY' && return 0
import sys
import tomllib

with open(sys.argv[1], "rb") as handle:
    document = tomllib.load(handle)
print("\n".join(name for name, value in document.items() if isinstance(value, dict)))
PY
  done
  sed -n 's/^[[:space:]]*\[[[:space:]]*\([A-Za-z0-9_-]*\)[[:space:]]*\][[:space:]]*\(#.*\)\{0,1\}$/\1/p' "$config"
}
known_text="$(list_experiments)"
[[ -n "$known_text" ]] || scinas_die "$config defines no experiments"
mapfile -t known <<<"$known_text"

if [[ ${#names[@]} -eq 0 ]]; then
  names=("${known[@]}")
fi
for name in "${names[@]}"; do
  if ! printf '%s\n' "${known[@]}" | grep -qxF -- "$name"; then
    scinas_die "no experiment '$name' in $config (known: ${known[*]})"
  fi
done

scinas_resource_options "$mode"
log_dir="${SCINAS_SLURM_LOG_DIR:-results/slurm}"
read -r -a extra <<<"${SBATCH_ARGS:-}"
read -r -a sbatch <<<"${SBATCH:-sbatch}"
if [[ $dry_run -eq 0 ]] && ! command -v "${sbatch[0]}" >/dev/null; then
  SCINAS_EXIT=127 scinas_die "'${sbatch[0]}' not found: submit from a Slurm login node (or a job), or set SBATCH" \
    "to the sbatch command"
fi

# Inside a job (sbatch slurm/parallel-gpu.sh), the job's own SLURM_* variables would leak into the
# jobs submitted from it (sbatch exports the environment); only SLURM_CONF is kept.
if [[ -n "${SLURM_JOB_ID:-}" ]]; then
  while IFS= read -r variable; do
    [[ "$variable" == SLURM_CONF ]] || unset "$variable"
  done < <(compgen -v SLURM_)
fi
[[ $dry_run -eq 1 ]] || mkdir -p "$log_dir"

submitted=()
for name in "${names[@]}"; do
  command=("${sbatch[@]}" --parsable --job-name="scinas-$name" --output="$log_dir/%x-%j.out"
    "${resource_options[@]}" "${extra[@]}" "slurm/submit-$mode.sh" "$name" "${overrides[@]}" "${options[@]}")
  if [[ $dry_run -eq 1 ]]; then
    printf '%q ' "${command[@]}"
    printf '\n'
    continue
  fi
  status=0
  # sbatch's own error message goes to stderr unchanged; only the job id is read from stdout.
  job="$("${command[@]}")" || status=$?
  if [[ $status -ne 0 ]]; then
    SCINAS_EXIT=$status scinas_die "sbatch refused the job of experiment $name (exit $status);" \
      "${submitted[*]:+already submitted: ${submitted[*]}; }nothing else submitted"
  fi
  job="${job%%;*}"
  submitted+=("$name=$job")
  echo "$name $job"
done
