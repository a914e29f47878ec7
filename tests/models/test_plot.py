"""Drawings of models and cells: DOT text by hand, PNGs when Graphviz is there, a note per run when not."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import keras
import pytest

from scinas.models import plot
from scinas.search_space.cell import Cell


def _model() -> keras.Model:
    inputs = keras.Input((6, 2))
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)), name="tiny")


def test_cell_dot_wires_inputs_operators_blocks_and_output() -> None:
    text = plot.cell_dot(Cell.from_text("[(-2, 3x3 conv, -1, 2x2 maxpool); (0, identity, -1, 3x3 dconv)]"))
    assert text.startswith("digraph cell {") and text.rstrip().endswith("}")
    for edge in ("in1 -> b0s0", "in2 -> b0s1", "b0 -> b1s0", "b1 -> out"):
        assert edge in text, text
    assert "b0 -> out" not in text  # block 0 is read by block 1, so it is not concatenated
    assert '"3x3 conv"' in text and 'label="input -2"' in text


def test_the_empty_cell_passes_its_input_to_the_output() -> None:
    assert "in1 -> out" in plot.cell_dot(Cell.from_text("[]"))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_drawings_are_written_when_dot_is_installed(tmp_path: Path) -> None:
    assert plot.plot_model_graph(_model(), tmp_path / "model.png") == tmp_path / "model.png"
    assert plot.plot_cell(Cell.from_text("[(-1, 3x3 conv, -1, 2x2 maxpool)]"), tmp_path / "cell.svg") is not None
    assert (tmp_path / "model.png").read_bytes()[:4] == b"\x89PNG"
    assert "<svg" in (tmp_path / "cell.svg").read_text()


def test_without_dot_nothing_is_drawn_and_the_note_is_left_to_the_run(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(plot, "dot_program", lambda: None)
    with caplog.at_level(logging.DEBUG, logger="scinas.models.plot"):
        assert plot.plot_model_graph(_model(), tmp_path / "model.png") is None
        assert plot.plot_cell(Cell.from_text("[(-1, 3x3 conv, -1, 2x2 maxpool)]"), tmp_path / "cell.png") is None
    assert not (tmp_path / "model.png").exists() and not (tmp_path / "cell.png").exists()
    assert (tmp_path / "cell.dot").exists()  # the source is kept: render it elsewhere
    assert [record.levelno for record in caplog.records] == [logging.DEBUG, logging.DEBUG]  # per drawing: debug
    note = plot.graphviz_note()  # what the run says once
    assert note is not None and "install Graphviz" in note and "apt-get install graphviz" in note


def test_no_note_when_dot_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plot, "dot_program", lambda: "/usr/bin/dot")
    assert plot.graphviz_note() is None


def test_a_saved_cell_model_loads_in_a_fresh_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    from scinas.data.base import DatasetInfo
    from scinas.models.cell_network import CellNetworkGenerator
    from scinas.search_space.architecture import CellArchitecture
    from scinas.search_space.macro import MacroConfig

    info = DatasetInfo("d", "classification", (9, 3), (), {"train": 4, "validation": 0, "test": 0}, n_classes=3)
    architecture = CellArchitecture(Cell.from_text("[(-1, 3 conv, -1, 2 maxpool)]"),
                                    MacroConfig(filters=4, motifs=1, normal_cells_per_motif=1))
    model = CellNetworkGenerator().build(architecture, info)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(tmp_path / "m.keras")
    code = ("from scinas.models.saving import load_model; "
            f"m = load_model({str(tmp_path / 'm.keras')!r}); print(m.count_params())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str(model.count_params())


def _fake_dot(tmp_path: Path, script: str) -> str:
    program = tmp_path / "fake-dot"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(0o755)
    return str(program)


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_a_cell_drawing_replaces_the_file_atomically_or_not_at_all(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cell = Cell.from_text("[(-1, 3x3 conv, -1, 2x2 maxpool)]")
    out = tmp_path / "out"
    # a dot that writes its -o argument (the last one): the drawing lands under the final name
    monkeypatch.setattr(plot, "dot_program", lambda: _fake_dot(tmp_path, 'for a; do last="$a"; done\n'
                                                                         'echo drawn > "$last"\n'))
    assert plot.plot_cell(cell, out / "cell.png") == out / "cell.png"
    assert (out / "cell.png").read_text() == "drawn\n"
    # a dot that fails after writing half a file: the old drawing stays, no temporary is left
    monkeypatch.setattr(plot, "dot_program", lambda: _fake_dot(tmp_path, 'for a; do last="$a"; done\n'
                                                                         'echo half > "$last"; exit 1\n'))
    assert plot.plot_cell(cell, out / "cell.png") is None
    assert (out / "cell.png").read_text() == "drawn\n"
    assert sorted(p.name for p in out.iterdir()) == ["cell.dot", "cell.png"]


def test_importance_dot_colours_nodes_from_the_lowest_to_the_highest() -> None:
    labels, edges = ["-1", "3x3 conv", 'a "quoted" op', "join"], [(0, 1), (0, 2), (1, 3), (2, 3)]
    text = plot.importance_dot(labels, edges, [0.5, 1.5, 1.0, 0.9], "hop 1")
    assert 'n0 [label="-1\\n0.5", fillcolor="#8fd19e"]' in text  # the lowest: green
    assert 'n1 [label="3x3 conv\\n1.5", fillcolor="#f59a42"]' in text  # the highest: orange
    assert 'n2 [label="a \\"quoted\\" op\\n1", fillcolor="#f7e38c"]' in text  # half-way: yellow
    assert all(f"n{a} -> n{b};" in text for a, b in edges) and 'label="hop 1"' in text
    equal = plot.importance_dot(labels[:2], edges[:1], [1.0, 1.0], "flat")
    assert equal.count('fillcolor="#f7e38c"') == 2  # no spread: every node mid-scale
    with pytest.raises(ValueError, match="4 nodes but 3 values"):
        plot.importance_dot(labels, edges, [1.0, 2.0, 3.0], "x")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_the_importance_graph_is_drawn(tmp_path: Path) -> None:
    drawn = plot.plot_importance(["-1", "identity"], [(0, 1)], [0.2, 0.4], tmp_path / "hop0.png", "hop 0")
    assert drawn == tmp_path / "hop0.png" and drawn.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "hop0.dot").is_file()
