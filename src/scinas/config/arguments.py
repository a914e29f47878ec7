"""Command-line arguments shared by ``scinas run`` and the dashboard's start form.

:func:`split_arguments` separates experiment names from ``KEY=VALUE`` overrides exactly as
``scinas run`` reads them, so a run started from ``scinas serve`` is checked like one started
in a terminal.

Example::

    split_arguments(["A", "A.training.epochs=2"])      # (["A"], ["A.training.epochs=2"])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from scinas.errors import ConfigError

__all__ = ["split_arguments"]


def split_arguments(items: Sequence[str], environ: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Separate experiment names from ``KEY=VALUE`` overrides.

    ``CONFIGS='E A'`` adds names; ``E.training.epochs=2`` is an override; with no names at all,
    the ``CONFIGS`` environment variable supplies them (containers).
    """
    names: list[str] = []
    overrides: list[str] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            names.append(item)
        elif key.strip().upper() == "CONFIGS":
            names.extend(value.replace(",", " ").split())
        elif "." in key:
            overrides.append(item)
        else:
            raise ConfigError(
                f"unknown setting {item!r}",
                file="command line",
                fix="use CONFIGS='E A' for experiment names or a dotted override such as E.training.epochs=2",
            )
    if not names:
        environ = os.environ if environ is None else environ
        names = environ.get("CONFIGS", "").replace(",", " ").split()
    return names, overrides
