"""`dind-preflight node-report`: Analyse a host root: are the dind kernel modules loaded now, and will they load at the next boot?"""

from __future__ import annotations

import argparse

from preflight.errors import PreflightError

NAME = "node-report"
HELP = "Analyse a host root: are the dind kernel modules loaded now, and will they load at the next boot?"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's arguments."""


def run(args: argparse.Namespace) -> int:
    """Not built yet."""
    raise PreflightError(f"{NAME} is not implemented yet")
