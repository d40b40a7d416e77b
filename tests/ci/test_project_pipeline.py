"""The project's own ``.gitlab-ci.yml``: valid for GitLab, the right jobs for each kind of pipeline,
the component tested at this very commit, and a release job that refuses a mismatched tag."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from tests.ci.gitlab_ci_local import (
    REPO_ROOT,
    SampleProject,
    job_script_lines,
    jobs_of,
    make_project,
)
from tests.ci.test_component import assert_valid_gitlab_ci

PIPELINE_FILES = (".gitlab-ci.yml", "templates", "pyproject.toml", "deploy/image/Dockerfile")
VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture
def project(tmp_path: Path) -> SampleProject:
    """A copy of this repository's pipeline (and what its jobs read) as a committed project."""
    return make_project(
        tmp_path / "dind-preflight",
        (REPO_ROOT / ".gitlab-ci.yml").read_text(),
        copy=PIPELINE_FILES,
    )


def test_the_pipeline_validates_against_gitlabs_schema(
    project: SampleProject, tmp_path: Path, check_jsonschema: Path
) -> None:
    expanded = tmp_path / "expanded.yml"
    expanded.write_text(project.preview_text())
    assert_valid_gitlab_ci(check_jsonschema, expanded)


def test_the_component_is_included_at_this_commit() -> None:
    raw = yaml.safe_load((REPO_ROOT / ".gitlab-ci.yml").read_text())
    components = [entry["component"] for entry in raw["include"] if "component" in entry]
    assert components == ["$CI_SERVER_FQDN/$CI_PROJECT_PATH/dind-preflight@$CI_COMMIT_SHA"]


def test_the_component_jobs_use_the_image_built_by_this_pipeline(project: SampleProject) -> None:
    jobs = jobs_of(project.preview())
    component_jobs = {name: job for name, job in jobs.items() if name.startswith("component:")}
    assert set(component_jobs) == {"component:healthy", "component:exit-codes"}
    for name, job in component_jobs.items():
        assert job["image"]["name"] == "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA", name
        assert [need["job"] for need in job["needs"]] == ["image:build"], name
        # The self-test never pauses our own runners and never hides a failure behind a retry.
        assert job["variables"]["DIND_PREFLIGHT_ACTION"] == "none", name
        assert job["retry"]["max"] == 0, name
        assert job["services"] == [{"name": "docker:27-dind", "alias": "docker"}], name

    healthy = job_script_lines(component_jobs["component:healthy"])
    assert healthy.index("dind-preflight run") < healthy.index("docker version")
    exit_codes = job_script_lines(component_jobs["component:exit-codes"])
    assert any('test "$rc" -eq 78' in line for line in exit_codes)
    assert any('test "$rc" -eq 64' in line for line in exit_codes)


def test_the_image_is_built_from_the_dockerfile_and_pushed(project: SampleProject) -> None:
    job = jobs_of(project.preview())["image:build"]
    lines = job_script_lines(job)
    build = next(line for line in lines if line.startswith("docker build "))
    assert "--file deploy/image/Dockerfile" in build
    assert '"$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"' in build
    assert 'docker push "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"' in lines
    assert any("--user 12345:0" in line for line in lines), "a non-root smoke test"
    assert job["variables"]["DOCKER_HOST"] == "tcp://docker:2376"


@pytest.mark.parametrize(
    ("variables", "release"),
    [
        ({}, False),
        ({"CI_COMMIT_TAG": VERSION}, True),
        ({"CI_COMMIT_TAG": "10.20.30"}, True),
        ({"CI_COMMIT_TAG": f"v{VERSION}"}, False),
        ({"CI_COMMIT_TAG": "1.2"}, False),
        ({"CI_COMMIT_TAG": f"{VERSION}-rc1"}, False),
    ],
)
def test_a_catalog_release_only_on_semantic_version_tags(
    project: SampleProject, variables: dict[str, str], release: bool
) -> None:
    names = project.job_names(variables=variables)
    assert {"lint", "test", "image:build", "component:healthy", "component:exit-codes"} <= set(
        names
    )
    assert ("release" in names) is release


def test_the_release_job_uses_the_release_keyword(project: SampleProject) -> None:
    job: dict[str, Any] = jobs_of(project.preview())["release"]
    assert job["release"]["tag_name"] == "$CI_COMMIT_TAG"
    assert job["release"]["description"]
    assert job["stage"] == "release"


def test_the_release_job_passes_for_the_tag_of_this_version(project: SampleProject) -> None:
    result = project.run("--force-shell-executor", "release", variables={"CI_COMMIT_TAG": VERSION})
    assert result.returncode == 0, result.output


def test_the_release_job_refuses_a_tag_that_is_not_the_package_version(
    project: SampleProject,
) -> None:
    result = project.run("--force-shell-executor", "release", variables={"CI_COMMIT_TAG": "9.9.9"})
    assert result.returncode != 0
    assert f"tag 9.9.9 does not match the version in pyproject.toml ({VERSION})" in result.output


def test_the_release_job_refuses_templates_defaulting_to_another_image(tmp_path: Path) -> None:
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    bumped = pyproject.replace(f'version = "{VERSION}"', 'version = "9.9.9"', 1)
    assert bumped != pyproject
    project = make_project(
        tmp_path / "bumped",
        (REPO_ROOT / ".gitlab-ci.yml").read_text(),
        copy=("templates", "deploy/image/Dockerfile"),
        files={"pyproject.toml": bumped},
    )
    result = project.run("--force-shell-executor", "release", variables={"CI_COMMIT_TAG": "9.9.9"})
    assert result.returncode != 0
    assert "does not default to the image of release 9.9.9" in result.output


def test_lint_runs_the_same_linters_as_the_house_rules(project: SampleProject) -> None:
    lines = job_script_lines(jobs_of(project.preview())["lint"])
    assert "make lint" in lines
    assert any(line.startswith("shellcheck ") for line in lines)
    assert ".venv/bin/hadolint deploy/image/Dockerfile" in lines
    makefile = (REPO_ROOT / "Makefile").read_text()
    lint_target = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    for tool in ("ruff check", "ruff format --check", "mypy"):
        assert tool in lint_target, f"make lint no longer runs {tool}"


def test_the_test_job_runs_the_ci_entry_point(project: SampleProject) -> None:
    job = jobs_of(project.preview())["test"]
    assert "bash .ci/run" in job_script_lines(job)
    assert job["artifacts"]["reports"]["junit"] == "pytest-junit.xml"
    assert job["artifacts"]["when"] == "always"


def test_the_lint_jobs_shell_and_dockerfile_checks_pass_on_this_tree(
    project: SampleProject, shellcheck: Path, hadolint: Path
) -> None:
    lines = job_script_lines(jobs_of(project.preview())["lint"])
    shellcheck_line = next(line for line in lines if line.startswith("shellcheck "))
    hadolint_line = next(line for line in lines if "hadolint" in line)
    for line, tool in ((shellcheck_line, shellcheck), (hadolint_line, hadolint)):
        command = line.split(" ", 1)[1]
        result = subprocess.run(
            f'"{tool}" {command}',
            shell=True,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
