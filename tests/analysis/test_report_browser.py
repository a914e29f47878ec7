"""The report renders in a real browser: headless Chromium loads it and every figure decodes.

Needs the ``chromium`` binary (Debian package ``chromium``); skipped without it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from scinas.analysis.report import write_report
from tests.analysis.test_report import make_fixed_run, make_search_run

pytestmark = pytest.mark.slow

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Appended to a copy of the page (the report itself has no script): after loading, list every image
# with its decoded width, into an element that --dump-dom prints.
_CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images).map(img => ({figure: img.dataset.figure, complete: img.complete,
                                                          width: img.naturalWidth, height: img.naturalHeight}));
  const out = document.createElement("pre");
  out.id = "image-check";
  out.textContent = JSON.stringify(images);
  document.body.appendChild(out);
});
</script>"""


def _browser() -> str:
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium binary on PATH (install the Debian package `chromium` to run the browser check)")


def _chromium(browser: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--disable-dev-shm-usage", *arguments],
                          capture_output=True, text=True, timeout=180, check=False)


def _loaded_images(browser: str, report: Path, tmp_path: Path) -> list[dict[str, object]]:
    page = report.read_text(encoding="utf-8")
    check = report.with_name("report-check.html")
    check.write_text(page.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    result = _chromium(browser, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
                       "--dump-dom", check.as_uri())
    match = re.search(r'<pre id="image-check">(.*?)</pre>', result.stdout, re.S)
    assert match, f"the page did not finish loading in chromium: {result.stderr[-2000:]}"
    images: list[dict[str, object]] = json.loads(match.group(1).replace("&quot;", '"'))
    return images


@pytest.mark.parametrize("kind", ["search", "fixed"])
def test_every_figure_loads_in_headless_chromium(kind: str, tmp_path: Path) -> None:
    browser = _browser()
    run = (make_search_run if kind == "search" else make_fixed_run)(tmp_path / "run")
    result = write_report(run)
    images = _loaded_images(browser, result.html, tmp_path)
    assert sorted(str(image["figure"]) for image in images) == sorted(result.figures)
    for image in images:
        assert image["complete"] is True, image
        assert isinstance(image["width"], int) and image["width"] > 100, image
        assert isinstance(image["height"], int) and image["height"] > 100, image


def test_screenshot_of_the_report_is_not_blank(tmp_path: Path) -> None:
    from matplotlib.image import imread

    browser = _browser()
    result = write_report(make_search_run(tmp_path / "run"))
    shot = tmp_path / "report.png"
    completed = _chromium(browser, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
                          "--virtual-time-budget=10000", f"--screenshot={shot}", result.html.as_uri())
    assert shot.exists(), completed.stderr[-2000:]
    pixels = np.asarray(imread(shot))[..., :3]
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1200
    # a page with text and figures: many pixels are neither the page background nor white
    background = pixels[5, 5]
    differing = np.any(np.abs(pixels - background) > 0.05, axis=-1)
    assert differing.mean() > 0.05
    # the figures' colours (e.g. the red Pareto front, the blue learning curves) are on screen
    reds = (pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    assert reds.sum() > 50
