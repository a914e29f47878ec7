"""Runs trials one after the other in this process, clearing the Keras session between them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from scinas.errors import ConfigError, TrialFailed
from scinas.execution.base import Executor
from scinas.search.base import TrialOutcome, TrialRequest
from scinas.store import RunStore
from scinas.training.trainer import Trainer

__all__ = ["InlineExecutor"]

logger = logging.getLogger(__name__)


class InlineExecutor(Executor):
    """Trains each trial in the calling process; folders are ``<trials_dir>/<trial name>``."""

    def __init__(self, trainer: Trainer, store: RunStore, trials_dir: Path) -> None:
        self.trainer = trainer
        self.store = store
        self.trials_dir = trials_dir

    def run(self, requests: Sequence[TrialRequest]) -> list[TrialOutcome]:
        outcomes = []
        for request in requests:
            outcomes.append(self._run_one(request))
        return outcomes

    def _run_one(self, request: TrialRequest) -> TrialOutcome:
        reason: str | None = None
        try:
            return self.trainer.train(request, self.trials_dir / request.name)
        except TrialFailed as exc:
            reason = exc.reason
        except tf.errors.ResourceExhaustedError as exc:
            reason = f"out of memory: {exc.message.splitlines()[0] if exc.message else exc}"
        except ConfigError as exc:
            reason = f"the model could not be built: {exc}"
        except (tf.errors.InvalidArgumentError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        finally:
            keras.backend.clear_session()
        record = self.store.trial(request.name)
        if record is not None:
            self.store.fail_trial(record.trial_id, reason)
        logger.error("%s failed: %s", request.name, reason)
        return TrialOutcome(request.name, completed=False)
