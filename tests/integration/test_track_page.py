"""The carrier page in a real headless Chromium (Debian's), on the simulated month.

The API runs under uvicorn on a free port of 127.0.0.1 against the month's database; a
carrier signs in with its key and the tests read what a person sees: the state and ETA
of its consignments, the trucks on the map, the timeline, and nothing of another
carrier's. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from corridor.model import ConsignmentState
from corridor.reference import load_reference
from services.api.app import create_app
from services.api.routes.track_page import when
from services.api.settings import ApiSettings
from services.common.eta import CachedEtaStatistics
from services.common.keys import Role
from services.ingest.in_memory import InMemoryKeyStore
from simulator import SimulationResult
from simulator.truth import GroundTruth
from storage.db import create_pool
from storage.queries.api import ApiQueries
from storage.queries.eta import EtaQueries

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path("/usr/bin/chromedriver").exists(),
        reason="needs Debian's chromium and chromium-driver (scripts/bootstrap.sh installs them)",
    ),
]

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
UNDER_WAY = {ConsignmentState.IN_TRANSIT, ConsignmentState.AT_LOCATION}
Sample = tuple[SimulationResult, list[Any]]


@dataclass
class Site:
    base: str
    keys: dict[str, str]
    truth: GroundTruth

    def status(self, carrier: str, consignment_id: str) -> Any:
        response = httpx.get(
            f"{self.base}/v1/consignments/{consignment_id}",
            headers={"Authorization": f"Bearer {self.keys[carrier]}"},
        )
        assert response.status_code == 200
        return response.json()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(populated_database_url: str, sample_run: Sample) -> Iterator[Site]:
    truth = sample_run[0].truth
    store = InMemoryKeyStore()
    keys = {c.carrier_id: "" for c in truth.consignments.values()}
    for carrier in keys:
        keys[carrier] = store.add(carrier, Role.CARRIER, carrier_id=carrier)
    keys["operator"] = store.add("ops", Role.OPERATOR)
    port = _free_port()
    holder: dict[str, uvicorn.Server] = {}

    async def serve() -> None:
        async with create_pool(populated_database_url, min_size=1, max_size=4) as pool:
            app = create_app(
                ApiSettings(database_url=populated_database_url),
                reads=ApiQueries(pool),
                key_store=store,
                reference=load_reference(),
                now=lambda: truth.end,
                eta_statistics=CachedEtaStatistics(EtaQueries(pool), ttl=600),
            )
            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
            holder["server"] = server = uvicorn.Server(config)
            await server.serve()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.1)
    yield Site(base, keys, truth)
    holder["server"].should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="track-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1400",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def busiest_carrier(truth: GroundTruth) -> str:
    counts: dict[str, int] = {}
    for c in truth.consignments.values():
        if c.state in UNDER_WAY:
            counts[c.carrier_id] = counts.get(c.carrier_id, 0) + 1
    return max(counts, key=lambda carrier: counts[carrier])


def sign_in(browser: webdriver.Chrome, site: Site, key: str) -> None:
    browser.get(f"{site.base}/track")
    browser.find_element(By.ID, "key").send_keys(key)
    submit(browser, browser.find_element(By.ID, "sign-in"))


def submit(browser: webdriver.Chrome, button: WebElement) -> None:
    """Clicks and waits for the next page, so no element of this one is read after."""
    button.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))


def shot(browser: webdriver.Chrome, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(max(int(height), 800), 4000))
    browser.save_screenshot(str(SCREENSHOTS / name))


def test_a_wrong_key_is_refused_and_a_carrier_sees_its_consignments_state_and_eta(
    browser: webdriver.Chrome, site: Site
) -> None:
    sign_in(browser, site, "mck_not_a_key")
    assert browser.find_element(By.CSS_SELECTOR, ".error").text == (
        "That is not an active carrier key."
    )
    sign_in(browser, site, site.keys["operator"])  # an operator is no carrier
    assert "not an active carrier key" in browser.find_element(By.CSS_SELECTOR, ".error").text
    shot(browser, "track-signin.png")

    carrier = busiest_carrier(site.truth)
    sign_in(browser, site, site.keys[carrier])
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your consignments"
    mine = {
        c.consignment_id: c for c in site.truth.consignments.values() if c.carrier_id == carrier
    }
    rows = browser.find_elements(By.CSS_SELECTOR, "#consignments tbody tr")
    shown = {row.get_attribute("data-consignment"): row for row in rows}
    assert set(shown) == set(mine)
    estimated = 0
    for consignment_id, truth in mine.items():
        cells = shown[consignment_id].find_elements(By.TAG_NAME, "td")
        assert cells[1].text == truth.state.value.replace("_", " ")
        eta = site.status(carrier, consignment_id)["eta"]
        if eta is None:
            assert cells[3].text == "–"
        elif eta["arrival_p50"]:
            expected = when(datetime.fromisoformat(eta["arrival_p50"]))
            assert cells[3].text.startswith(expected), consignment_id
            estimated += 1
        else:
            assert cells[3].text == f"no estimate: {eta['reason']}"
    assert estimated >= 1
    shot(browser, "track-consignments.png")


def test_the_map_marks_each_of_the_carriers_trucks_on_its_way_and_nobody_elses(
    browser: webdriver.Chrome, site: Site
) -> None:
    carrier = busiest_carrier(site.truth)
    browser.get(f"{site.base}/track")
    markers = browser.find_elements(By.CSS_SELECTOR, "#corridor-map g.truck")
    marked = {m.get_attribute("data-consignment") for m in markers}
    on_the_way = {
        c.consignment_id
        for c in site.truth.consignments.values()
        if c.carrier_id == carrier and c.state in UNDER_WAY and c.stays
    }
    assert marked == on_the_way
    places = browser.find_elements(By.CSS_SELECTOR, "#corridor-map g.place")
    assert len(places) == len(load_reference().locations)
    others = {c.consignment_id for c in site.truth.consignments.values() if c.carrier_id != carrier}
    page = browser.page_source
    assert not [cid for cid in others if re.search(rf"\b{re.escape(cid)}\b", page)]


def test_a_consignment_page_shows_eta_clearance_and_timeline(
    browser: webdriver.Chrome, site: Site
) -> None:
    carrier = busiest_carrier(site.truth)
    waiting = [
        c
        for c in site.truth.consignments.values()
        if c.carrier_id == carrier and c.state is ConsignmentState.AT_LOCATION
    ]
    chosen = max(waiting, key=lambda c: len(c.stays))
    browser.get(f"{site.base}/track/consignments/{chosen.consignment_id}")
    assert browser.find_element(By.ID, "state").text == "at location"
    assert browser.find_element(By.ID, "location").text == chosen.current_location
    eta = site.status(carrier, chosen.consignment_id)["eta"]
    shown_eta = browser.find_element(By.ID, "eta").text
    if eta["arrival_p50"]:
        assert shown_eta.startswith(when(datetime.fromisoformat(eta["arrival_p50"])))
        stops = browser.find_elements(By.CSS_SELECTOR, "#stops tbody tr")
        assert [s.find_element(By.TAG_NAME, "td").text for s in stops] == [
            s["location"] for s in eta["remaining_stops"]
        ]
    else:
        assert shown_eta == f"no estimate: {eta['reason']}"
    assert browser.find_element(By.ID, "clearance").text.startswith(
        f"At {chosen.current_location} for"
    )
    timeline = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    assert [row.find_element(By.TAG_NAME, "td").text for row in timeline] == [
        s.location for s in chosen.stays
    ]
    crossings = browser.find_elements(By.CSS_SELECTOR, "#crossings tbody tr")
    assert len(crossings) == max(1, len(chosen.crossings))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#corridor-map g.truck")) == 1
    shot(browser, "track-consignment.png")


def test_another_carriers_consignment_is_not_found_and_the_cookie_is_strict(
    browser: webdriver.Chrome, site: Site
) -> None:
    carrier = busiest_carrier(site.truth)
    foreign = next(c for c in site.truth.consignments.values() if c.carrier_id != carrier)
    browser.get(f"{site.base}/track/consignments/{foreign.consignment_id}")
    assert browser.find_element(By.ID, "missing").text == (
        f"No consignment {foreign.consignment_id} is visible to you."
    )
    session = next(c for c in browser.get_cookies() if c["name"] == "mc_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/track"
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.signout button"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert "mc_session" not in {c["name"] for c in browser.get_cookies()}


def test_state_changing_requests_need_the_csrf_token(site: Site) -> None:
    carrier = busiest_carrier(site.truth)
    with httpx.Client(base_url=site.base) as client:
        form = client.get("/track")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        refused = client.post("/track/session", data={"key": site.keys[carrier]})
        assert refused.status_code == 403
        signed = client.post(
            "/track/session", data={"key": site.keys[carrier], "csrf": token.group(1)}
        )
        assert signed.status_code == 303
        assert client.get("/track").text.count('data-consignment="') > 0
        # Signing out without the session's token is refused; the session stays.
        assert client.post("/track/signout", data={"csrf": "forged"}).status_code == 403
        assert "Your consignments" in client.get("/track").text
