"""`dind-preflight probe`: Probe the Docker daemon behind DOCKER_HOST."""

from __future__ import annotations

import argparse

from preflight.errors import PreflightError

NAME = "probe"
HELP = "Probe the Docker daemon behind DOCKER_HOST."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""


def run(args: argparse.Namespace) -> int:
    """Not built yet."""
    raise PreflightError(f"{NAME} is not implemented yet")
