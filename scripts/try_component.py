"""`make try-component`: the component example of docs/component.md, run in gitlab-ci-local.

A throwaway project (in a temporary directory) includes this checkout's `dind-preflight`
component at its own commit, exactly as a user's `.gitlab-ci.yml` would, and gitlab-ci-local runs
its job with the shell executor: first against a healthy dockerd (the job's script runs), then
against the field report's dind, which died on start (the preflight diagnoses it and the job
exits 75). gitlab-ci-local cannot start `services:`, so the daemons come from tests/harness (each
in its own network namespace) and the job uses the component's `dind: none` variant with
DOCKER_HOST pointing at them. Nothing is sent to any GitLab (no token: a dry run).
Needs `make venv node-tools` and dockerd (`make try-component` installs them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ci.gitlab_ci_local import include_component, make_project  # noqa: E402
from tests.harness.launch import start, stop  # noqa: E402

JOB = "build"
EXAMPLE = include_component("dind-preflight", {"dind": "none", "timeout": 10}) + (
    f"{JOB}:\n"
    "  extends: .dind-preflight\n"
    "  script:\n"
    "    - docker version --format 'server {{.Server.Version}}'\n"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=("healthy", "field-report"), help="run one of the two cases"
    )
    args = parser.parse_args(argv)
    kinds = [args.only] if args.only else ["healthy", "field-report"]
    status = 0
    with tempfile.TemporaryDirectory(prefix="dind-preflight-try-") as work:
        base = Path(work)
        print(f"try-component: the project's .gitlab-ci.yml\n{EXAMPLE}", flush=True)
        for kind in kinds:
            daemon = base / f"daemon-{kind}"
            try:
                facts = start(kind, daemon)
                project = make_project(base / f"project-{kind}", EXAMPLE)
                variables = {
                    "DOCKER_HOST": facts["DAEMON_HOST"],
                    "DIND_PREFLIGHT_SERVICE_LOG": facts["DAEMON_LOG"],
                }
                print(f"\n== gitlab-ci-local {JOB}: dind {kind} ({facts['DAEMON_HOST']})")
                result = project.run("--force-shell-executor", JOB, variables=variables)
                print(result.output, end="", flush=True)
                expected_ok = kind == "healthy"
                if (result.returncode == 0) != expected_ok:
                    status = 1
                    print(f"try-component: unexpected result for {kind}", file=sys.stderr)
            finally:
                stop(daemon)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
