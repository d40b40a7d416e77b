"""`dind-preflight report`: Report a diagnosis to GitLab: pause the runner, open or update one issue per node and cause, write job artifacts."""

from __future__ import annotations

import argparse

from preflight.errors import PreflightError

NAME = "report"
HELP = "Report a diagnosis to GitLab: pause the runner, open or update one issue per node and cause, write job artifacts."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""


def run(args: argparse.Namespace) -> int:
    """Not built yet."""
    raise PreflightError(f"{NAME} is not implemented yet")
