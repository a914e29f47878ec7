"""What a run store tells its listeners after each committed write.

``store.add_listener(listener)`` registers a :data:`StoreListener`; it receives a
:class:`StoreEvent` after each committed trial start, epoch, evaluation, completion or failure,
whoever made the write (see :mod:`scinas.store.sqlite`).  Trackers and the console display
follow a run this way without the store knowing them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from scinas.store.records import EpochRecord, Split, TrialRecord

__all__ = ["StoreEvent", "StoreEventKind", "StoreListener"]


class StoreEventKind(StrEnum):
    """What a committed write did (see :class:`StoreEvent`)."""

    TRIAL_STARTED = "trial_started"
    EPOCH_RECORDED = "epoch_recorded"
    METRICS_RECORDED = "metrics_recorded"
    TRIAL_COMPLETED = "trial_completed"
    TRIAL_FAILED = "trial_failed"


@dataclass(frozen=True)
class StoreEvent:
    """One committed write, as listeners see it.

    ``trial`` is the trial's record right after the write (for ``trial_completed`` and
    ``trial_failed`` it holds the final fields).  ``epoch`` is the recorded epoch
    (``epoch_recorded``); ``split``, ``values`` and ``metrics_epoch`` are the evaluation metrics
    of ``metrics_recorded`` (``metrics_epoch`` ``None`` for the final evaluation).
    """

    kind: StoreEventKind
    trial: TrialRecord
    epoch: EpochRecord | None = None
    split: Split | None = None
    values: Mapping[str, float] = field(default_factory=dict)
    metrics_epoch: int | None = None


#: A callable notified of every :class:`StoreEvent` (see :meth:`RunStore.add_listener`).
StoreListener = Callable[[StoreEvent], None]
