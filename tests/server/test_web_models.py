"""The page's "Cloning model" section in real headless Chromium: install with the space stated first,
progress that survives a reload, cancel, a fine-tune upload, and the enrollment error that points here.

The server (fake library, real job manager and worker with a fake converter) runs in its own
thread; the conversion waits on a FIFO the test opens, so the page is seen mid-job without sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import WAIT_S, start_chromium
from tests.support.fakes import FakeLibrary, wav_bytes
from tests.support.job_converters import calls
from tests.support.jobs import leftovers, make_gate, make_jobs, model_files, open_gate
from tests.support.model_server import ServedFiles
from tests.support.threaded_server import ThreadedServer
from wyoming_server.settings import ServerSettings

__all__ = ["model_files"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for the module."""
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def _start(tmp_path: Path, base_url: str, converter: str) -> ThreadedServer:
    data = tmp_path / "data"
    settings = ServerSettings(data_dir=data, uri="tcp://127.0.0.1:0", http_host="127.0.0.1", http_port=0)
    server = ThreadedServer(settings, FakeLibrary(data), make_jobs(data, base_url, converter))
    server.start()
    return server


@pytest.fixture
def gated(tmp_path: Path, model_files: tuple[str, ServedFiles]) -> Iterator[ThreadedServer]:
    """A server whose conversions wait for the test at the gate."""
    make_gate(tmp_path / "data")
    server = _start(tmp_path, model_files[0], "gated")
    try:
        yield server
    finally:
        if server.jobs.current is not None:  # release a worker still at the gate
            threading.Thread(target=open_gate, args=(tmp_path / "data",), daemon=True).start()
        server.stop()


@pytest.fixture
def instant(tmp_path: Path, model_files: tuple[str, ServedFiles]) -> Iterator[ThreadedServer]:
    """A server whose conversions finish at once."""
    server = _start(tmp_path, model_files[0], "instant")
    try:
        yield server
    finally:
        server.stop()


def _wait(driver: WebDriver, condition: Callable[[WebDriver], Any], message: str) -> Any:
    return WebDriverWait(driver, WAIT_S).until(condition, message)


def _text(driver: WebDriver, element_id: str) -> str:
    text: str = driver.execute_script("return document.getElementById(arguments[0]).textContent", element_id)
    return text


def _open(driver: WebDriver, server: ThreadedServer, *, token: bool = True) -> None:
    driver.get(server.url)
    driver.execute_script("sessionStorage.clear()")
    driver.get(server.url)
    _wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-models-loaded"), "models")
    if token:
        driver.find_element(By.ID, "token-input").send_keys(server.token)
        driver.find_element(By.ID, "token-save").click()
        _wait(driver, lambda d: _text(d, "token-state") == "Token accepted.", "token accepted")


def _progress(driver: WebDriver) -> float:
    value: float = driver.execute_script("return document.getElementById('job-progress').value")
    return value


def test_install_states_the_space_shows_progress_that_survives_a_reload(
    browser: WebDriver, gated: ThreadedServer, tmp_path: Path
) -> None:
    _open(browser, gated)
    assert "No cloning model is installed yet" in _text(browser, "models-state")
    _wait(browser, lambda d: "GB free to convert" in _text(d, "install-plan"), "the space it needs")
    plan = _text(browser, "install-plan")
    assert plan.startswith("Downloads 0.00 GB and needs ") and "is free" in plan
    button = browser.find_element(By.ID, "install-button")
    assert button.text == "Install the cloning model"
    button.click()
    _wait(browser, lambda d: "waiting at the test's gate" in _text(d, "job-message"), "progress from the worker")
    assert _text(browser, "job-title") == "Installing v2pro" and _progress(browser) > 0.5

    browser.refresh()  # the job lives on the server: a new page finds it and follows it
    _wait(browser, lambda d: "waiting at the test's gate" in _text(d, "job-message"), "the job after a reload")
    assert browser.find_element(By.ID, "job-cancel").is_displayed()

    open_gate(tmp_path / "data")
    _wait(browser, lambda d: _text(d, "job-message").startswith("Done: model v2pro is installed"), "done")
    _wait(browser, lambda d: _text(d, "models-state") == "Installed: v2pro (v2Pro).", "the model listed")
    assert not browser.find_element(By.ID, "install-form").is_displayed(), "nothing left to install"
    assert not browser.find_element(By.ID, "job-cancel").is_displayed()
    options = browser.execute_script("return [...document.querySelectorAll('#enroll-model option')].map(o => o.value)")
    assert options == ["", "v2pro"]
    assert _progress(browser) == 1
    logs: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[attr-defined]  # Chrome-only API
    assert [entry["message"] for entry in logs if entry["level"] == "SEVERE"] == []


def test_cancel_from_the_page(browser: WebDriver, gated: ThreadedServer, tmp_path: Path) -> None:
    _open(browser, gated)
    _wait(browser, lambda d: "free" in _text(d, "install-plan"), "plan")
    browser.find_element(By.ID, "install-button").click()
    _wait(browser, lambda d: "waiting at the test's gate" in _text(d, "job-message"), "at the gate")
    browser.find_element(By.ID, "job-cancel").click()
    _wait(browser, lambda d: _text(d, "job-message") == "Cancelled.", "cancelled")
    assert "No cloning model is installed yet" in _text(browser, "models-state")
    assert leftovers(tmp_path / "data") == []


def test_without_the_token_the_install_says_so(browser: WebDriver, gated: ThreadedServer) -> None:
    _open(browser, gated, token=False)
    _wait(browser, lambda d: "free" in _text(d, "install-plan"), "plan")
    browser.find_element(By.ID, "install-button").click()
    _wait(browser, lambda d: "admin token" in _text(d, "install-status"), "the server's message")
    assert gated.jobs.current is None


def test_import_a_fine_tune_from_the_page(browser: WebDriver, instant: ThreadedServer, tmp_path: Path) -> None:
    gpt, sovits = tmp_path / "dad-e15.ckpt", tmp_path / "dad_e8_s200.pth"
    gpt.write_bytes(b"PK gpt weights")
    sovits.write_bytes(b"05 sovits weights")
    _open(browser, instant)
    browser.find_element(By.CSS_SELECTOR, "#import-details summary").click()
    browser.find_element(By.ID, "import-gpt").send_keys(str(gpt))
    browser.find_element(By.ID, "import-sovits").send_keys(str(sovits))
    browser.find_element(By.ID, "import-model-id").send_keys("dad-ft")
    browser.find_element(By.ID, "import-button").click()
    _wait(browser, lambda d: _text(d, "job-message").startswith("Done: model dad-ft is installed"), "imported")
    assert _text(browser, "job-title") == "Importing dad-ft"
    _wait(browser, lambda d: "dad-ft" in _text(d, "models-state"), "listed")
    (call,) = calls(tmp_path / "data")
    assert call["sv"] is not None, "a v2Pro fine-tune was converted with the speaker-verification net"


def _remove_button(driver: WebDriver) -> Any:
    return driver.find_element(By.CSS_SELECTOR, "#models-list .remove-model[data-model='v2pro']")


def test_remove_a_model_from_the_page_once_no_voice_speaks_with_it(
    browser: WebDriver, instant: ThreadedServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    _open(browser, instant)
    _wait(browser, lambda d: "free" in _text(d, "install-plan"), "plan")
    browser.find_element(By.ID, "install-button").click()
    _wait(browser, lambda d: _text(d, "models-state") == "Installed: v2pro (v2Pro).", "installed")
    (data / "voices" / "dad").mkdir(parents=True)  # a voice enrolled on it
    (data / "voices" / "dad" / "voice.json").write_text('{"model_id": "v2pro"}')

    _remove_button(browser).click()
    assert _remove_button(browser).text == "Really remove v2pro?"  # nothing goes on one click
    _remove_button(browser).click()
    _wait(browser, lambda d: "voice(s) dad speak with it" in _text(d, "models-remove-status"), "refused")
    assert (data / "models" / "v2pro" / "manifest.json").is_file()
    assert _remove_button(browser).text == "Remove"

    (data / "voices" / "dad" / "voice.json").unlink()
    (data / "voices" / "dad").rmdir()
    _remove_button(browser).click()
    _remove_button(browser).click()
    _wait(browser, lambda d: _text(d, "models-remove-status").startswith("Removed v2pro: "), "removed")
    assert "No cloning model is installed yet" in _text(browser, "models-state")
    assert browser.find_elements(By.CSS_SELECTOR, "#models-list li") == []
    assert not (data / "models" / "v2pro").exists()
    assert browser.find_element(By.ID, "install-form").is_displayed(), "it can be installed again"


def test_enrolling_before_any_model_points_at_the_install_button(
    browser: WebDriver, instant: ThreadedServer, tmp_path: Path
) -> None:
    instant.library.behaviour.model_missing = True
    clip = tmp_path / "mum.wav"
    clip.write_bytes(wav_bytes(2.0))
    _open(browser, instant)
    browser.find_element(By.ID, "enroll-name").send_keys("Mum")
    browser.find_element(By.ID, "enroll-file").send_keys(str(clip))
    browser.find_element(By.ID, "enroll-consent").click()
    browser.find_element(By.ID, "enroll-button").click()
    _wait(browser, lambda d: "Install the cloning model" in _text(d, "enroll-status"), "the pointer")
    assert "edge-tts-clone models download" not in _text(browser, "enroll-status").split("(")[0]
    section_class = browser.find_element(By.ID, "models-section").get_attribute("class") or ""
    assert "attention" in section_class
