"""Errors a user can hit: each carries a one-line message and the exit code it maps to."""

from preflight.exitcodes import ExitCode


class PreflightError(Exception):
    """A failure with a clear one-line message; the CLI prints it and exits with ``exit_code``."""

    exit_code: ExitCode = ExitCode.SOFTWARE

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(PreflightError):
    """Invalid flags or invalid environment (exit 64)."""

    exit_code = ExitCode.USAGE


class InputError(PreflightError):
    """An input path does not exist or cannot be read (exit 66)."""

    exit_code = ExitCode.NO_INPUT
