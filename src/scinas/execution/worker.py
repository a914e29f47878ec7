"""The worker process of the local executor: ``python -m scinas.execution.worker <task.json>``.

The argument is the JSON task file the executor wrote into the trial folder
(:class:`scinas.execution.task.WorkerTask`; JSON, so reading it runs no code).  It trains
exactly one trial (:func:`scinas.execution.task.run_task`) and exits, so TensorFlow's
memory never grows across trials.  Its stdout and stderr go to ``trials/<trial>/worker.log``.
It exits when its coordinator dies (the parent process changes), so a killed run never leaves
a worker training a trial that the resumed run starts again.  Exit status: 0 when the trial
ended (completed or failed, as the journal says), 1 on a task file that is not a scinas task,
:data:`~scinas.execution.journal.EXIT_BUG` (70) when a bug stopped it (after an ``internal_error``
journal line when the journal could be opened): the coordinator then stops the run instead of
failing the trial.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from scinas.execution.journal import EXIT_BUG

__all__ = ["EXIT_BUG", "main"]

logger = logging.getLogger("scinas.execution.worker")

_ORPHAN_EXIT = 3


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """A daemon thread that ends this process once ``parent`` is no longer its parent."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(_ORPHAN_EXIT)
            time.sleep(interval)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    """Train the task whose JSON file is the only argument."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        sys.stderr.write("usage: python -m scinas.execution.worker <task.json>\n")
        return 2
    parent = int(os.environ.get("SCINAS_COORDINATOR_PID", os.getppid()))
    if parent == os.getppid():
        _exit_with_parent(parent)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from scinas.execution.task import TaskFileError, WorkerTask, run_task

    try:
        task = WorkerTask.load(Path(arguments[0]))
    except TaskFileError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    try:
        status = run_task(task)  # the failures a trial can cause are a failed record in its journal
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception:  # anything else is a bug: the coordinator stops the run instead of failing the trial
        logger.exception("%s: stopped on an unexpected error (a bug, not a failed trial)", task.request.name)
        return EXIT_BUG
    logger.info("%s %s", task.request.name, status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
