#!/usr/bin/env bash
# Container entry point: forwards its arguments to `python src/main.py`.
#
#   docker run IMAGE CONFIGS='E A'           run experiments E and A (the seed project's form)
#   docker run -e CONFIGS='E A' IMAGE        the same, through the environment
#   docker run IMAGE E E.training.epochs=2   names and KEY=VALUE overrides
#   docker run IMAGE list                    list experiments and datasets
#   docker run IMAGE scinas run E            `scinas ...` works as on the host
#   docker run -it IMAGE bash                a shell (also sh, python)
# With no arguments and no CONFIGS, the `default = [...]` experiments of the config run.
set -euo pipefail

cd /app

case "${1:-}" in
  bash | sh | python | python3)
    exec "$@"
    ;;
  scinas)
    shift
    ;;
esac

# exec: python receives the stop signal itself (SIGINT via STOPSIGNAL) and exits 130, resumable.
exec python src/main.py "$@"
