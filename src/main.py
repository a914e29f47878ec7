"""Entry point kept for users of the seed project: ``python src/main.py CONFIGS='E A'``.

Plain names (``python src/main.py E A``), overrides (``E.training.epochs=2``) and every option
of ``scinas run`` work too; ``python src/main.py list`` lists experiments and datasets.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scinas.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], default_command="run"))
