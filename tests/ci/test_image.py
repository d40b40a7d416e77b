"""The image: the Dockerfile parsed by Docker's own parser (BuildKit's, via the ``dockerfile``
wheel), linted by hadolint, and the ``.dockerignore`` applied by a real docker build."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import dockerfile
import pytest

from tests.ci.gitlab_ci_local import REPO_ROOT
from tests.harness.dockerd import Dockerd

DOCKERFILE = REPO_ROOT / "deploy" / "image" / "Dockerfile"


def _instructions() -> tuple[dockerfile.Command, ...]:
    parsed: tuple[dockerfile.Command, ...] = dockerfile.parse_file(str(DOCKERFILE))
    return parsed


def _stages() -> list[list[dockerfile.Command]]:
    stages: list[list[dockerfile.Command]] = []
    for command in _instructions():
        if command.cmd == "FROM":
            stages.append([command])
        elif stages:
            stages[-1].append(command)
    return stages


def test_hadolint_finds_nothing(hadolint: Path) -> None:
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_catch_a_bad_dockerfile(hadolint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /src && pip install .\n")
    result = subprocess.run(
        [str(hadolint), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3003" in result.stdout


def test_the_base_images_are_build_arguments() -> None:
    instructions = _instructions()
    first_from = next(i for i, c in enumerate(instructions) if c.cmd == "FROM")
    declared = {c.value[0].split("=", 1)[0]: c.value[0] for c in instructions[:first_from]}
    assert set(declared) == {"BASE_IMAGE", "DOCKER_CLI_IMAGE"}
    assert all("=" in value for value in declared.values()), "every build argument has a default"

    stages = _stages()
    assert [stage[0].value for stage in stages] == [
        ("${DOCKER_CLI_IMAGE}", "AS", "docker-cli"),
        ("${BASE_IMAGE}", "AS", "build"),
        ("${BASE_IMAGE}",),
    ]


def test_the_final_image_has_the_docker_cli_and_the_preflight_and_is_a_job_image() -> None:
    final = _stages()[-1]
    copies = [c for c in final if c.cmd == "COPY"]
    sources = {(flag, c.value[0]) for c in copies for flag in c.flags}
    assert ("--from=docker-cli", "/usr/local/bin/docker") in sources
    assert ("--from=build", "/opt/dind-preflight") in sources
    run = " ".join(c.value[0] for c in final if c.cmd == "RUN")
    assert "ln -s /opt/dind-preflight/bin/dind-preflight /usr/local/bin/dind-preflight" in run
    assert "dind-preflight --version" in run and "docker --version" in run
    # GitLab runs the job's script through the image's shell: no ENTRYPOINT may swallow it.
    assert not any(c.cmd == "ENTRYPOINT" for c in _instructions())
    cmd = next(c for c in final if c.cmd == "CMD")
    assert cmd.json and cmd.value == ("dind-preflight", "--help")


def test_the_image_works_for_any_user_with_group_zero() -> None:
    final = _stages()[-1]
    assert not any(c.cmd == "USER" for c in final), "root by default, like GitLab job images"
    run = " ".join(c.value[0] for c in final if c.cmd == "RUN")
    assert "chown 10001:0 /home/preflight" in run
    assert "chmod 0775 /home/preflight" in run
    env = {
        pair: value
        for c in final
        if c.cmd == "ENV"
        for pair, value in zip(c.value[::2], c.value[1::2], strict=True)
    }
    assert env["HOME"] == "/home/preflight"
    # The helper pod runs with a read-only root filesystem: Python must not write bytecode.
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_build_stage_copies_only_what_the_dockerignore_lets_in() -> None:
    build = _stages()[1]
    sources = [c.value[:-1] for c in build if c.cmd == "COPY" and not c.flags]
    assert sources == [("pyproject.toml", "README.md", "LICENSE"), ("preflight/",)]
    allowed = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    for names in sources:
        for name in names:
            assert f"!{name}" in allowed, f"{name} is excluded from the build context"


@pytest.mark.dockerd
def test_a_real_build_context_holds_the_package_and_nothing_else(
    healthy_dockerd: Dockerd, tmp_path: Path
) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail("the docker CLI is not installed (make test installs docker.io)")
    # The same context as `docker build -f deploy/image/Dockerfile .`, copied into an empty image.
    probe = tmp_path / "Dockerfile.context"
    probe.write_text("FROM scratch\nCOPY . /context/\n")
    env = {
        "DOCKER_HOST": healthy_dockerd.unix_host,
        "DOCKER_BUILDKIT": "0",
        "PATH": "/usr/bin:/bin",
    }
    tag = "dind-preflight-context-probe:test"

    def docker_cmd(*args: str) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            [docker, *args], capture_output=True, env=env, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result

    docker_cmd("build", "--quiet", "--file", str(probe), "--tag", tag, str(REPO_ROOT))
    container = docker_cmd("create", tag, "/none").stdout.decode().strip()
    try:
        exported = docker_cmd("export", container).stdout
    finally:
        docker_cmd("rm", container)
        docker_cmd("rmi", tag)

    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        names = {
            name.removeprefix("context/").rstrip("/")
            for name in archive.getnames()
            if name.startswith("context/")
        }
    top_level = {name.split("/", 1)[0] for name in names if name}
    assert top_level == {"pyproject.toml", "README.md", "LICENSE", "preflight"}
    assert "preflight/cli.py" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
