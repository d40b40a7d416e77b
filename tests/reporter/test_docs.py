"""docs/reporter.md stays true to the program: every flag of `reporter` and `resolve` that a user
sets in deploy/ is the program's, and every metric the docs list is one the reporter exports."""

from __future__ import annotations

import re
from pathlib import Path

from preflight.cli import build_parser
from preflight.reporter.metrics import Metrics

DOC = (Path(__file__).resolve().parents[2] / "docs" / "reporter.md").read_text()


def test_every_flag_the_docs_name_exists() -> None:
    known: set[str] = set()
    for command in ("reporter", "resolve"):
        sub = build_parser(command)._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
        known |= {opt for action in sub._actions for opt in action.option_strings}
    named = set(re.findall(r"`(--[a-z-]+)", DOC))
    assert named and named <= known, named - known


def test_every_metric_the_docs_name_is_exported() -> None:
    exported = Metrics().render().decode()
    named = set(re.findall(r"`(dind_preflight_reporter_[a-z_]+)", DOC))
    assert len(named) >= 7
    for name in named:
        assert re.search(rf"^# HELP {name}", exported, re.MULTILINE), name
