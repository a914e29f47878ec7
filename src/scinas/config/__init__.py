"""Configuration: strict TOML loading, ``extends``, command-line overrides and typed schemas."""

from scinas.config.reader import Table, suggest

__all__ = ["Table", "suggest"]
