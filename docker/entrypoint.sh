#!/usr/bin/env bash
# Container entry point (Docker images of docker/, Apptainer image of docker/scinas.def): runs
# scinas with its arguments, the way `python src/main.py ...` does in a checkout.
#
#   docker run IMAGE                          the `default = [...]` experiments of the config
#   docker run IMAGE CONFIGS='E A'            experiments E and A (the seed project's form)
#   docker run -e CONFIGS='E A' IMAGE         the same, through the environment
#   docker run IMAGE E A E.training.epochs=2  names and KEY=VALUE overrides
#   docker run IMAGE run E --no-progress      any scinas command and option (run, list, predict, ...)
#   docker run IMAGE scinas list              `scinas ...` works as on the host
#   docker run -it IMAGE bash                 a shell (also sh, python, python3)
#
# Results go to /app/results (mount a host folder there), configs are read from /app/config
# (mount your own over the shipped ones). Tracking settings come from the environment:
# docker run -e MLFLOW_TRACKING_URI=... -e NEPTUNE_API_TOKEN -e NEPTUNE_PROJECT ... IMAGE ...
#
# SCINAS_APP (default /app) is the working folder, SCINAS_MAIN the script run by python (default
# $SCINAS_APP/main.py) with SCINAS_PYTHON (default python3). SCINAS_ENTRYPOINT_DRY_RUN=1 prints the
# command instead of running it (for tests).
set -euo pipefail

app="${SCINAS_APP:-/app}"
main="${SCINAS_MAIN:-$app/main.py}"
cd "$app"

# run COMMAND...: exec it, or print it (shell-quoted, one line) under SCINAS_ENTRYPOINT_DRY_RUN=1.
run() {
  if [[ "${SCINAS_ENTRYPOINT_DRY_RUN:-0}" == "1" ]]; then
    local line
    printf -v line '%q ' "$@"
    echo "${line% }"
    exit 0
  fi
  exec "$@"
}

case "${1:-}" in
  bash | sh | python | python3)
    run "$@"
    ;;
  scinas)
    shift
    ;;
esac

# A container started with `--user UID:GID` may have no home folder it can write to.
if [[ -z "${HOME:-}" || ! -w "${HOME:-/}" ]]; then
  export HOME=/tmp
fi

# Commands that write results need /app/results writable by this user; say how to fix it at once
# instead of failing after the data are generated.
case "${1:-}" in
  list | -h | --help | --version | xfel | predict) ;;
  *)
    results="$app/results"
    if [[ -d "$results" && ! -w "$results" ]]; then
      echo "scinas: $results is not writable by uid $(id -u): run the container with" \
        "--user \"\$(id -u):\$(id -g)\" (files then belong to you), or make the mounted folder writable" >&2
      exit 2
    fi
    ;;
esac

# exec: python receives the stop signal itself (docker stop sends SIGINT, see the Dockerfile) and
# leaves the run folder resumable.
run "${SCINAS_PYTHON:-python3}" "$main" "$@"
