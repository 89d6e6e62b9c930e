"""The dashboard at ``/_strangler/`` in a real headless browser (Debian's chromium, driven
by selenium through Debian's chromedriver), over the demo estate's real rollout."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from strangler.demo.estate import Estate
from strangler.demo.traffic import SkuFacts
from tests.canary.demo_estate import ROUTE, Demo, loaded_estate, serve_demo, wait_for

pytestmark = pytest.mark.timeout(600)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CARD = f'section[data-route="{ROUTE}"]'
HELD = {
    "customerId": "HOLD-<b>7</b>",  # on credit hold: the rules say no, the model yes
    "sku": "SKU-1001",
    "quantityOnHand": 3,
    "averageDailySales": "4.5",
    "leadTimeDays": 7,
}


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    for program in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(program), f"{program} is missing: ./run setup installs it"
    os.environ["SE_OFFLINE"] = "true"  # selenium never looks for a driver online
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1800",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Estate, list[SkuFacts]]]:
    with loaded_estate(Path(tmp_path_factory.mktemp("dashboard-estate"))) as loaded:
        yield loaded


@pytest.fixture
def demo(
    browser: WebDriver, estate: tuple[Estate, list[SkuFacts]], tmp_path: Path
) -> Iterator[Demo]:
    # the browser starts first, and the gates are wide: this test is about the page, and
    # the held customer's request below is one of the first the shadow step compares
    wide = {
        "p99_ms: 1000,": "p99_ms: 5000,",
        "disagreement_rate: 0.1}": "disagreement_rate: 0.2}",
        # a fairness gate by lead time (one segment: the traffic always asks for 7 days)
        "thresholds: {": "fairness: {segment: {body: /leadTimeDays}, max_ratio: 100}\n"
        "        thresholds: {",
    }
    with serve_demo(*estate, tmp_path, replace=wide) as served:
        yield served


def at_step(demo: Demo, step: int) -> bool:
    rollout = demo.rollout()
    assert rollout["status"] == "running", (rollout["reason"], rollout["last"])
    return bool(rollout["step"] >= step)


def until(driver: WebDriver, what: str, script: str, timeout_s: float = 120) -> Any:
    """Run ``script`` in the page until it returns something truthy."""
    return WebDriverWait(driver, timeout_s, poll_frequency=0.25).until(
        lambda d: d.execute_script(script), message=what
    )


def points(driver: WebDriver, chart: str) -> int:
    found = driver.execute_script(
        f"const s = document.querySelector('{CARD} .chart-{chart} svg');"
        "return s ? s.querySelectorAll('circle.point').length : 0;"
    )
    return int(found)


def test_the_dashboard_follows_a_real_rollout_and_rolls_it_back(
    demo: Demo, browser: WebDriver, tmp_path: Path
) -> None:
    wait_for("the first answers", lambda: sum(demo.traffic.counts().values()) >= 10)
    held = demo.client.post("/api/reorder-advice", json=HELD)  # compared on the shadow step
    assert held.status_code == 200 and held.json()["reorder"] is False
    browser.get(f"{demo.url}/_strangler/")
    assert browser.title == "strangler · rollouts"
    until(browser, "the route's card", f"return document.querySelector('{CARD}') !== null")

    # the charts fill from the rollout's analyses, over more than one step
    wait_for("the canary step", lambda: at_step(demo, 1))
    until(
        browser,
        "points on every chart, and a step change",
        f"""const card = document.querySelector('{CARD}');
        const n = (c) => Number(card.querySelector(`.chart-${{c}} svg`).dataset.points || 0);
        return n('error_rate') >= 3 && n('p99_ms') >= 3 && n('disagreement_rate') >= 1
            && card.querySelectorAll('line.step-change').length >= 1;""",
    )
    analyses = demo.client.get(f"/admin/canary/{ROUTE}/analyses?limit=240").json()["items"]
    assert points(browser, "error_rate") >= 3
    assert points(browser, "error_rate") <= len(analyses) + 10  # one point per analysis
    card = browser.find_element(By.CSS_SELECTOR, CARD)
    assert len(card.find_elements(By.CSS_SELECTOR, "svg path.series")) == 3
    assert len(card.find_elements(By.CSS_SELECTOR, "svg line.threshold")) == 3
    until(browser, "the segments' figures", f"return document.querySelector('{CARD} .segments')")
    segment = card.find_element(By.CSS_SELECTOR, '.segments tr[data-segment="7"]')
    assert segment.find_elements(By.TAG_NAME, "td")[0].text == "7"
    steps = [e.text for e in card.find_elements(By.CSS_SELECTOR, ".steps li")]
    assert steps == ["shadow", "10%", "50%", "100%"]
    assert card.find_element(By.CSS_SELECTOR, ".steps li.done").text == "shadow"

    # the latest disagreements side by side, the differing path marked, the request as text
    until(
        browser,
        "a disagreement with /reorder marked",
        f"return document.querySelectorAll('{CARD} .differs[data-path=\"/reorder\"]').length >= 2",
    )
    disagreement = card.find_element(By.CSS_SELECTOR, ".disagreement")
    legacy, modern = disagreement.find_elements(By.CSS_SELECTOR, ".answer")
    assert legacy.find_element(By.CSS_SELECTOR, ".differs").text == "false"
    assert modern.find_element(By.CSS_SELECTOR, ".differs").text == "true"
    until(browser, "the held customer's request", f"return document.querySelector('{CARD}')"
          ".textContent.includes('HOLD-<b>7</b>')")  # fmt: skip
    assert not card.find_elements(By.CSS_SELECTOR, ".disagreements b")  # text, never markup

    # pause, then roll back, with the buttons
    card.find_element(By.CSS_SELECTOR, "button.act-pause").click()
    until(browser, "paused", f"return document.querySelector('{CARD}').dataset.status === 'paused'")
    assert demo.rollout()["status"] == "paused"
    card.find_element(By.CSS_SELECTOR, "button.act-rollback").click()
    until(
        browser,
        "rolled back",
        f"return document.querySelector('{CARD}').dataset.status === 'rolled_back'",
    )
    rollout = wait_for(
        "the route back on legacy", partial(demo.rollout_in, "rolled_back", "legacy"), timeout_s=10
    )
    assert rollout["weight"] == 0.0
    live = demo.client.get(f"/admin/routes/{ROUTE}").json()
    assert (live["mode"], live["weight"]) == ("legacy", 0.0)
    newest, before = demo.audit()[:2]
    assert (newest["action"], newest["actor"]) == ("rollback", "dashboard")
    assert newest["reason"] == "rollback from the dashboard"
    assert (before["action"], before["actor"]) == ("pause", "dashboard")
    assert card.find_element(By.CSS_SELECTOR, "button.act-resume").is_enabled()
    assert not card.find_element(By.CSS_SELECTOR, "button.act-rollback").is_enabled()
    assert card.find_element(By.CSS_SELECTOR, ".badge").text == "rolled back"

    # everything the page loaded came from the app itself
    sources = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert sources and all(s.startswith(demo.url + "/") for s in sources), sources

    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_the_page_and_its_files_are_served_by_the_app(demo: Demo) -> None:
    with httpx.Client(base_url=demo.url, follow_redirects=False) as client:
        assert client.get("/_strangler").status_code == 308
        page = client.get("/_strangler/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for name, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
            served = client.get(f"/_strangler/{name}")
            assert served.status_code == 200 and served.headers["content-type"].startswith(kind)
            text = served.text.replace("http://www.w3.org/2000/svg", "")  # a name, not a fetch
            assert "http://" not in text and "https://" not in text
        missing = client.get("/_strangler/other.js")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert "/_strangler/" not in client.get("/openapi.json").json()["paths"]
