"""One-line descriptions of experiments for ``scinas list``."""

from __future__ import annotations

from scinas.config.loading import RawConfig
from scinas.errors import ConfigError

__all__ = ["describe_experiment"]


def describe_experiment(raw: RawConfig, name: str) -> str:
    """``description`` (inherited through ``extends``) and the dataset it trains on."""
    try:
        table = raw.experiment_table(name)
    except ConfigError as exc:
        return f"(invalid: {exc.problem})"
    description = table.get("description", "")
    dataset = table.get("dataset", {}).get("training") if isinstance(table.get("dataset"), dict) else None
    suffix = f" [data: {dataset}]" if dataset else ""
    return f"{description}{suffix}" if description else suffix.strip()
