"""The web page in real headless Chromium (Debian's chromium + chromium-driver, driven by selenium).

The server runs in its own thread with its own event loop, because selenium calls block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import WAIT_S, start_chromium
from tests.support.fakes import GPT_SOVITS_RATE_HZ, FakeLibrary, expected_pcm, make_pack, wav_bytes
from tests.support.threaded_server import ThreadedServer
from wyoming_server.settings import ServerSettings

pytestmark = pytest.mark.browser

HOSTILE_NAME: Final = '<img src=x onerror="window.__pwned=1">'


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
    """A server with the fake library on free ports."""
    settings = ServerSettings(
        data_dir=tmp_path / "data", uri="tcp://127.0.0.1:0", http_host="127.0.0.1", http_port=0
    )
    running = ThreadedServer(settings, FakeLibrary(tmp_path / "data"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _wait(driver: WebDriver, condition: Callable[[WebDriver], Any], message: str) -> Any:
    return WebDriverWait(driver, WAIT_S).until(condition, message)


def _open(driver: WebDriver, server: ThreadedServer) -> None:
    driver.get(server.url)
    driver.execute_script("sessionStorage.clear()")
    driver.get(server.url)
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-voices-loaded"), "voices")


def _voice_names(driver: WebDriver) -> list[str]:
    # In one script call: the list is re-rendered while the test polls it.
    names: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#voice-list .voice-name')].map(n => n.textContent)"
    )
    return names


def _voice_status(driver: WebDriver, voice_id: str) -> str:
    status: str = driver.execute_script(
        "const item = [...document.querySelectorAll('#voice-list > li')]"
        ".find(li => li.getAttribute('data-voice-id') === arguments[0]);"
        "return item ? item.querySelector('.voice-status').textContent : ''",
        voice_id,
    )
    return status


def _voice_item(driver: WebDriver, voice_id: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f'#voice-list li[data-voice-id="{voice_id}"]')


def _use_token(driver: WebDriver, server: ThreadedServer) -> None:
    driver.find_element(By.ID, "token-input").send_keys(server.token)
    driver.find_element(By.ID, "token-save").click()
    _wait(driver, lambda d: d.find_element(By.ID, "token-state").text == "Token accepted.", "token accepted")


def _severe_console_messages(driver: WebDriver) -> list[str]:
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[attr-defined]  # Chrome-only API
    return [entry["message"] for entry in entries if entry["level"] == "SEVERE"]


def test_the_page_lists_voices_with_their_quality_reports(browser: WebDriver, server: ThreadedServer) -> None:
    _open(browser, server)
    assert _voice_names(browser) == ["Joe", "Mum"]
    mum = _voice_item(browser, "mum")
    for summary in mum.find_elements(By.TAG_NAME, "summary"):
        summary.click()
    assert "Signal to noise" in mum.text and "31.5 dB" in mum.text
    assert "built-in" in _voice_item(browser, "joe").text
    assert not _voice_item(browser, "joe").find_elements(By.CLASS_NAME, "delete-button")
    assert "Wyoming port" in browser.find_element(By.ID, "server-status").text
    assert _severe_console_messages(browser) == []


def test_a_hostile_voice_name_is_shown_as_text(browser: WebDriver, server: ThreadedServer) -> None:
    server.library.add(make_pack("evil", HOSTILE_NAME))
    _open(browser, server)
    assert HOSTILE_NAME in _voice_names(browser)
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "#voice-list img") == []
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#speak-voice option")]
    assert HOSTILE_NAME in options


def test_enroll_by_upload_needs_consent(browser: WebDriver, server: ThreadedServer, tmp_path: Path) -> None:
    clip = tmp_path / "grandma.wav"
    clip.write_bytes(wav_bytes(2.0))
    _open(browser, server)
    _use_token(browser, server)
    browser.find_element(By.ID, "enroll-name").send_keys("Grandma 奶奶")
    browser.find_element(By.ID, "enroll-text").send_keys("今天天气很好")
    browser.find_element(By.ID, "enroll-file").send_keys(str(clip))
    button = browser.find_element(By.ID, "enroll-button")
    assert not button.is_enabled(), "no consent, no enrollment"
    browser.find_element(By.ID, "enroll-consent").click()
    assert button.is_enabled()
    button.click()
    _wait(browser, lambda d: "Grandma 奶奶" in _voice_names(d), "new voice listed")
    assert browser.find_element(By.ID, "enroll-status").text == "Added Grandma 奶奶."
    assert "Duration" in browser.find_element(By.ID, "enroll-report").text
    assert server.library.enrolled_audio == [clip.read_bytes()]
    pack = next(p for p in server.library.voices() if p.name == "Grandma 奶奶")
    assert pack.consent is not None and "agrees" in pack.consent.statement


def test_enroll_by_recording_in_the_browser(browser: WebDriver, server: ThreadedServer) -> None:
    _open(browser, server)
    _use_token(browser, server)
    browser.find_element(By.ID, "enroll-name").send_keys("Recorded")
    browser.find_element(By.ID, "record-button").click()
    _wait(browser, lambda d: d.find_element(By.ID, "record-button").text == "Stop", "recording started")
    browser.find_element(By.ID, "record-button").click()
    _wait(
        browser,
        lambda d: d.find_element(By.ID, "record-status").text.startswith("Recorded"),
        "recording done",
    )
    browser.find_element(By.ID, "enroll-consent").click()
    browser.find_element(By.ID, "enroll-button").click()
    _wait(browser, lambda d: "Recorded" in _voice_names(d), "recorded voice listed")
    (upload,) = server.library.enrolled_audio
    assert upload[:4] == b"RIFF" and upload[8:12] == b"WAVE", "the page converts the recording to WAV"


def test_speak_a_test_sentence_and_play_it(browser: WebDriver, server: ThreadedServer) -> None:
    _open(browser, server)
    browser.find_element(By.CSS_SELECTOR, '#speak-voice option[value="mum"]').click()
    text_box = browser.find_element(By.ID, "speak-text")
    text_box.clear()
    text_box.send_keys("Dinner is ready.")
    browser.find_element(By.ID, "speak-button").click()
    _wait(browser, lambda d: d.find_element(By.ID, "speak-status").text.startswith("Ready"), "audio ready")
    duration = _wait(
        browser,
        lambda d: d.execute_script(
            "const a = document.getElementById('speak-audio');"
            "return a.readyState >= 1 && a.duration > 0 ? a.duration : false"
        ),
        "audio loaded",
    )
    expected_s = len(expected_pcm("mum", "default", "Dinner is ready.")) / 2 / GPT_SOVITS_RATE_HZ
    assert abs(duration - expected_s) < 0.01
    assert server.library.behaviour.calls == [("mum", "default", "Dinner is ready.")]


def test_rename_and_delete(browser: WebDriver, server: ThreadedServer) -> None:
    _open(browser, server)
    _use_token(browser, server)
    rename = _voice_item(browser, "mum").find_element(By.CLASS_NAME, "rename-input")
    rename.clear()
    rename.send_keys("Mama")
    _voice_item(browser, "mum").find_element(By.CLASS_NAME, "rename-button").click()
    _wait(browser, lambda d: "Mama" in _voice_names(d), "renamed")
    delete = _voice_item(browser, "mum").find_element(By.CLASS_NAME, "delete-button")
    delete.click()
    assert delete.text == "Really delete?"
    delete.click()
    _wait(browser, lambda d: _voice_names(d) == ["Joe"], "deleted")
    assert [pack.id for pack in server.library.voices()] == ["joe"]


def test_writes_without_a_token_show_the_servers_message(browser: WebDriver, server: ThreadedServer) -> None:
    _open(browser, server)
    delete = _voice_item(browser, "mum").find_element(By.CLASS_NAME, "delete-button")
    delete.click()
    delete.click()
    _wait(browser, lambda d: "admin token" in _voice_status(d, "mum"), "error shown")
    assert "mum" in [pack.id for pack in server.library.voices()]
