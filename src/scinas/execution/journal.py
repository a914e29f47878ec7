"""Per-trial journals: how a worker process records a trial without touching the run store.

Only the coordinating process writes the SQLite store.  A trial trained in another process
(a local worker, a Slurm job) writes every call the trainer makes on its store into
``trials/<trial>/journal.jsonl`` instead, one JSON object per line, flushed and fsynced line by
line, through :class:`TrialJournal`, which offers the part of
:class:`~scinas.store.RunStore` that :class:`~scinas.training.trainer.Trainer` and its
callbacks use.  The coordinator replays the lines into the store with :class:`JournalReader`,
while the trial runs (so the store shows its epochs live) and when it ends.

A line is ``{"op": ..., ...}`` with ``op`` one of ``start``, ``truncate``, ``epoch``,
``metrics``, ``update``, ``complete``, ``fail``, ``internal_error``; only whole lines (ending in
a newline) are read, so a worker killed mid-write never yields half a record.  ``complete`` and
``fail`` are final: a journal that ends without one belongs to a trial that is still running or
died.  ``internal_error`` (the error and its traceback) is written by a worker stopped by a bug
in scinas, not by a failure of its trial (see :func:`scinas.execution.task.train_recorded` for
what a trial's failures are); the worker then exits with :data:`EXIT_BUG`, and the coordinator
raises :class:`~scinas.errors.InternalError` (:meth:`JournalReader.raise_if_bug`): the run stops,
saved and resumable, and the trial stays ``running``, to be trained again once the bug is fixed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from scinas.errors import InternalError
from scinas.store import EpochRecord, RunStore, TrialRecord, TrialStatus
from scinas.store.records import current_trial_fields

__all__ = ["EXIT_BUG", "JOURNAL_FILE", "JournalReader", "TrialJournal"]

logger = logging.getLogger(__name__)

JOURNAL_FILE = "journal.jsonl"
_FINAL = ("complete", "fail")
#: The exit status of a worker stopped by a bug (sysexits' EX_SOFTWARE): its trial is not failed.
EXIT_BUG = 70


class TrialJournal:
    """A store-like writer for one trial (``trial_id`` and ``record`` are the coordinator's).

    Reads (``trial``, ``epochs``) answer from what this journal wrote, on top of ``record``,
    the trial's record in the coordinator's store when the worker started.
    """

    def __init__(self, path: Path, record: TrialRecord, epochs: tuple[EpochRecord, ...] = ()) -> None:
        self.path = path
        self.record = record
        self._epochs: dict[int, EpochRecord] = {epoch.epoch: epoch for epoch in epochs}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] | None = path.open("a", encoding="utf-8")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _write(self, op: str, **fields: Any) -> None:
        if self._handle is None:
            raise ValueError(f"the journal {self.path} is closed")
        self._handle.write(json.dumps({"op": op, **fields}) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    # -- the RunStore subset the trainer uses ----------------------------------------------------
    def start_trial(self, name: str, *, architecture: str, architecture_json: str | None = None,
                    number: int | None = None) -> TrialRecord:
        self._write("start", name=name, architecture=architecture, architecture_json=architecture_json)
        self.record = dataclasses.replace(self.record, status=TrialStatus.RUNNING, failure_reason=None,
                                          attempts=self.record.attempts + 1)
        return self.record

    def trial(self, name_or_id: str | int) -> TrialRecord | None:
        if name_or_id in (self.record.name, self.record.trial_id):
            return self.record
        return None

    def update_trial(self, trial_id: int, **fields: object) -> None:
        self._write("update", fields=fields)
        self._merge(fields)

    def complete_trial(self, trial_id: int, **fields: object) -> None:
        self._write("complete", fields=fields)
        self._merge(fields)
        self.record = dataclasses.replace(self.record, status=TrialStatus.COMPLETED)

    def fail_trial(self, trial_id: int, reason: str, **fields: object) -> None:
        self._write("fail", reason=str(reason), fields=fields)
        self._merge(fields)
        self.record = dataclasses.replace(self.record, status=TrialStatus.FAILED, failure_reason=str(reason))

    def record_epoch(self, record: EpochRecord) -> None:
        self._write("epoch", record={**dataclasses.asdict(record), "metrics": dict(record.metrics)})
        self._epochs[record.epoch] = record

    def epochs(self, trial_id: int) -> list[EpochRecord]:
        return [self._epochs[number] for number in sorted(self._epochs)]

    def truncate_epochs(self, trial_id: int, after: int) -> None:
        self._write("truncate", after=int(after))
        self._epochs = {number: epoch for number, epoch in self._epochs.items() if number <= after}

    def record_metrics(self, trial_id: int, split: str, values: Mapping[str, float], *,
                       epoch: int | None = None) -> None:
        self._write("metrics", split=str(split), values={str(k): float(v) for k, v in values.items()}, epoch=epoch)

    def internal_error(self, error: BaseException) -> None:
        """Record that a bug, not the trial, stopped this worker (``error`` with its traceback)."""
        self._write("internal_error", error=f"{type(error).__name__}: {error}",
                    traceback="".join(traceback.format_exception(error)))

    def _merge(self, fields: Mapping[str, object]) -> None:
        known = {f.name for f in dataclasses.fields(TrialRecord)}
        changes = {k: v for k, v in fields.items() if k in known and k != "extra"}
        if isinstance(fields.get("extra"), Mapping):
            changes["extra"] = {**self.record.extra, **fields["extra"]}  # type: ignore[dict-item]
        self.record = dataclasses.replace(self.record, **changes)  # type: ignore[arg-type]


class JournalReader:
    """Replays a trial's journal into the coordinator's store, from where it stopped last time."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self.offset = 0
        self.final = False
        #: ``(error, traceback)`` of an ``internal_error`` line: a bug stopped the worker.
        self.bug: tuple[str, str] | None = None

    def ingest(self, store: RunStore) -> bool:
        """Apply the whole lines written since the last call; True once a final line was applied."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return self.final
        end = data.rfind(b"\n")
        if end < 0:
            return self.final
        for line in data[:end + 1].splitlines():
            self.offset += len(line) + 1
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                logger.warning("%s: skipping an unreadable journal line", self.path)
                continue
            self._apply(store, entry)
        return self.final

    def raise_if_bug(self, log: Path | None = None) -> None:
        """Raise :class:`InternalError` when the worker wrote an ``internal_error`` line.

        The worker's traceback is logged here (so the run's log holds it); ``log`` is the
        worker's own log, named in the message.
        """
        if self.bug is None:
            return
        error, trace = self.bug
        logger.error("%s: the worker stopped on a bug, not a failed trial; its traceback:\n%s", self.name,
                     trace.rstrip())
        where = f"{self.path}" + (f" and {log}" if log is not None else "")
        raise InternalError(f"the worker of trial {self.name} stopped on an unexpected {error} (a bug in scinas "
                            f"or in a class registered from user code, not a failed trial; traceback in {where})")

    def _apply(self, store: RunStore, entry: Mapping[str, Any]) -> None:
        op = entry.get("op")
        if op == "internal_error":  # nothing to replay: the trial stays as it is (running)
            self.bug = (str(entry.get("error")), str(entry.get("traceback") or ""))
            return
        if op == "start":
            store.start_trial(self.name, architecture=entry["architecture"],
                              architecture_json=entry.get("architecture_json"))
            return
        record = store.trial(self.name)
        if record is None:
            raise ValueError(f"the journal {self.path} writes to trial {self.name}, which is not in the store")
        trial_id = record.trial_id
        fields = current_trial_fields(entry.get("fields") or {})  # lines written before a field was renamed
        if op == "truncate":
            store.truncate_epochs(trial_id, after=int(entry["after"]))
        elif op == "epoch":
            values = dict(entry["record"], trial_id=trial_id)
            store.record_epoch(EpochRecord(**values))
        elif op == "metrics":
            store.record_metrics(trial_id, entry["split"], entry["values"], epoch=entry.get("epoch"))
        elif op == "update":
            store.update_trial(trial_id, **fields)
        elif op == "complete":
            store.complete_trial(trial_id, **fields)
            self.final = True
        elif op == "fail":
            store.fail_trial(trial_id, str(entry.get("reason")), **fields)
            self.final = True
        else:
            logger.warning("%s: unknown journal entry %r", self.path, op)

    @staticmethod
    def ends_final(path: Path) -> bool:
        """Whether the journal at ``path`` holds a final (``complete``/``fail``) line."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return False
        for line in text.splitlines():
            try:
                if json.loads(line).get("op") in _FINAL:
                    return True
            except ValueError:
                continue
        return False
