"""`dind-preflight run`: The whole preflight before a job's script: probe, diagnose, act, report, exit with a documented code."""

from __future__ import annotations

import argparse

from preflight.errors import PreflightError

NAME = "run"
HELP = "The whole preflight before a job's script: probe, diagnose, act, report, exit with a documented code."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""


def run(args: argparse.Namespace) -> int:
    """Not built yet."""
    raise PreflightError(f"{NAME} is not implemented yet")
