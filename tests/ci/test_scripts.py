"""Every shell line we ship: linted with shellcheck, and the wrappers around ``dind-preflight run``
executed for real in the two shells job images have (dash for Debian, busybox ash for Alpine).

Sources: the expanded project pipeline, the expanded components (default and non-default inputs),
the raw templates (``$[[ inputs.x ]]`` replaced by a variable so that quoting is checked), and the
runner-wide ``pre_build_script`` of the Helm values.
"""

from __future__ import annotations

import re
import stat
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from tests.ci.gitlab_ci_local import (
    REPO_ROOT,
    flatten,
    include_component,
    job_script_lines,
    jobs_of,
    make_project,
)

INPUT_BLOCK = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")


class _GitLabLoader(yaml.SafeLoader):
    """YAML loader that reads GitLab's ``!reference [job, key]`` as a shell comment line."""


def _reference(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.SequenceNode)
    words = [str(loader.construct_object(child)) for child in node.value]
    return "# !reference [" + ", ".join(words) + "]"


_GitLabLoader.add_constructor("!reference", _reference)


def _runner_wide_config() -> dict[str, Any]:
    values = yaml.safe_load((REPO_ROOT / "deploy/helm/values-runner-wide.yaml").read_text())
    config = tomllib.loads(values["runners"]["config"])
    runner = config["runners"][0]
    assert isinstance(runner, dict)
    return runner


def _pre_build_script() -> str:
    script = _runner_wide_config()["pre_build_script"]
    assert isinstance(script, str)
    return script


def _raw_template_scripts() -> Iterator[tuple[str, list[str]]]:
    for template in sorted((REPO_ROOT / "templates").glob("*.yml")):
        documents = list(yaml.load_all(template.read_text(), Loader=_GitLabLoader))
        for name, job in documents[-1].items():
            if not isinstance(job, dict):
                continue
            lines = [
                INPUT_BLOCK.sub(
                    lambda m: "${INPUT_" + m.group(1).upper().replace("-", "_") + "}", line
                )
                for key in ("before_script", "script", "after_script")
                for line in flatten(job.get(key))
            ]
            if lines:
                yield f"{template.name}:{name}", lines


def _expanded_scripts(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    pipeline = make_project(
        tmp_path / "dind-preflight",
        (REPO_ROOT / ".gitlab-ci.yml").read_text(),
        copy=(".gitlab-ci.yml", "templates"),
    ).preview()
    for name, job in jobs_of(pipeline).items():
        yield f".gitlab-ci.yml:{name}", job_script_lines(job) + flatten(job.get("after_script"))

    for label, inputs in (("defaults", {}), ("plain-push", {"dind": "plain", "push": True})):
        text = include_component("docker-build", inputs) + (
            "own:\n  extends: .dind-preflight\n  before_script:\n"
            "    - !reference [.dind-preflight, before_script]\n    - echo own\n"
            "  script:\n    - docker version\n"
        )
        sample = make_project(tmp_path / f"sample-{label}", text).preview()
        for name, job in jobs_of(sample).items():
            yield f"sample-{label}:{name}", job_script_lines(job)


def _shellcheck(shellcheck: Path, scripts: Mapping[str, list[str]], workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    files: dict[Path, str] = {}
    for index, (label, lines) in enumerate(scripts.items()):
        path = workdir / f"script-{index}.sh"
        # The runner runs a job's lines one after another in one shell that stops at the first
        # failure; that is this file.
        path.write_text("#!/bin/sh\nset -e\n" + "\n".join(lines) + "\n")
        files[path] = label
    result = subprocess.run(
        [str(shellcheck), "--shell=sh", "--format=gcc", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = result.stdout
    for path, label in files.items():
        findings = findings.replace(str(path), label)
    assert result.returncode == 0, f"shellcheck found problems:\n{findings}{result.stderr}"
    assert len(files) >= 1


def test_every_expanded_job_script_passes_shellcheck(tmp_path: Path, shellcheck: Path) -> None:
    scripts = dict(_expanded_scripts(tmp_path))
    assert {".gitlab-ci.yml:lint", ".gitlab-ci.yml:release", "sample-defaults:docker-build"} <= set(
        scripts
    )
    _shellcheck(shellcheck, scripts, tmp_path / "expanded")


def test_every_raw_template_script_passes_shellcheck(tmp_path: Path, shellcheck: Path) -> None:
    scripts = dict(_raw_template_scripts())
    assert {"dind-preflight.yml:.dind-preflight", "docker-build.yml:docker-build"} <= set(scripts)
    pushed = "\n".join(scripts["docker-build.yml:docker-build"])
    assert 'docker_build_push="${INPUT_PUSH}"' in pushed, "inputs are replaced before linting"
    _shellcheck(shellcheck, scripts, tmp_path / "raw")


def test_the_runner_wide_pre_build_script_passes_shellcheck(
    tmp_path: Path, shellcheck: Path
) -> None:
    _shellcheck(shellcheck, {"pre_build_script": [_pre_build_script()]}, tmp_path / "runner")


def test_shellcheck_does_catch_a_bad_line(tmp_path: Path, shellcheck: Path) -> None:
    # The lint above is only worth something if a real mistake fails it.
    with pytest.raises(AssertionError, match="SC2086"):
        _shellcheck(shellcheck, {"bad": ["docker push $DOCKER_BUILD_TAG"]}, tmp_path / "bad")


# --- the wrappers, executed -------------------------------------------------------------------


def _component_before_script(tmp_path: Path) -> list[str]:
    text = include_component("dind-preflight") + (
        "job:\n  extends: .dind-preflight\n  script:\n    - echo job-script-ran\n"
    )
    job = jobs_of(make_project(tmp_path / "sample", text).preview())["job"]
    return flatten(job["before_script"])


def _run_shell(
    shell: list[str], text: str, *, path: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": f"{path}:/usr/bin:/bin", "HOME": str(path), **(env or {})}
    return subprocess.run(
        [*shell, "-c", "set -e\n" + text],
        capture_output=True,
        text=True,
        env=environment,
        timeout=30,
        check=False,
    )


@pytest.fixture
def empty_bin(tmp_path: Path) -> Path:
    """A PATH directory with the tools a job needs but no dind-preflight."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for tool in ("cat", "echo"):
        real = Path("/bin") / tool
        (directory / tool).symlink_to(real if real.exists() else Path("/usr/bin") / tool)
    return directory


def _exit_code_double(directory: Path, code: int, record: Path) -> None:
    """A stand-in ``dind-preflight`` that records what it received and exits with ``code``.

    The real CLI's exit codes come from real broken daemons (tests/e2e); here only the shell
    wrapper's routing of each documented code is under test.
    """
    script = directory / "dind-preflight"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" > "{record}.args"\n'
        f'printf "%s" "${{DIND_PREFLIGHT_GITLAB_TOKEN-<unset>}}" > "{record}.token"\n'
        f"exit {code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.mark.parametrize("shell_name", ["dash", "busybox-ash"])
def test_the_component_fails_clearly_when_the_image_lacks_dind_preflight(
    tmp_path: Path, empty_bin: Path, posix_shells: dict[str, list[str]], shell_name: str
) -> None:
    lines = _component_before_script(tmp_path)
    result = _run_shell(
        posix_shells[shell_name],
        "\n".join([*lines, "echo job-script-ran"]),
        path=empty_bin,
        env={"CI_JOB_IMAGE": "node:20"},
    )
    assert result.returncode == 64
    assert "dind-preflight: error: not found in the job image node:20" in result.stderr
    assert "job-script-ran" not in result.stdout


@pytest.mark.parametrize("shell_name", ["dash", "busybox-ash"])
@pytest.mark.parametrize(
    ("code", "job_runs"),
    [(0, True), (69, False), (75, False), (78, False), (64, True), (70, True)],
)
def test_runner_wide_routes_each_exit_code(
    tmp_path: Path,
    empty_bin: Path,
    posix_shells: dict[str, list[str]],
    shell_name: str,
    code: int,
    job_runs: bool,
) -> None:
    record = tmp_path / "record"
    _exit_code_double(empty_bin, code, record)
    job = 'echo "job-script-ran disable=${DIND_PREFLIGHT_DISABLE:-}"'
    result = _run_shell(
        posix_shells[shell_name],
        _pre_build_script() + "\n" + job,
        path=empty_bin,
        env={
            "DOCKER_HOST": "tcp://docker:2376",
            "DIND_PREFLIGHT_GITLAB_TOKEN_FILE": str(tmp_path / "absent"),
        },
    )
    assert (record.with_suffix(".args")).read_text() == "run\n"
    assert ("job-script-ran" in result.stdout) is job_runs
    if job_runs:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == code
    if code == 0:
        # A later `dind-preflight run` (the component's) skips: the daemon was just checked.
        assert "disable=1\n" in result.stdout  # a switch the one boolean parser reads as on
    if code in (64, 70):
        assert f"the preflight itself failed (exit {code}); the job continues" in result.stderr
        assert "disable=\n" in result.stdout or result.stdout.endswith("disable=\n")


@pytest.mark.parametrize("shell_name", ["dash", "busybox-ash"])
def test_runner_wide_is_silent_for_jobs_without_docker(
    tmp_path: Path, empty_bin: Path, posix_shells: dict[str, list[str]], shell_name: str
) -> None:
    result = _run_shell(
        posix_shells[shell_name], _pre_build_script() + "\necho job-script-ran", path=empty_bin
    )
    assert result.returncode == 0
    assert result.stderr == ""
    assert "job-script-ran" in result.stdout


@pytest.mark.parametrize("shell_name", ["dash", "busybox-ash"])
def test_runner_wide_notes_a_dind_job_whose_image_lacks_dind_preflight(
    tmp_path: Path, empty_bin: Path, posix_shells: dict[str, list[str]], shell_name: str
) -> None:
    result = _run_shell(
        posix_shells[shell_name],
        _pre_build_script() + "\necho job-script-ran",
        path=empty_bin,
        env={"DOCKER_HOST": "tcp://docker:2375"},
    )
    assert result.returncode == 0
    assert "not in this job's image; the dind service was not checked" in result.stderr
    assert "job-script-ran" in result.stdout


@pytest.mark.parametrize(
    ("file_content", "env_token", "seen_token"),
    [
        ("glpat-from-secret\n", None, "<unset>"),
        ("glpat-from-secret", "glpat-from-variable", "glpat-from-variable"),
        ("", None, "<unset>"),  # an empty Secret key: the preflight makes it a dry run
        (None, None, "<unset>"),
    ],
)
def test_runner_wide_passes_the_token_file_to_the_preflight_only(
    tmp_path: Path,
    empty_bin: Path,
    posix_shells: dict[str, list[str]],
    file_content: str | None,
    env_token: str | None,
    seen_token: str,
) -> None:
    """The shell passes the file's path (dind-preflight reads it, the file wins over a job's
    own variable: tests/gitlab/test_tokens.py); the token itself never enters the shell."""
    record = tmp_path / "record"
    _exit_code_double(empty_bin, 0, record)
    (empty_bin / "dind-preflight").write_text(
        (empty_bin / "dind-preflight")
        .read_text()
        .replace(
            "exit 0",
            f'printf "%s" "${{DIND_PREFLIGHT_GITLAB_TOKEN_FILE-<unset>}}" > "{record}.file"\nexit 0',
        )
    )
    token_file = tmp_path / "secret" / "gitlab-token"
    if file_content is not None:
        token_file.parent.mkdir()
        token_file.write_text(file_content)
    env = {"DIND_PREFLIGHT_GITLAB_TOKEN_FILE": str(token_file)}
    if env_token is not None:
        env["DIND_PREFLIGHT_GITLAB_TOKEN"] = env_token
    job = 'echo "job sees token: ${DIND_PREFLIGHT_GITLAB_TOKEN:-no}"'
    result = _run_shell(
        posix_shells["dash"], _pre_build_script() + "\n" + job, path=empty_bin, env=env
    )
    assert result.returncode == 0, result.stderr
    assert record.with_suffix(".token").read_text() == seen_token
    # Its path (the job's own variable when the file is absent), never its content.
    assert record.with_suffix(".file").read_text() == str(token_file)
    expected = env_token or "no"
    assert f"job sees token: {expected}" in result.stdout
    assert "glpat-from-secret" not in result.stdout + result.stderr


@pytest.mark.parametrize("shell_name", ["dash", "busybox-ash"])
def test_runner_wide_never_expands_the_token_in_the_shell(
    tmp_path: Path, empty_bin: Path, posix_shells: dict[str, list[str]], shell_name: str
) -> None:
    """With tracing on (a job can set CI_DEBUG_TRACE) the trace shows the path, never the token."""
    token = "glpat-TraceMustNotShow-1234"
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "gitlab-token").write_text(token)
    record = tmp_path / "record"
    double = empty_bin / "dind-preflight"
    double.write_text(
        "#!/bin/sh\n"
        f'printf "%s" "${{DIND_PREFLIGHT_GITLAB_TOKEN_FILE-<unset>}}" > "{record}"\n'
        "exit 0\n"
    )
    double.chmod(0o755)
    result = _run_shell(
        posix_shells[shell_name],
        "set -x\n" + _pre_build_script(),
        path=empty_bin,
        env={
            "DOCKER_HOST": "tcp://docker:2376",
            "DIND_PREFLIGHT_GITLAB_TOKEN_FILE": str(secret / "gitlab-token"),
        },
    )
    assert result.returncode == 0, result.stderr
    assert record.read_text() == str(secret / "gitlab-token")
    assert "dind-preflight run" in result.stderr  # the trace is on
    assert token not in result.stdout + result.stderr
