"""Stored XSS: hostile names, transcripts, styles and reports are shown as text in real headless Chromium.

Voices are stored both ways an attacker could: enrolled through the page and the API (the
real upload path), and as packs that appear in the library with hostile fields everywhere
(name, style, transcript, language, quality warnings and reasons, skipped-folder reports).
A payload that ran would set `window.__xss` or open an alert. The page's CSP would block
inline handlers anyway, so the test also checks that no payload became an element at all:
the page code itself must insert text, not HTML.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import PAGE_SCRIPTS, WAIT_S, start_chromium
from tests.support.fakes import FakeLibrary, make_pack, wav_bytes
from tests.support.threaded_server import ThreadedServer
from wyoming_server.settings import ServerSettings
from wyoming_server.voices.pack import SkippedPack, VoiceStyle

pytestmark = pytest.mark.browser

PAYLOADS: Final = (
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<script>window.__xss=2</script>",
    '"><svg onload="window.__xss=3">',
    "'><iframe srcdoc=\"<script>parent.__xss=4</script>\">",
    "javascript:window.__xss=5",
    "<a href=javascript:window.__xss=6>click</a>",
)
FOLDER_PAYLOADS: Final = tuple(payload for payload in PAYLOADS if "/" not in payload)
EMPTY_MANIFEST: Final[dict[str, dict[str, object]]] = {"dims": {}, "graphs": {}, "files": {}}
INJECTED_TAGS: Final = "img, svg, iframe, a, object, embed, video, math, form[action]"
"""Elements a payload could create; the page itself has none of these."""


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for the module."""
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadedServer]:
    """A server whose library already holds packs with a payload in every field the page shows."""
    library = FakeLibrary(tmp_path / "data")
    for index, payload in enumerate(PAYLOADS):
        pack = make_pack(f"evil-{index}", payload, languages=(payload,))
        report = {**pack.styles["default"].quality, "warnings": [payload], "reasons": [payload]}
        styles = {
            "default": VoiceStyle("default", payload, payload, report),
            payload: VoiceStyle(payload, payload, "en", report),
        }
        library.add(replace(pack, styles=styles))
    library.set_skipped([SkippedPack(payload, payload) for payload in PAYLOADS])
    for payload in FOLDER_PAYLOADS:  # model folders made by hand: their names and versions reach the page
        (tmp_path / "data" / "models" / payload).mkdir(parents=True)
        manifest = {"format": 1, "version": payload, "symbol_table": "gpt-sovits-v2-732", "precision": ["int8"]}
        (tmp_path / "data" / "models" / payload / "manifest.json").write_text(json.dumps(manifest | EMPTY_MANIFEST))
    settings = ServerSettings(data_dir=tmp_path / "data", uri="tcp://127.0.0.1:0", http_host="127.0.0.1", http_port=0)
    running = ThreadedServer(settings, library)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _wait(driver: WebDriver, condition: Any, message: str) -> Any:
    return WebDriverWait(driver, WAIT_S).until(condition, message)


def _open(driver: WebDriver, server: ThreadedServer) -> None:
    driver.get(server.url)
    driver.execute_script("sessionStorage.clear()")
    driver.get(server.url)
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-voices-loaded"), "voices")


def _assert_nothing_ran(driver: WebDriver) -> None:
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        alert = None
    assert alert is None, f"an alert opened: {alert.text if alert else ''}"
    assert driver.execute_script("return window.__xss === undefined"), "a payload ran"
    injected = driver.execute_script(f"return document.querySelectorAll({INJECTED_TAGS!r}).length")
    scripts = driver.execute_script("return [...document.scripts].map(s => s.src)")
    assert injected == 0, "a payload became an element"
    assert scripts == [driver.current_url + f"static/{name}" for name in PAGE_SCRIPTS], scripts


def _texts(driver: WebDriver, selector: str) -> list[str]:
    texts: list[str] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(n => n.textContent)", selector
    )
    return texts


def test_hostile_fields_of_stored_voices_show_as_text(browser: WebDriver, server: ThreadedServer) -> None:
    _open(browser, server)
    for summary in browser.find_elements(By.TAG_NAME, "summary"):
        summary.click()  # open every style's report: warnings and reasons are rendered too
    _assert_nothing_ran(browser)
    names = _texts(browser, "#voice-list .voice-name")
    assert set(PAYLOADS) <= set(names)
    page_text = browser.find_element(By.TAG_NAME, "body").text
    summaries = _texts(browser, "#voice-list summary")
    for payload in PAYLOADS:
        assert f"Style: {payload} · “{payload}”" in summaries, "style name and transcript shown literally"
        assert f"⚠ {payload}" in page_text and f"✗ {payload}" in page_text
        assert f"{payload}: {payload}" in _texts(browser, "#skipped-list li")
    assert set(PAYLOADS) <= set(_texts(browser, "#speak-voice option"))
    _wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-models-loaded"), "models")
    models_state = browser.find_element(By.ID, "models-state").text
    assert all(f"{payload} ({payload})" in models_state for payload in FOLDER_PAYLOADS), models_state
    assert set(FOLDER_PAYLOADS) <= set(_texts(browser, "#enroll-model option"))
    _assert_nothing_ran(browser)
    rename_values = browser.execute_script("return [...document.querySelectorAll('.rename-input')].map(i => i.value)")
    assert set(PAYLOADS) <= set(rename_values)


def test_voices_enrolled_and_renamed_through_the_page_with_payloads_stay_text(
    browser: WebDriver, server: ThreadedServer, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(wav_bytes(2.0))
    _open(browser, server)
    browser.find_element(By.ID, "token-input").send_keys(server.token)
    browser.find_element(By.ID, "token-save").click()
    _wait(browser, lambda d: d.find_element(By.ID, "token-state").text == "Token accepted.", "token accepted")
    name, transcript = PAYLOADS[0], PAYLOADS[1]
    browser.find_element(By.ID, "enroll-name").send_keys(name)
    browser.find_element(By.ID, "enroll-text").send_keys(transcript)
    browser.find_element(By.ID, "enroll-file").send_keys(str(clip))
    browser.find_element(By.ID, "enroll-consent").click()
    browser.find_element(By.ID, "enroll-button").click()
    _wait(browser, lambda d: d.find_element(By.ID, "enroll-status").text == f"Added {name}.", "enrolled")
    _assert_nothing_ran(browser)
    enrolled = next(pack for pack in server.library.voices() if pack.consent and pack.consent.recorded_by != "cli")
    assert enrolled.name == name and enrolled.styles["default"].reference_text == transcript

    item = browser.find_element(By.CSS_SELECTOR, f'#voice-list li[data-voice-id="{enrolled.id}"]')
    rename = item.find_element(By.CLASS_NAME, "rename-input")
    rename.clear()
    rename.send_keys(PAYLOADS[2])
    item.find_element(By.CLASS_NAME, "rename-button").click()
    _wait(browser, lambda d: _texts(d, "#voice-list .voice-name").count(PAYLOADS[2]) == 2, "renamed")
    _assert_nothing_ran(browser)
