"""The Raspberry Pi OS service: packaging/raspberry-pi/edge-tts-clone.service passes `systemd-analyze verify`
and agrees with the install script that puts the venv and the user where the unit expects them."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PI = REPO / "packaging" / "raspberry-pi"
UNIT_NAME = "edge-tts-clone.service"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def _service_section() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # unit keys are case-sensitive
    parser.read(PI / UNIT_NAME, encoding="utf-8")
    return parser["Service"]


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None or not SYSTEM_UNITS.is_dir():
        pytest.fail("systemd-analyze is missing: tests/run_all.sh installs Debian's systemd package")
    # A root with systemd's own units and the venv's command where install.sh puts it.
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    command = Path(_service_section()["ExecStart"].split()[0])
    executable = root / command.relative_to("/")
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n", encoding="utf-8")
    executable.chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(PI / UNIT_NAME, root / "etc/systemd/system" / UNIT_NAME)
    done = subprocess.run(
        [analyze, "verify", "--man=no", f"--root={root}", f"/etc/systemd/system/{UNIT_NAME}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", f"systemd warns about the unit: {done.stderr}"


def test_the_unit_and_the_install_script_agree() -> None:
    service = _service_section()
    script = (PI / "install.sh").read_text(encoding="utf-8")
    assert f"VENV={Path(service['ExecStart'].split()[0]).parents[1]}\n" in script
    assert f"SERVICE_USER={service['User']}\n" in script
    assert "--data-dir /var/lib/edge-tts-clone" in service["ExecStart"]
    assert service["StateDirectory"] == "edge-tts-clone", "systemd makes /var/lib/edge-tts-clone for the user"
    assert int(service["TimeoutStopSec"]) > 5, "longer than the server's shutdown grace"
    assert subprocess.run(["bash", "-n", str(PI / "install.sh")], check=False).returncode == 0
