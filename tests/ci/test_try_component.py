"""`make try-component` runs the component example in gitlab-ci-local: the target exists, and its
project expands (gitlab-ci-local --preview) to the documented job with the preflight first."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from tests.ci.gitlab_ci_local import REPO_ROOT, job_script_lines, jobs_of, make_project

SCRIPT = REPO_ROOT / "scripts" / "try_component.py"


def _script_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("try_component", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_make_target_runs_the_script_and_the_docs_name_it() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^try-component: .*node-tools", makefile, re.M)
    assert "$(BIN)/python scripts/try_component.py" in makefile
    assert "make try-component" in (REPO_ROOT / "docs" / "component.md").read_text()
    assert "make try-component" in (REPO_ROOT / "README.md").read_text()


def test_the_example_expands_to_a_job_that_runs_the_preflight_first(tmp_path: Path) -> None:
    module = _script_module()
    pipeline = make_project(tmp_path / "app", module.EXAMPLE).preview()
    job = jobs_of(pipeline)[module.JOB]
    lines = job_script_lines(job)
    assert "dind-preflight run" in lines
    assert lines.index("dind-preflight run") < next(
        i for i, line in enumerate(lines) if line.startswith("docker version")
    )
