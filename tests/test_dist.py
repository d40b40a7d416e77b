"""`make dist`'s build: the sdist and the wheel (built from the sdist), installed into a clean
virtualenv where `dind-preflight --version` runs. No network: the build backend and pip are
the ones already installed (--no-isolation, --no-index)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from preflight import __version__

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_into_a_clean_venv_and_runs(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "preflight", source / "preflight", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sdist,) = dist.glob("dind_preflight-*.tar.gz")
    (wheel,) = dist.glob("dind_preflight-*.whl")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert f"dind_preflight-{__version__}/LICENSE" in names
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        metadata = archive.read(f"dind_preflight-{__version__}.dist-info/METADATA").decode()
    assert "preflight/py.typed" in files and "preflight/cli.py" in files
    assert any(name.endswith("licenses/LICENSE") for name in files)
    assert "License-Expression: MIT" in metadata
    assert not [name for name in files if name.startswith(("tests/", "demo/"))]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    version = subprocess.run(
        [str(venv / "bin" / "dind-preflight"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (version.returncode, version.stdout) == (0, f"dind-preflight {__version__}\n")
    # The console script imports the installed copy, not this checkout.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import preflight; print(preflight.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert where.stdout.startswith(str(venv))
