"""The XFEL preview: a PNG grid of patterns (conformations × orientations, intensities), and its command."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scinas.analysis.xfel_preview import preview_patterns, write_preview
from scinas.cli import main
from scinas.errors import ConfigError
from tests.conftest import TINY_DATA, ConfigWriter
from tests.data.xfel_fixtures import parameters, write_molecules


def test_the_preview_is_a_png_grid(tmp_path: Path) -> None:
    p = parameters(tmp_path / "pdb")
    result = write_preview(tmp_path / "out" / "grid.png", p, seed=3, per_class=2, dpi=50)
    assert result.grid == (4, 3) and result.row_labels == ("open #1", "open #2", "closed #1", "closed #2")
    with Image.open(result.path) as image:
        assert image.format == "PNG" and image.size == (round(50 * (2.2 * 3 + 0.6)), round(50 * (2.2 * 4 + 0.5)))
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # something was drawn
    fractions = [result.lit_fractions[i] for i in (1e14, 1e15, 1e16)]
    assert fractions == sorted(fractions) and fractions[0] < fractions[-1]


def test_one_orientation_per_row_across_intensities(tmp_path: Path) -> None:
    p = parameters(tmp_path / "pdb")  # a molecule of 40 atoms: it takes a bright beam to see it
    patterns, rows = preview_patterns(p, seed=1, per_class=1, intensities=(1e19, 1e20))
    assert patterns.shape == (2, 2, 33, 33) and rows == ["open #1", "closed #1"]
    # the same orientation at 10x the fluence: about 10x the photons, in the same places
    assert patterns[:, 1].sum() == pytest.approx(10 * patterns[:, 0].sum(), rel=0.02)
    assert np.corrcoef(patterns[0, 0].ravel(), patterns[0, 1].ravel())[0, 1] > 0.9
    with pytest.raises(ConfigError, match="positive"):
        preview_patterns(p, intensities=(1e15, 0.0))


def test_the_command_line(write_config: ConfigWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = write_molecules(tmp_path / "pdb")
    data = f"""
    [x15]
    generator = "xfel"
    [x15.parameters]
    conformations = ["{paths[0]}", "{paths[1]}"]
    n_pixels = 33
    pixel_size = 0.0023
    beam_stop_radius = 4
    [x15.shape]
    n_samples = 12
    """
    folder = write_config(data=TINY_DATA + textwrap.dedent(data))
    out = tmp_path / "preview.png"
    code = main(["xfel", "preview", "--out", str(out), "--seed", "2", "--per-class", "1", "--intensities", "1e15",
                 "1e16", "--dataset", "x15", "--config-dir", str(folder), "-q"])
    assert code == 0 and out.exists()
    assert "2 x 2 patterns" in capsys.readouterr().out
    assert main(["xfel", "preview", "--dataset", "tiny", "--config-dir", str(folder), "--out", str(out)]) == 2
    assert "not xfel" in capsys.readouterr().err
    assert main(["xfel"]) == 2
