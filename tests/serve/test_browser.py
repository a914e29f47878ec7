"""The dashboard in a real browser (Debian's headless Chromium driven by Selenium): start a tiny search
from the page, watch its trials appear, stop it, resume it, and check that the charts were drawn."""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SERIES_DATA, TINY_SEARCH, ConfigWriter
from tests.serve.conftest import Client, Serve

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver")

NO_BROWSER = DRIVER is None or not Path(CHROMIUM).exists()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(NO_BROWSER, reason="needs chromium and chromedriver")]
COMPLETED_ROWS = (
    "return [...document.querySelectorAll('#trials tbody tr')].filter(r => r.textContent.includes('completed')).length"
)

#: Pixels drawn (alpha > 0) on the plotting canvas of the chart inside ``selector``.
PAINTED = """
const canvas = document.querySelector(arguments[0] + ' canvas');
if (!canvas) return 0;
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let painted = 0;
for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
return painted;
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1600",
        "--disable-gpu",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 300.0, driver: Any = None) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what`` (and the page's state)
    after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # the page may be between two renders
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.25)
    page = ""
    if driver is not None:
        page = "; page: " + repr(
            driver.execute_script(
                "return [location.href, document.querySelector('#summary')?.textContent, document.body.dataset.polls,"
                " document.querySelector('#action-message')?.textContent,"
                " document.querySelector('#trials tbody')?.textContent.slice(0, 300)]"
            )
        )
        page += "; console: " + repr(driver.get_log("browser"))
    raise AssertionError(f"timed out waiting for {what} (last: {last!r}){page}")


#: How long one press of stop may take to show the run interrupted.  The run raises the interrupt at
#: the next training batch, predictor epoch or trial-loop pass (well under a second here, also between
#: two search steps), writes its status and CSVs (its process ends 5-7 s after the signal on a loaded
#: 2-core machine), and the page polls every second: 30 s leaves room for a slow CI machine and is far
#: below the minutes an ignored stop ran on.
STOP_WITHIN_S = 30.0


def _stop(driver: Any) -> float:
    """Press stop once; the seconds until the page shows the run interrupted (fails after STOP_WITHIN_S)."""
    driver.find_element("id", "stop-run").click()
    pressed = time.monotonic()
    wait_for(lambda: _status(driver) == "interrupted", "the run to be interrupted", STOP_WITHIN_S, driver)
    return time.monotonic() - pressed


def _fitted_trial(client: Client, api: str) -> int | None:
    """The id of a trial whose learning curve was fitted (the API draws it), if any yet."""
    for trial in client.get(f"{api}/trials").json()["columns"]["id"]:
        if client.get(f"{api}/trials/{trial}/fit").json()["value"]:
            return int(trial)
    return None


def _painted(driver: Any, selector: str) -> bool:
    return bool(driver.execute_script(PAINTED, selector) > 200)


def _status(driver: Any) -> str:
    """The run's status, the first word of the page's summary."""
    return _text(driver, "#summary").split("·")[0].strip()


def _text(driver: Any, selector: str) -> str:
    return str(driver.execute_script(f"return document.querySelector('{selector}')?.textContent || ''"))


def test_start_watch_stop_and_resume_a_search_from_the_browser(
    serve: Serve, write_config: ConfigWriter, tmp_path: Path, browser: Any
) -> None:
    config = write_config(TINY_SEARCH, SERIES_DATA)
    results = tmp_path / "results"
    client = serve(results, config_dir=config)
    base = f"http://127.0.0.1:{client.port}"
    browser.get(base + "/")
    wait_for(
        lambda: browser.execute_script("return document.querySelector('#experiment').options.length"),
        "the experiment list",
    )
    assert "No runs" in _text(browser, "#runs-note") or "does not exist" in _text(browser, "#runs-note")
    # a bad override shows the command line's message in the page
    browser.find_element("id", "overrides").send_keys("EPOCHS=3")
    browser.find_element("id", "start-button").click()
    error = wait_for(lambda: _text(browser, "#start-error"), "the validation message", 30)
    assert "unknown setting 'EPOCHS=3'" in error
    overrides = browser.find_element("id", "overrides")
    overrides.clear()
    # learning-curve early termination, so that trials carry a fitted curve for the page to draw
    overrides.send_keys("P.training.epochs=40\nP.training.early_termination.min_epochs=4\n"
                        "P.training.early_termination.tolerance=20")
    browser.find_element("id", "start-button").click()
    link = wait_for(lambda: browser.execute_script("return document.querySelector('#runs a')?.href"), "the new run")
    browser.get(link)
    wait_for(lambda: browser.execute_script("return document.body.dataset.rendered"), "the run page")
    wait_for(lambda: "completed" in _text(browser, "#trials tbody"), "a completed trial", driver=browser)
    # stop: a clean interrupt, the run stays resumable
    wait_for(lambda: browser.find_element("id", "stop-run").is_displayed(), "the stop button", 30)
    # stop once, whatever the run is doing (it may be between two search steps): one press is enough
    print(f"first stop shown after {_stop(browser):.1f} s")
    done_before = browser.execute_script(COMPLETED_ROWS)
    # resume: the run goes on in the same folder and more trials complete
    wait_for(lambda: browser.find_element("id", "resume-run").is_displayed(), "the resume button", 30)
    browser.find_element("id", "resume-run").click()
    wait_for(lambda: _status(browser) == "running", "the resumed run", 120, browser)
    wait_for(
        lambda: browser.execute_script(COMPLETED_ROWS) > done_before,
        "a trial completed after the resume",
        driver=browser,
    )
    # the charts were drawn
    for selector in ("#pareto", "#hypervolume", "#curve"):
        assert wait_for(functools.partial(_painted, browser, selector), f"pixels in {selector}", 30)
    # a trial that early termination stopped: its chart holds the fitted curve (named in its legend)
    api = "/api" + link.split(base, 1)[1]
    fitted = wait_for(functools.partial(_fitted_trial, client, api), "a trial with a fitted curve", 300, browser)
    browser.execute_script("document.querySelector(`#trials tbody tr[data-id='${arguments[0]}']`).click()", fitted)
    wait_for(lambda: "fitted shifted_exponential" in _text(browser, "#curve .u-legend"),
             "the fitted curve in the learning-curve chart", 60, browser)
    if _status(browser) == "running":  # leave no run behind (the resumed search may have ended already)
        print(f"second stop shown after {_stop(browser):.1f} s")
