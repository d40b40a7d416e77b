"""Run the pinned ``gitlab-ci-local`` against throwaway git projects built from this repository.

Each project lives in a temporary directory (never in the repository, so ``.gitlab-ci-local/``
stays out of the tree), has an ``origin`` remote so that ``CI_PROJECT_PATH``/``CI_SERVER_FQDN``
are set, and a commit, so that ``component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@$CI_COMMIT_SHA``
resolves to the project's own ``templates/<name>.yml`` exactly as GitLab resolves it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
GITLAB_CI_LOCAL = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "gitlab-ci-local"
PROJECT_PATH = "acme/platform/dind-preflight"
SERVER_FQDN = "gitlab.example.com"
ORIGIN_URL = f"git@{SERVER_FQDN}:{PROJECT_PATH}.git"
COMPONENT_PREFIX = "$CI_SERVER_FQDN/$CI_PROJECT_PATH"

# Variables of the machine that must not leak into a job run by gitlab-ci-local: the shell
# executor passes the test process's environment to the job.
_LEAKY_PREFIXES = ("CI_", "GITLAB_", "DOCKER_", "DIND_PREFLIGHT_", "KUBERNETES_", "GCL_")
_LEAKY_NAMES = frozenset({"CI", "KUBECONFIG"})


def gitlab_ci_local_binary() -> Path:
    """The pinned binary from ``make node-tools``; a missing tool fails the test, never skips."""
    if not os.access(GITLAB_CI_LOCAL, os.X_OK):
        pytest.fail(f"{GITLAB_CI_LOCAL} is missing: run `make node-tools` (make test does)")
    return GITLAB_CI_LOCAL


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without CI, Docker, Kubernetes and preflight variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _LEAKY_NAMES and not key.startswith(_LEAKY_PREFIXES)
    }
    venv_bin = REPO_ROOT / ".venv" / "bin"
    env["PATH"] = f"{venv_bin}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    env.update(extra or {})
    return env


def flatten(lines: object) -> list[str]:
    """A job's script keyword as a flat list of lines (``!reference`` leaves nested lists)."""
    if lines is None:
        return []
    if isinstance(lines, str):
        return [lines]
    assert isinstance(lines, list), f"not a script list: {lines!r}"
    flat: list[str] = []
    for item in lines:
        flat.extend(flatten(item))
    return flat


def job_script_lines(job: Mapping[str, Any]) -> list[str]:
    """``before_script`` + ``script``: the lines that run in one shell, in order."""
    return flatten(job.get("before_script")) + flatten(job.get("script"))


def jobs_of(pipeline: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The visible jobs of an expanded pipeline (hidden jobs and global keywords left out)."""
    globals_ = {"stages", "variables", "workflow", "default", "include", "image", "services"}
    return {
        name: job
        for name, job in pipeline.items()
        if name not in globals_ and not name.startswith(".") and isinstance(job, dict)
    }


@dataclass(frozen=True)
class GclRun:
    """One finished ``gitlab-ci-local`` process."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class SampleProject:
    """A committed git project in a temporary directory, ready for ``gitlab-ci-local``."""

    path: Path

    @property
    def state_dir(self) -> Path:
        return self.path / ".gitlab-ci-local"

    def run(
        self,
        *args: str,
        variables: Mapping[str, str] | None = None,
        inputs: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
        wrap: Callable[[list[str]], list[str]] | None = None,
    ) -> GclRun:
        """Run ``gitlab-ci-local ARGS`` in the project; never raises on a failing pipeline.
        ``wrap`` turns the command into the one to run (e.g. in a mount namespace of its own)."""
        home = self.path.parent / "gcl-home"
        home.mkdir(exist_ok=True)
        command: list[str] = [str(gitlab_ci_local_binary()), "--home", str(home), "--no-color"]
        overridden = sorted(k for k in (variables or {}) if k.startswith("CI_"))
        if overridden:
            command += ["--ignore-predefined-vars", ",".join(overridden)]
        for key, value in (variables or {}).items():
            command += ["--variable", f"{key}={value}"]
        for key, value in (inputs or {}).items():
            command += ["--input", f"{key}={value}"]
        command += list(args)
        completed = subprocess.run(
            wrap(command) if wrap is not None else command,
            cwd=self.path,
            env=clean_environment({"HOME": str(home), **(env or {})}),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return GclRun(tuple(command), completed.returncode, completed.stdout, completed.stderr)

    def preview(
        self,
        *,
        variables: Mapping[str, str] | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The expanded pipeline (includes, inputs, extends and ``!reference`` resolved)."""
        result = self.run("--preview", variables=variables, inputs=inputs)
        assert result.returncode == 0, f"gitlab-ci-local --preview failed:\n{result.output}"
        document = yaml.safe_load(result.stdout)
        assert isinstance(document, dict), result.stdout
        return document

    def preview_text(self, **kwargs: Any) -> str:
        """``--preview`` output as text (for schema validation of exactly what was produced)."""
        result = self.run("--preview", **kwargs)
        assert result.returncode == 0, f"gitlab-ci-local --preview failed:\n{result.output}"
        return result.stdout

    def job_names(self, *, variables: Mapping[str, str] | None = None) -> list[str]:
        """Jobs that would run (rules evaluated, ``when: never`` left out) for these variables."""
        import json

        result = self.run("--list-json", variables=variables)
        assert result.returncode == 0, f"gitlab-ci-local --list-json failed:\n{result.output}"
        return [str(job["name"]) for job in json.loads(result.stdout) if job["when"] != "never"]

    def artifacts_of(self, job: str) -> Path:
        """Where gitlab-ci-local exported a job's ``artifacts:paths``."""
        return self.state_dir / "artifacts" / job


def make_project(
    destination: Path,
    gitlab_ci_yml: str,
    *,
    copy: Iterable[str] = ("templates",),
    files: Mapping[str, str] | None = None,
) -> SampleProject:
    """A git project at ``destination`` with ``.gitlab-ci.yml``, repository files and a commit."""
    destination.mkdir(parents=True, exist_ok=True)
    for relative in copy:
        source = REPO_ROOT / relative
        target = destination / relative
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / ".gitlab-ci.yml").write_text(gitlab_ci_yml)
    for relative, content in (files or {}).items():
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (destination / ".gitignore").write_text(".gitlab-ci-local/\n")
    _git(destination, "init", "-q", "-b", "main")
    _git(destination, "config", "user.name", "dind-preflight tests")
    _git(destination, "config", "user.email", "tests@dind-preflight.invalid")
    _git(destination, "remote", "add", "origin", ORIGIN_URL)
    # gitlab-ci-local asks for the remote's default branch; answer without a network.
    _git(destination, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    _git(destination, "add", "-A")
    _git(destination, "commit", "-q", "-m", "sample project")
    return SampleProject(destination)


def include_component(name: str, inputs: Mapping[str, object] | None = None) -> str:
    """An ``include:`` entry for this repository's component ``name`` at the project's commit."""
    entry: dict[str, object] = {"component": f"{COMPONENT_PREFIX}/{name}@$CI_COMMIT_SHA"}
    if inputs:
        entry["inputs"] = dict(inputs)
    return yaml.safe_dump({"include": [entry]}, sort_keys=False)


def _git(cwd: Path, *args: str) -> None:
    identity: Sequence[str] = ("-c", "user.name=dind-preflight tests", "-c", "user.email=t@t")
    subprocess.run(
        ["git", *identity, *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env=clean_environment({"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)}),
    )
