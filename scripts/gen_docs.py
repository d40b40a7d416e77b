"""Regenerate what README.md and docs/*.md quote from the program: ``make docs``.

A quoted part sits between two markers::

    <!-- begin generated: help run -->
    ...
    <!-- end generated -->

and is replaced by what its recipe (``help run``) produces by running the real ``dind-preflight``
(see RECIPES). ``--check`` changes nothing: it prints a diff and exits 1 when a part is out of
date (tests/test_docs.py runs it), so the docs cannot drift from the program. Durations and
attempt counts are the only things ``--check`` ignores: they differ from run to run.

Examples run against the field report's real data: the dind log captured from a real dockerd
(tests/kube/logs/legacy-nat-missing.log) and the CentOS 8 host root (demo/roots/). The probe's
target is tcp://localhost:2375, the address of the field report, where nothing listens (run this
in a network namespace of its own, as `make docs` does, to be sure of it).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FIELD_ROOT = "demo/roots/centos8-field-report"
FIELD_LOG = REPO / "tests" / "kube" / "logs" / "legacy-nat-missing.log"
BLOCK = re.compile(
    r"(?P<begin><!-- begin generated: (?P<recipe>[^>]+?) -->\n)(?P<body>.*?)(?P<end><!-- end generated -->)",
    re.DOTALL,
)
_VOLATILE = re.compile(r"\b\d+(\.\d+)? s\b|\b\d+ attempts?\b")
# What a GitLab job has (the demo's values); a dry run sends nothing anywhere.
JOB_ENV = {
    "CI_SERVER_URL": "https://gitlab.example.com",
    "CI_API_V4_URL": "https://gitlab.example.com/api/v4",
    "CI_RUNNER_ID": "42",
    "CI_RUNNER_DESCRIPTION": "k8s-runner-a",
    "CI_JOB_ID": "1001",
    "CI_JOB_TOKEN": "glcbt-64_demo-job-token-1001",  # every job has one: GET /job names its runner
    "CI_PROJECT_PATH": "acme/app",
    "CI_JOB_URL": "https://gitlab.example.com/acme/app/-/jobs/1001",
    "DIND_PREFLIGHT_REPORT_PROJECT": "infra/runner-incidents",
}


ADMIN_NODE_ROOT = "/mnt/node-root"  # where the demo's runner mounts the node's / read-only
ADMIN_CONFIG = {"gitlab_url": "https://gitlab.example.com", "node_root": ADMIN_NODE_ROOT}


def _with_admin_file(command: list[str], work: Path) -> list[str]:
    """``command`` where the runner's admin has configured job mode: the admin's file at its
    fixed path and the field report's root mounted read-only at ``node_root``, in the command's
    own mount namespace (the machine's /etc and /mnt are left alone: an overlay, a tmpfs)."""
    import json
    import shlex

    (work / "config.json").write_text(json.dumps(ADMIN_CONFIG))
    for name in ("up", "work"):
        (work / name).mkdir()
    script = "\n".join(
        [
            "set -e",
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={work}/up,workdir={work}/work /etc",
            "mkdir -p /etc/dind-preflight",
            f"cp {work}/config.json /etc/dind-preflight/config.json",
            "mount -t tmpfs tmpfs /mnt",
            f"mkdir -p {ADMIN_NODE_ROOT}",
            f"mount --bind {shlex.quote(str(REPO / FIELD_ROOT))} {ADMIN_NODE_ROOT}",
            f"mount -o remount,bind,ro {ADMIN_NODE_ROOT}",
            'exec "$@"',
        ]
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]


def _program(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = REPO, admin: bool = False
) -> str:
    """What ``dind-preflight ARGS`` prints (stdout, then stderr), run by this interpreter;
    ``admin``: with the admin's file (:func:`_with_admin_file`)."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "COLUMNS": "100",
        "PYTHONPATH": str(REPO),
    }
    command = [sys.executable, "-m", "preflight", *args]
    if admin:
        command = _with_admin_file(command, Path(tempfile.mkdtemp(prefix="admin-")))
    result = subprocess.run(
        command,
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout + result.stderr


def _fenced(text: str, command: str = "") -> str:
    shown = f"$ {command}\n" if command else ""
    return f"```text\n{shown}{text.rstrip()}\n```\n"


def help_of(command: str = "") -> str:
    args = [command, "--help"] if command else ["--help"]
    return _fenced(_program(args), f"dind-preflight {' '.join(args)}")


def usage_of(command: str) -> str:
    text = _program([command, "--help"])
    usage = text.split("\n\n", 1)[0]
    return _fenced(usage)


def exit_codes(command: str = "") -> str:
    from preflight.exitcodes import BY_COMMAND, GENERAL

    if command:
        rows = [f"| {int(code)} | {text} |" for code, text in sorted(BY_COMMAND[command].items())]
        return "\n".join(["| exit code | meaning |", "| --- | --- |", *rows]) + "\n"
    codes = sorted({code for table in BY_COMMAND.values() for code in table})
    header = "| code | meaning | " + " | ".join(f"`{name}`" for name in BY_COMMAND) + " |"
    lines = [header, "| --- | --- |" + " --- |" * len(BY_COMMAND)]
    for code in codes:
        marks = " | ".join("yes" if code in table else "" for table in BY_COMMAND.values())
        lines.append(f"| {int(code)} | {GENERAL[code]} | {marks} |")
    return "\n".join(lines) + "\n"


def run_field_report() -> str:
    """``dind-preflight run`` on the field report's node: the log a terminal shows."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(FIELD_LOG, work / "dockerd.log")
        env = {
            **JOB_ENV,
            "DOCKER_HOST": "tcp://localhost:2375",
            "DIND_PREFLIGHT_SERVICE_LOG": "dockerd.log",
        }
        text = _program(["run"], env, cwd=work, admin=True)
    return _fenced(text, "dind-preflight run")


def node_report_field_report() -> str:
    # The set the field report's dind used: its log says `iptables v1.8.9 (legacy)` (`auto` would
    # check the nft set on this root, where no legacy table is registered yet).
    args = ["node-report", "--root", FIELD_ROOT, "--backend", "legacy"]
    return _fenced(_program(args), "dind-preflight " + " ".join(args))


def diagnose_field_report() -> str:
    args = [
        "diagnose",
        "--host-root",
        FIELD_ROOT,
        "--service-log",
        "tests/kube/logs/legacy-nat-missing.log",
    ]
    return _fenced(_program(args), "dind-preflight " + " ".join(args))


def probe_refused() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(FIELD_LOG, Path(tmp) / "dockerd.log")
        args = ["probe", "--no-wait", "--daemon-log", "dockerd.log"]
        text = _program(args, {"DOCKER_HOST": "tcp://localhost:2375"}, cwd=Path(tmp))
    return _fenced(text, "dind-preflight " + " ".join(args))


def decision_rules() -> str:
    """The diagnosis' decision table, from ``preflight.diagnosis.decide.RULES``."""
    from preflight.diagnosis.decide import rule_table_markdown

    return rule_table_markdown()


RECIPES: dict[str, Callable[..., str]] = {
    "help": help_of,
    "usage": usage_of,
    "exit-codes": exit_codes,
    "decision-rules": lambda: decision_rules(),
    "run field-report": lambda: run_field_report(),
    "node-report field-report": lambda: node_report_field_report(),
    "diagnose field-report": lambda: diagnose_field_report(),
    "probe refused": lambda: probe_refused(),
}


def produce(recipe: str) -> str:
    """The text of one recipe: ``name`` or ``name ARG`` (e.g. ``help run``)."""
    if recipe in RECIPES:
        return RECIPES[recipe]()
    name, _, argument = recipe.partition(" ")
    if name not in RECIPES:
        raise SystemExit(f"gen_docs: unknown recipe {recipe!r}")
    return RECIPES[name](argument)


def regenerate(text: str) -> str:
    return BLOCK.sub(lambda m: m["begin"] + produce(m["recipe"]) + m["end"], text)


def _stable(text: str) -> str:
    return _VOLATILE.sub("N", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    drifted = 0
    for path in DOCS:
        old = path.read_text()
        new = regenerate(old)
        if _stable(new) == _stable(old):
            continue
        if args.check:
            drifted += 1
            name = str(path.relative_to(REPO))
            sys.stdout.writelines(
                difflib.unified_diff(
                    old.splitlines(keepends=True), new.splitlines(keepends=True), name, name
                )
            )
        else:
            path.write_text(new)
            print(f"gen_docs: updated {path.relative_to(REPO)}")
    if drifted:
        print(f"gen_docs: {drifted} file(s) differ from the program: run `make docs`")
    return 1 if drifted else 0


if __name__ == "__main__":
    sys.exit(main())
