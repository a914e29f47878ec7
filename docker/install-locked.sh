#!/usr/bin/env bash
# Install scinas into an image from poetry.lock: used by docker/Dockerfile, docker/Dockerfile.gpu and
# docker/scinas.def at build time (never when a container starts). Steps, in this order:
#
#   install-locked.sh requirements SOURCE OUT [EXTRAS]   OUT/requirements.txt: the locked versions (with
#                                                        hashes) of SOURCE/poetry.lock, main + EXTRAS
#   install-locked.sh cpu-tensorflow OUT HASHES          CPU images: in OUT/requirements.txt, the locked
#                                                        `tensorflow` entry becomes `tensorflow-cpu` of the
#                                                        same version, with the hashes of HASHES
#   install-locked.sh wheel SOURCE OUT                   OUT/scinas-*.whl built from SOURCE
#   install-locked.sh install-deps OUT [--keep-base-tensorflow]
#                                                        pip install exactly the locked versions
#   install-locked.sh install-wheel OUT                  the wheel, without dependencies; pip check
#
# Poetry lives in its own virtual environment ($POETRY_VENV, default /opt/poetry; a plain folder on
# PYTHONPATH where Python has no venv module, or with POETRY_NO_VENV=1), created on first use with
# the versions the Makefile pins; copy only OUT into the final image and Poetry stays out.
#
# --keep-base-tensorflow (GPU images on tensorflow/tensorflow:<version>-gpu): the base image's
# TensorFlow is built against the CUDA/cuDNN libraries of that image, so it is kept and the locked
# `tensorflow` requirement is dropped; every other locked package is installed as usual. The base
# must carry the locked TensorFlow version (choose the base tag to match poetry.lock), otherwise the
# build stops here, naming both versions.
#
# cpu-tensorflow (docker/Dockerfile): on Linux x86_64 the `tensorflow` wheel carries CUDA kernels
# (about 1.9 GB installed) that a CPU image cannot use; `tensorflow-cpu` is the same version built
# without them, with the same dependencies. HASHES (docker/tensorflow-cpu.txt) holds its entry; the
# step stops, naming both versions, when that version is not the locked one. On other machines
# (aarch64) the locked `tensorflow` wheel has no CUDA and is kept. No nvidia-* package may remain
# in the requirements. install-wheel then accepts pip check's "requires tensorflow, which is not
# installed" (scinas declares `tensorflow`) exactly when tensorflow-cpu is installed instead.
#
# Environment: POETRY_VENV, POETRY_VERSION, POETRY_EXPORT_VERSION, PYTHON (default python3).
set -euo pipefail

python="${PYTHON:-python3}"
poetry_venv="${POETRY_VENV:-/opt/poetry}"
die() { echo "install-locked.sh: $*" >&2; exit 1; }

poetry() {
  local pins=("poetry==${POETRY_VERSION:-2.5.1}" "poetry-plugin-export==${POETRY_EXPORT_VERSION:-1.10.1}")
  if [[ -x "$poetry_venv/bin/poetry" ]]; then
    "$poetry_venv/bin/poetry" --no-interaction "$@"
  elif [[ -d "$poetry_venv/lib/poetry" ]]; then
    PYTHONPATH="$poetry_venv/lib" "$python" -m poetry --no-interaction "$@"
  elif [[ "${POETRY_NO_VENV:-0}" != 1 ]] && "$python" -m venv "$poetry_venv" 2>/dev/null; then
    "$poetry_venv/bin/pip" install --quiet --no-cache-dir "${pins[@]}"
    "$poetry_venv/bin/poetry" --no-interaction "$@"
  else
    # Base images without the venv module (some distributions split it out): a plain folder on
    # PYTHONPATH, used by the Poetry process only.
    rm -rf "$poetry_venv"
    "$python" -m pip install --quiet --no-cache-dir --target "$poetry_venv/lib" "${pins[@]}"
    PYTHONPATH="$poetry_venv/lib" "$python" -m poetry --no-interaction "$@"
  fi
}

requirements() {
  local source="$1" out="$2" extras="${3:-}" extra options=()
  mkdir -p "$out"
  for extra in ${extras//,/ }; do
    options+=(--extras "$extra")
  done
  (cd "$source" && poetry export --format requirements.txt "${options[@]}" --output "$out/requirements.txt")
  # The locked TensorFlow version, for the check of --keep-base-tensorflow.
  sed -n 's/^tensorflow==\([^ ;]*\).*/\1/p' "$out/requirements.txt" >"$out/tensorflow-version"
}

# drop_tensorflow IN OUT: IN without the `tensorflow==...` entry and its hash lines (continuation
# lines end in a backslash).
drop_tensorflow() {
  awk '/^tensorflow==/ { skip = 1 } skip { if ($0 !~ /\\$/) skip = 0; next } { print }' "$1" >"$2"
}

cpu_tensorflow() {
  local out="$1" hashes="$2" requirements="$1/requirements.txt" locked cpu
  [[ -f "$requirements" ]] || die "no $requirements (run the requirements step first)"
  [[ -f "$hashes" ]] || die "no $hashes (the tensorflow-cpu entry)"
  if grep -q '^nvidia-' "$requirements"; then
    die "the locked requirements pull CUDA libraries into a CPU image:" \
      "$(grep -o '^nvidia-[^= ]*' "$requirements" | tr '\n' ' ')"
  fi
  if [[ "$(uname -m)" != x86_64 ]]; then
    echo "install-locked.sh: $(uname -m): the locked tensorflow wheel has no CUDA here; kept"
    return 0
  fi
  locked="$(cat "$out/tensorflow-version")"
  cpu="$(sed -n 's/^tensorflow-cpu==\([^ ;\\]*\).*/\1/p' "$hashes")"
  [[ -n "$locked" ]] || die "no tensorflow entry in $requirements"
  [[ "$cpu" == "$locked" ]] || die "$hashes holds tensorflow-cpu ${cpu:-(none)} but poetry.lock pins" \
    "tensorflow $locked: put the hashes of tensorflow-cpu $locked there"
  drop_tensorflow "$requirements" "$out/requirements-gpu-free.txt"
  grep -v '^#' "$hashes" >>"$out/requirements-gpu-free.txt"
  mv "$out/requirements-gpu-free.txt" "$requirements"
  echo "install-locked.sh: tensorflow $locked -> tensorflow-cpu $cpu (the CPU-only build)"
}

wheel() {
  local source="$1" out="$2"
  mkdir -p "$out"
  (cd "$source" && poetry build --format wheel --output "$out")
}

install_deps() {
  local out="$1" keep_tensorflow="${2:-}" requirements="$1/requirements.txt"
  [[ -f "$requirements" ]] || die "no $requirements (run the requirements step first)"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "scinas needs Python >= 3.11; this image has $("$python" --version 2>&1)"
  if [[ "$keep_tensorflow" == --keep-base-tensorflow ]]; then
    local locked base
    locked="$(cat "$out/tensorflow-version")"
    base="$("$python" -c 'import importlib.metadata as m; print(m.version("tensorflow"))' 2>/dev/null || true)"
    [[ -n "$base" ]] || die "--keep-base-tensorflow, but the base image has no tensorflow package"
    [[ "$base" == "$locked" ]] || die "the base image has tensorflow $base but poetry.lock pins $locked:" \
      "build with --build-arg TF_VERSION=$locked (or re-lock scinas for $base)"
    drop_tensorflow "$requirements" "$out/requirements-without-tensorflow.txt"
    requirements="$out/requirements-without-tensorflow.txt"
  elif [[ -n "$keep_tensorflow" ]]; then
    die "unknown option $keep_tensorflow"
  fi
  # Hash-checking mode (the export carries hashes): only the locked files can be installed.
  "$python" -m pip install --no-cache-dir --require-hashes --requirement "$requirements"
}

install_wheel() {
  local out="$1" wheels=("$1"/scinas-*.whl)
  [[ -f "${wheels[0]}" ]] || die "no scinas wheel in $out (run the wheel step first)"
  "$python" -m pip install --no-cache-dir --no-deps "${wheels[@]}"
  local report status=0
  report="$("$python" -m pip check 2>&1)" || status=$?
  if [[ $status -ne 0 ]] && "$python" -c 'import importlib.metadata as m; m.version("tensorflow-cpu")' 2>/dev/null; then
    # tensorflow-cpu provides the `tensorflow` package that scinas (and only that) declares.
    report="$(grep -v -E '^[^ ]+ [^ ]+ requires tensorflow, which is not installed\.$' <<<"$report" || true)"
    [[ -z "$report" ]] && status=0 && report="pip check: ok (tensorflow is provided by tensorflow-cpu)"
  fi
  echo "$report"
  return "$status"
}

case "${1:-}" in
  requirements) shift; requirements "$@" ;;
  cpu-tensorflow) shift; cpu_tensorflow "$@" ;;
  wheel) shift; wheel "$@" ;;
  install-deps) shift; install_deps "$@" ;;
  install-wheel) shift; install_wheel "$@" ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
