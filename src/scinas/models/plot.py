"""Drawings of a model's layer graph and of a cell, rendered with Graphviz's ``dot``.

Both are optional niceties: when the ``dot`` program is not installed, nothing is drawn.  A run
says so once (:func:`graphviz_note`, logged when it starts); each skipped drawing is only a
debug record (install Graphviz with ``apt-get install graphviz``, ``brew install graphviz`` or
``conda install graphviz``).

Example::

    plot_model_graph(model, trial_dir / "model.png")
    plot_cell(cell, trial_dir / "cell.png")
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import keras

from scinas.atomic import atomic_path, write_text_atomic
from scinas.search_space.cell import Cell
from scinas.search_space.darts_ops import darts_name
from scinas.search_space.genotype import Genotype

__all__ = ["cell_dot", "dot_program", "genotype_dot", "graphviz_note", "importance_dot", "plot_cell",
           "plot_genotype", "plot_importance", "plot_model_graph"]

logger = logging.getLogger(__name__)

_INSTALL_HINT = "install Graphviz (apt-get install graphviz, brew install graphviz or conda install graphviz)"


def dot_program() -> str | None:
    """The path of Graphviz's ``dot``, or ``None`` when it is not installed."""
    return shutil.which("dot")


def graphviz_note() -> str | None:
    """What a run without Graphviz says once, at its start; ``None`` when ``dot`` is installed."""
    if dot_program() is not None:
        return None
    return f"model and cell drawings are skipped: the Graphviz `dot` program is not installed; {_INSTALL_HINT}"


def _skip(what: str, path: Path) -> None:
    logger.debug("%s not drawn to %s: the Graphviz `dot` program is not installed", what, path)


def plot_model_graph(model: keras.Model, path: Path, *, dpi: int = 96) -> Path | None:
    """Draw ``model``'s layers with their shapes into ``path`` (PNG, SVG or PDF by suffix)."""
    if dot_program() is None:
        _skip("model graph", path)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    chatter = io.StringIO()  # pydot prints dot's complaints to stdout; they belong in the log
    try:
        with contextlib.redirect_stdout(chatter), atomic_path(path) as temporary:
            # "ortho" edges (Keras' default) crash some Graphviz versions on larger graphs
            keras.utils.plot_model(model, to_file=str(temporary), show_shapes=True, show_layer_names=True,
                                   dpi=dpi, splines="spline")
    except AssertionError:  # pydot's way of reporting that dot failed
        logger.warning("dot could not draw the graph of %s: %s", model.name, chatter.getvalue().strip())
        return None
    return path


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def cell_dot(cell: Cell) -> str:
    """The DOT text of ``cell``: lookback inputs, one node per operator, joins and the output."""
    lines = ["digraph cell {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=11];']
    for lookback in cell.used_lookbacks:
        lines.append(f'  in{-lookback} [label="input {lookback}", shape=box, style=filled, fillcolor="#dde8f5"];')
    for index, block in enumerate(cell.blocks):
        for side, (source, op) in enumerate(((block.in1, block.op1), (block.in2, block.op2))):
            node = f"b{index}s{side}"
            lines.append(f"  {node} [label={_quote(op)}, shape=box, style=rounded];")
            origin = f"in{-source}" if source < 0 else f"b{source}"
            lines.append(f"  {origin} -> {node};")
            lines.append(f"  {node} -> b{index};")
        lines.append(f'  b{index} [label="block {index}", shape=circle];')
    lines.append('  out [label="cell output", shape=box, style=filled, fillcolor="#f5e6d3"];')
    if cell.is_empty:  # the empty cell passes its input through
        lines.append('  in1 [label="input -1", shape=box, style=filled, fillcolor="#dde8f5"];')
        lines.append("  in1 -> out;")
    for index in cell.unused_blocks:
        lines.append(f"  b{index} -> out;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def genotype_dot(genotype: Genotype, kind: str) -> str:
    """The DOT text of a DARTS genotype's ``kind`` cell (``"normal"`` or ``"reduce"``), drawn as
    DARTS draws it: the inputs c_{k-2} and c_{k-1}, one node per intermediate node with its two
    operations on the edges, and the output c_{k} concatenating the nodes of the cell's concat."""
    lines = [f"digraph {kind} {{", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=10];',
             '  s0 [label="c_{k-2}", shape=box, style=filled, fillcolor="#dde8f5"];',
             '  s1 [label="c_{k-1}", shape=box, style=filled, fillcolor="#dde8f5"];']
    pairs = genotype.pairs(kind)
    for node in range(len(pairs) // 2):
        lines.append(f'  s{2 + node} [label="{node}", shape=circle, style=filled, fillcolor="#fff3c4"];')
        for op, source in pairs[2 * node: 2 * node + 2]:
            lines.append(f"  s{source} -> s{2 + node} [label={_quote(darts_name(op, genotype.rank))}];")
    lines.append('  out [label="c_{k}", shape=box, style=filled, fillcolor="#f5e6d3"];')
    lines.extend(f"  s{index} -> out;" for index in genotype.concat(kind))
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_genotype(genotype: Genotype, path: Path) -> list[Path]:
    """Draw both cells of ``genotype``: ``<stem>_normal<suffix>`` and ``<stem>_reduce<suffix>`` beside
    ``path`` (with their ``.dot`` sources); returns the drawings made."""
    drawn = []
    for kind in ("normal", "reduce"):
        target = path.with_name(f"{path.stem}_{kind}{path.suffix}")
        if _draw_dot(genotype_dot(genotype, kind), target, "cell") is not None:
            drawn.append(target)
    return drawn


def _shade(fraction: float) -> str:
    """A colour from green (0, low importance) through yellow to orange (1, high importance)."""
    stops = ((0x8f, 0xd1, 0x9e), (0xf7, 0xe3, 0x8c), (0xf5, 0x9a, 0x42))
    x = min(max(fraction, 0.0), 1.0) * (len(stops) - 1)
    low = min(int(x), len(stops) - 2)
    t = x - low
    rgb = (round(a + (b - a) * t) for a, b in zip(stops[low], stops[low + 1], strict=True))
    return "#" + "".join(f"{value:02x}" for value in rgb)


def importance_dot(labels: Sequence[str], edges: Sequence[tuple[int, int]], values: Sequence[float],
                   title: str) -> str:
    """The DOT text of a cell graph (nodes ``labels``, ``edges`` as index pairs) with each node
    filled by its importance ``values`` (green: the lowest of the graph, orange: the highest) and
    labelled with it."""
    if len(values) != len(labels):
        raise ValueError(f"importance_dot got {len(labels)} nodes but {len(values)} values")
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    span = high - low
    lines = ["digraph importance {", "  rankdir=TB;", f"  label={_quote(title)}; labelloc=t;",
             '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled"];']
    for node, (label, value) in enumerate(zip(labels, values, strict=True)):
        fraction = (value - low) / span if span > 0 else 0.5
        text = _quote(label)[:-1] + f'\\n{value:.3g}"'  # dot's \n: a line break in the label
        lines.append(f'  n{node} [label={text}, fillcolor="{_shade(fraction)}"];')
    lines.extend(f"  n{source} -> n{target};" for source, target in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def plot_importance(labels: Sequence[str], edges: Sequence[tuple[int, int]], values: Sequence[float], path: Path,
                    title: str) -> Path | None:
    """Draw :func:`importance_dot` into ``path`` (and its ``.dot`` beside it); ``None`` without Graphviz."""
    return _draw_dot(importance_dot(labels, edges, values, title), path, "importance graph")


def plot_cell(cell: Cell, path: Path) -> Path | None:
    """Draw ``cell`` into ``path`` (format from the suffix); also writes the ``.dot`` source beside it."""
    return _draw_dot(cell_dot(cell), path, "cell")


def _draw_dot(text: str, path: Path, what: str) -> Path | None:
    """Write the DOT ``text`` beside ``path`` and draw it into ``path`` when dot is installed."""
    program = dot_program()
    source = path.with_suffix(".dot")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(source, text)
    if program is None:
        _skip(what, path)
        return None
    fmt = path.suffix.lstrip(".") or "png"
    try:
        with atomic_path(path) as temporary:
            completed = subprocess.run([program, f"-T{fmt}", str(source), "-o", str(temporary)],
                                       capture_output=True, text=True, check=False, timeout=60)
            if completed.returncode != 0:
                raise _NotDrawn(completed.stderr.strip())
    except _NotDrawn as exc:
        logger.warning("dot could not draw %s: %s", path, exc)
        return None
    return path


class _NotDrawn(Exception):
    """dot failed; raised inside the atomic write so that nothing replaces ``path``."""
