"""``[X.execution.slurm]``: the options of the Slurm executor, declared once.

Kept apart from :mod:`scinas.execution.slurm` so that planning reads and checks them without
importing what running jobs needs.

Example ``configurations.toml``::

    [A.execution]
    executor = "slurm"

    [A.execution.slurm]
    partition = "gpu"
    gpus_per_trial = 1
    sbatch_options = ["--qos=normal", "--constraint=a100"]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from scinas.configurable import option
from scinas.errors import ConfigError

__all__ = ["SlurmConfig", "check_log_folder"]


def check_log_folder(folder: str) -> None:
    """``log_folder`` is a relative path that stays inside the run folder.

    The folder holds submitit's pickled job payloads, so it must not be a shared or another
    user's place: an absolute path or a ``..`` that climbs out of the run folder is refused.
    """
    parts = PurePath(folder).parts
    if folder and not PurePath(folder).is_absolute() and ".." not in parts and parts not in ((), (".",)):
        return
    raise ConfigError("expected a relative path inside the run folder (no absolute path, no '..'): it holds "
                      "the jobs' payloads, which must stay in the owner-only run folder", path="log_folder",
                      value=folder, fix='use a folder name such as log_folder = "slurm" (the default)')


@dataclass(frozen=True)
class SlurmConfig:
    """``[X.execution.slurm]``: the resources of one trial's Slurm job and how failures are retried."""

    partition: str | None = option(None, doc="the partition (default: the cluster's)")
    account: str | None = option(None, doc="the account charged (default: the cluster's)")
    gpus_per_trial: int = option(0, minimum=0, doc="GPUs of one trial's job")
    cpus_per_trial: int = option(1, minimum=1, doc="CPUs of one trial's job")
    mem_gb: float | None = option(None, minimum=0.001, doc="memory of one trial's job, in GB (default: the "
                                  "cluster's)")
    time_minutes: int = option(60, minimum=1, doc="time limit of one trial's job")
    sbatch_options: tuple[str, ...] = option((), doc='further long sbatch options, each "--name=value"')
    max_retries: int = option(0, minimum=0, doc="resubmissions of a preempted or failed job")
    log_folder: str = option("slurm", doc="submitit's job folder, relative to the run folder")
    poll_seconds: float = option(2.0, minimum=0.05, doc="how often job states are read")

    def check(self) -> None:
        check_log_folder(self.log_folder)
        for key in ("partition", "account"):
            if getattr(self, key) == "":
                raise ConfigError("expected a non-empty string", path=key, value="",
                                  fix=f"remove {key} to use the cluster's default")
        for index, item in enumerate(self.sbatch_options):
            if not item.startswith("--"):
                raise ConfigError(f"option {index} ({item!r}) is not a long sbatch option", path="sbatch_options",
                                  value=list(self.sbatch_options), fix='write each as "--name=value", e.g. '
                                  '"--qos=normal"')
