"""`dind-preflight diagnose`: Diagnose a broken dind service from inside a Kubernetes job (service state and log, helper pod on the node)."""

from __future__ import annotations

import argparse

from preflight.errors import PreflightError

NAME = "diagnose"
HELP = "Diagnose a broken dind service from inside a Kubernetes job (service state and log, helper pod on the node)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""


def run(args: argparse.Namespace) -> int:
    """Not built yet."""
    raise PreflightError(f"{NAME} is not implemented yet")
