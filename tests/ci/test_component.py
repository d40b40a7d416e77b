"""The CI/CD components as GitLab expands them: inputs, defaults, hidden jobs, retry, artifacts.

Every case includes the component the way a user does (``include: component: ...@SHA``) and reads
``gitlab-ci-local --preview``: what GitLab would hand to the runner.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from tests.ci.gitlab_ci_local import (
    REPO_ROOT,
    SampleProject,
    include_component,
    job_script_lines,
    jobs_of,
    make_project,
)

DIND_JOB = """
docker-job:
  extends: .dind-preflight
  script:
    - docker version
"""

OWN_BEFORE_SCRIPT_JOB = """
own-setup:
  extends: .dind-preflight
  before_script:
    - !reference [.dind-preflight, before_script]
    - echo "own setup"
  script:
    - docker version
"""


def _project(tmp_path: Path, body: str, inputs: dict[str, object] | None = None) -> SampleProject:
    text = include_component("dind-preflight", inputs) + body
    return make_project(tmp_path / "project", text)


def _job(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    jobs = jobs_of(pipeline)
    assert name in jobs, f"{name} not in {sorted(jobs)}"
    return jobs[name]


def _template_spec(name: str) -> dict[str, Any]:
    documents = list(yaml.safe_load_all((REPO_ROOT / "templates" / f"{name}.yml").read_text()))
    assert len(documents) == 2, "a component is a spec header document and a jobs document"
    spec = documents[0]["spec"]
    assert isinstance(spec, dict)
    return spec


def test_defaults_give_a_tls_dind_job_with_the_preflight_first(tmp_path: Path) -> None:
    job = _job(_project(tmp_path, DIND_JOB).preview(), "docker-job")

    assert job["image"]["name"] == _template_spec("dind-preflight")["inputs"]["image"]["default"]
    assert job["services"] == [{"name": "docker:27-dind", "alias": "docker"}]
    assert job["variables"] == {
        "DOCKER_HOST": "tcp://docker:2376",
        "DOCKER_TLS_CERTDIR": "/certs",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": "/certs/client",
        "DIND_PREFLIGHT_TIMEOUT": "30",
        "DIND_PREFLIGHT_ACTION": "auto",
        "DIND_PREFLIGHT_REPORT_PROJECT": "",
        "DIND_PREFLIGHT_ARTIFACTS_DIR": ".dind-preflight",
    }
    lines = job_script_lines(job)
    assert lines[-1] == "docker version", "the job's own script runs last"
    assert lines.index("dind-preflight run") < lines.index("docker version")


def test_retry_only_on_exit_75_at_most_twice(tmp_path: Path) -> None:
    job = _job(_project(tmp_path, DIND_JOB).preview(), "docker-job")
    # GitLab retries when `when` matches OR the exit code is listed; with exit_codes and no
    # `when`, nothing but 75 is retried (a failing test suite is never re-run).
    assert job["retry"] == {"max": 2, "exit_codes": [75]}


def test_reports_are_uploaded_also_when_the_job_fails(tmp_path: Path) -> None:
    job = _job(_project(tmp_path, DIND_JOB).preview(), "docker-job")
    assert job["artifacts"] == {
        "when": "always",
        "paths": [".dind-preflight/"],
        "reports": {
            "annotations": ".dind-preflight/annotations.json",
            "junit": ".dind-preflight/junit.xml",
        },
    }


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            {"action": "taint-node", "timeout": 5, "report-project": "infra/incidents"},
            {
                "DIND_PREFLIGHT_ACTION": "taint-node",
                "DIND_PREFLIGHT_TIMEOUT": "5",
                "DIND_PREFLIGHT_REPORT_PROJECT": "infra/incidents",
            },
        ),
        ({"action": "none", "report-project": "4242"}, {"DIND_PREFLIGHT_ACTION": "none"}),
        (
            {"artifacts-dir": "reports/preflight"},
            {"DIND_PREFLIGHT_ARTIFACTS_DIR": "reports/preflight"},
        ),
    ],
)
def test_inputs_become_the_preflight_variables(
    tmp_path: Path, inputs: dict[str, object], expected: dict[str, str]
) -> None:
    job = _job(_project(tmp_path, DIND_JOB, inputs).preview(), "docker-job")
    for key, value in expected.items():
        assert job["variables"][key] == value
    if "artifacts-dir" in inputs:
        directory = inputs["artifacts-dir"]
        assert job["artifacts"]["reports"]["junit"] == f"{directory}/junit.xml"
        assert job["artifacts"]["reports"]["annotations"] == f"{directory}/annotations.json"
        assert job["artifacts"]["paths"] == [f"{directory}/"]


def test_plain_dind_listens_on_2375_without_tls(tmp_path: Path) -> None:
    job = _job(_project(tmp_path, DIND_JOB, {"dind": "plain"}).preview(), "docker-job")
    assert job["services"] == [{"name": "docker:27-dind", "alias": "docker"}]
    assert job["variables"]["DOCKER_HOST"] == "tcp://docker:2375"
    assert job["variables"]["DOCKER_TLS_CERTDIR"] == ""
    assert "DOCKER_TLS_VERIFY" not in job["variables"]
    assert "DOCKER_CERT_PATH" not in job["variables"]


def test_dind_none_leaves_the_service_to_the_job(tmp_path: Path) -> None:
    body = DIND_JOB + "  services:\n    - name: docker:26-dind\n      alias: dind\n"
    job = _job(_project(tmp_path, body, {"dind": "none"}).preview(), "docker-job")
    assert job["services"] == [{"name": "docker:26-dind", "alias": "dind"}]
    assert not any(key.startswith("DOCKER_") for key in job["variables"])
    assert "dind-preflight run" in job_script_lines(job)


def test_retry_can_be_turned_off(tmp_path: Path) -> None:
    job = _job(_project(tmp_path, DIND_JOB, {"retry-max": 0}).preview(), "docker-job")
    assert job["retry"]["max"] == 0


def test_own_before_script_keeps_the_preflight_through_a_reference(tmp_path: Path) -> None:
    job = _job(_project(tmp_path, OWN_BEFORE_SCRIPT_JOB).preview(), "own-setup")
    lines = job_script_lines(job)
    assert lines.index("dind-preflight run") < lines.index('echo "own setup"')


def test_a_job_overriding_before_script_without_the_reference_loses_the_preflight(
    tmp_path: Path,
) -> None:
    # The documented pitfall, pinned so that the documentation stays true.
    body = DIND_JOB + "  before_script:\n    - echo mine\n"
    job = _job(_project(tmp_path, body).preview(), "docker-job")
    assert "dind-preflight run" not in job_script_lines(job)


def test_the_preview_validates_against_gitlabs_schema(
    tmp_path: Path, check_jsonschema: Path
) -> None:
    project = _project(tmp_path, DIND_JOB + OWN_BEFORE_SCRIPT_JOB, {"dind": "plain"})
    preview = tmp_path / "preview.yml"
    preview.write_text(project.preview_text())
    assert_valid_gitlab_ci(check_jsonschema, preview)


def test_the_schema_check_does_reject_an_unknown_job_keyword(
    tmp_path: Path, check_jsonschema: Path
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("job:\n  script: [echo]\n  retry:\n    max: 2\n    exit_code: [75]\n")
    with pytest.raises(AssertionError):
        assert_valid_gitlab_ci(check_jsonschema, bad)


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"action": "explode"}, "is not in the list of allowed options"),
        ({"dind": "podman"}, "is not in the list of allowed options"),
        ({"retry-max": 3}, "is not in the list of allowed options"),
        ({"timeout": "soon"}, "provided value is not a number"),
        ({"report-project": "infra/incidents; rm -rf /"}, "does not match required regex"),
        ({"artifacts-dir": "/etc"}, "does not match required regex"),
        ({"artifacts-dir": "../elsewhere"}, "does not match required regex"),
    ],
)
def test_invalid_inputs_are_rejected_before_any_job_runs(
    tmp_path: Path, inputs: dict[str, object], message: str
) -> None:
    project = _project(tmp_path, DIND_JOB, inputs)
    result = project.run("--preview")
    assert result.returncode != 0
    assert message in result.output
    assert (next(iter(inputs))) in result.output


def test_every_input_has_a_description_and_a_default() -> None:
    for name in ("dind-preflight", "docker-build"):
        for key, spec in _template_spec(name)["inputs"].items():
            assert spec.get("description"), f"{name}: input {key} has no description"
            assert "default" in spec, f"{name}: input {key} has no default"
            if "options" in spec:
                assert spec["default"] in spec["options"], f"{name}: default of {key}"
            if "regex" in spec:
                assert re.fullmatch(spec["regex"], str(spec["default"])), f"{name}: {key}"


def test_the_default_image_is_the_release_of_this_version() -> None:
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name in ("dind-preflight", "docker-build"):
        default = _template_spec(name)["inputs"]["image"]["default"]
        assert default.endswith(f"/dind-preflight:{version}"), f"{name}: {default}"
    values = yaml.safe_load((REPO_ROOT / "deploy/helm/values-runner-wide.yaml").read_text())
    runner_image = tomllib.loads(values["runners"]["config"])["runners"][0]["kubernetes"]["image"]
    assert runner_image == _template_spec("dind-preflight")["inputs"]["image"]["default"]


def test_the_docker_build_component_builds_after_the_preflight(tmp_path: Path) -> None:
    text = include_component("docker-build", {"stage": "package", "push": False})
    text += "stages: [package]\n"
    job = _job(make_project(tmp_path / "project", text).preview(), "docker-build")

    assert job["stage"] == "package"
    assert job["retry"] == {"max": 2, "exit_codes": [75]}
    assert job["variables"]["DOCKER_HOST"] == "tcp://docker:2376"
    assert job["variables"]["DOCKER_BUILD_TAG"] == "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHORT_SHA"
    lines = job_script_lines(job)
    build = next(i for i, line in enumerate(lines) if line.startswith("docker build "))
    assert lines.index("dind-preflight run") < build
    assert 'docker_build_push="false"' in lines[build + 1]


def test_the_docker_build_component_passes_its_inputs_to_the_preflight(tmp_path: Path) -> None:
    inputs = {"action": "none", "timeout": 7, "dind": "plain", "retry-max": 1}
    text = include_component("docker-build", inputs)
    job = _job(make_project(tmp_path / "project", text).preview(), "docker-build")
    assert job["variables"]["DIND_PREFLIGHT_ACTION"] == "none"
    assert job["variables"]["DIND_PREFLIGHT_TIMEOUT"] == "7"
    assert job["variables"]["DOCKER_HOST"] == "tcp://docker:2375"
    assert job["retry"] == {"max": 1, "exit_codes": [75]}


def test_the_docker_build_component_rejects_dind_none(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "project", include_component("docker-build", {"dind": "none"})
    )
    result = project.run("--preview")
    assert result.returncode != 0
    assert "is not in the list of allowed options" in result.output


def assert_valid_gitlab_ci(check_jsonschema: Path, document: Path) -> None:
    """Validate a pipeline file with GitLab's published CI schema (offline copy)."""
    import subprocess

    result = subprocess.run(
        [str(check_jsonschema), "--builtin-schema", "vendor.gitlab-ci", str(document)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _documented_pipelines() -> list[str]:
    text = (REPO_ROOT / "docs" / "component.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    return [
        block for block in blocks if "component:" in block or "extends: .dind-preflight" in block
    ]


def test_the_documented_examples_expand_to_jobs_that_run_the_preflight(tmp_path: Path) -> None:
    examples = _documented_pipelines()
    assert len(examples) >= 3
    for index, example in enumerate(examples):
        # Point the documented catalog path and version at this working tree's commit.
        text = re.sub(
            r"\$CI_SERVER_FQDN/[\w./-]+/(dind-preflight|docker-build)@[\w.~-]+",
            r"$CI_SERVER_FQDN/$CI_PROJECT_PATH/\1@$CI_COMMIT_SHA",
            example,
        )
        if "include:" not in text:
            text = include_component("dind-preflight") + text
        pipeline = make_project(tmp_path / f"example-{index}", text).preview()
        jobs = jobs_of(pipeline)
        assert jobs, f"example {index} defines no job:\n{example}"
        for name, job in jobs.items():
            assert "dind-preflight run" in job_script_lines(job), f"example {index}: {name}"
