"""What the Docker image installs (`pip install .`) carries the web page and every package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from config.local_services import REPO_ROOT


def test_the_wheel_ships_every_package_the_page_and_the_console_command(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO_ROOT)],
        check=True, capture_output=True,
    )
    [wheel] = tmp_path.glob("infrabot-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bots/web/static/index.html" in names
    for package in ("bots", "core", "jobs", "infra", "config", "core/understanding", "infra/components"):
        assert f"{package}/__init__.py" in names, package
    assert not any(n.startswith("tests/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "infrabot = bots.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
