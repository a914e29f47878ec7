"""``python -m scinas``: the command line (the same as the ``scinas`` command)."""

from __future__ import annotations

import sys

from scinas.cli import main

if __name__ == "__main__":
    sys.exit(main())
