#!/usr/bin/env bash
# Submit one Slurm GPU job (slurm/submit-gpu.sh) per scinas experiment and print the job ids.
#
#   slurm/parallel-gpu.sh                        every experiment of config/configurations.toml
#   slurm/parallel-gpu.sh E A                    only E and A
#   slurm/parallel-gpu.sh CONFIGS='E A'          the same, in the seed project's form
#   slurm/parallel-gpu.sh E A E.training.epochs=50   KEY=VALUE overrides go to every job
#   SBATCH_ARGS="--partition=gpu --time=4:00:00" slurm/parallel-gpu.sh
#   slurm/parallel-gpu.sh --dry-run              print the sbatch commands, submit nothing
#
# Environment: SCINAS_CONFIG_DIR (default: config), SBATCH_ARGS (extra sbatch options, split on
# spaces), SBATCH (the sbatch command, default: sbatch).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

dry_run=0
names=()
overrides=()
for arg in "$@"; do
  case "$arg" in
    -n | --dry-run) dry_run=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    CONFIGS=*)
      value="${arg#CONFIGS=}"
      read -r -a more <<<"${value//,/ }"
      names+=("${more[@]}")
      ;;
    *=*) overrides+=("$arg") ;;
    -*) echo "parallel-gpu.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) names+=("$arg") ;;
  esac
done

config="${SCINAS_CONFIG_DIR:-config}/configurations.toml"
python=python3
[[ -x .venv/bin/python ]] && python=.venv/bin/python

# Experiments are the top-level tables; top-level keys such as `default = [...]` are not.
if ! known_text="$("$python" - "$config" <<'PY'
import sys
import tomllib

with open(sys.argv[1], "rb") as handle:
    document = tomllib.load(handle)
print("\n".join(name for name, value in document.items() if isinstance(value, dict)))
PY
)"; then
  echo "parallel-gpu.sh: could not read the experiments of $config (needs Python >= 3.11)" >&2
  exit 2
fi
mapfile -t known <<<"$known_text"

if [[ ${#names[@]} -eq 0 ]]; then
  names=("${known[@]}")
fi
for name in "${names[@]}"; do
  if ! printf '%s\n' "${known[@]}" | grep -qxF -- "$name"; then
    echo "parallel-gpu.sh: no experiment '$name' in $config (known: ${known[*]})" >&2
    exit 2
  fi
done
if [[ ${#names[@]} -eq 0 || -z "${names[0]}" ]]; then
  echo "parallel-gpu.sh: $config defines no experiments" >&2
  exit 2
fi

read -r -a extra <<<"${SBATCH_ARGS:-}"
read -r -a sbatch <<<"${SBATCH:-sbatch}"
mkdir -p results/slurm

for name in "${names[@]}"; do
  command=("${sbatch[@]}" --parsable --job-name="scinas-$name" "${extra[@]}" \
    slurm/submit-gpu.sh "$name" "${overrides[@]}")
  if [[ $dry_run -eq 1 ]]; then
    printf '%q ' "${command[@]}"
    printf '\n'
    continue
  fi
  job="$("${command[@]}")"
  echo "$name ${job%%;*}"
done
