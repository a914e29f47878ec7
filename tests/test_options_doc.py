"""docs/options.md is generated from the classes: it must match what they declare now."""

from __future__ import annotations

from pathlib import Path

from scinas.options_doc import main, render

DOC = Path(__file__).resolve().parents[1] / "docs" / "options.md"


def test_the_committed_options_reference_is_current() -> None:
    assert DOC.read_text() == render(), "docs/options.md is stale: PYTHONPATH=src python -m scinas.options_doc > " \
                                        "docs/options.md"


def test_every_strategy_option_is_documented() -> None:
    text = render()
    for key in ("population_size", "max_exploration_children", "svr_growth", "front_min_gain", "predictor",
                "cost_predictor", "poll_seconds", "tracking_uri"):
        assert f"| `{key}` |" in text


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "options.md"
    stale.write_text("old\n")
    assert main(["--check", str(stale)]) == 1
    stale.write_text(render())
    assert main(["--check", str(stale)]) == 0
