"""One parser per kind of input (seconds, count, URL, directory, choice, boolean), each naming its
source.

Every flag and ``DIND_PREFLIGHT_*`` variable goes through one of these at the command-line and
settings edges, so that the same mistake reads the same everywhere, on one line, with the exit
code the README documents: ``DIND_PREFLIGHT_TIMEOUT='0' must be more than 0 to 3600 seconds``.
``source`` is the variable or flag the value came from (see :func:`flag_or_env`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from preflight.errors import InputError, UsageError

TYPE_CHECKING = False  # typing's constant without importing typing: the healthy path
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from urllib.parse import SplitResult


@dataclass(frozen=True)
class Raw:
    """A value as given, and where it came from (a flag or a variable)."""

    value: str | None
    source: str


def flag_or_env(flag_value: object, flag: str, env: Mapping[str, str], variable: str) -> Raw:
    """The flag's value when given, else the variable's (an empty variable counts as unset)."""
    if flag_value is not None and str(flag_value) != "":
        return Raw(str(flag_value), flag)
    text = env.get(variable, "").strip()
    return Raw(text or None, variable)


def shown(value: object) -> str:
    """A value quoted for an error message: control characters escaped, at most 60 characters
    (:func:`preflight.shown.shown`)."""
    from preflight.shown import shown as quoted

    return quoted(value, 60)


def seconds(value: object, source: str, *, high: float, allow_zero: bool = False) -> float:
    """A finite number of seconds, more than 0 (or 0 when ``allow_zero``) and at most ``high``."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise UsageError(f"{source}={shown(value)} is not a number of seconds") from None
    low_ok = number >= 0 if allow_zero else number > 0
    if not math.isfinite(number) or not low_ok or number > high:
        bound = "0" if allow_zero else "more than 0"
        raise UsageError(f"{source}={shown(value)} must be {bound} to {high:g} seconds")
    return number


def count(value: object, source: str, *, high: int) -> int:
    """A whole number from 0 to ``high``."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or int(text) > high:
        raise UsageError(f"{source}={shown(text)} must be a whole number from 0 to {high}")
    return int(text)


def choice(value: object, source: str, choices: Sequence[str], *, ignore_case: bool = False) -> str:
    """One of ``choices`` (returned as spelled there)."""
    text = str(value).strip()
    for candidate in choices:
        if text == candidate or (ignore_case and text.lower() == candidate.lower()):
            return candidate
    raise UsageError(f"{source}={shown(text)} must be one of {', '.join(choices)}")


def http_url(
    value: object, source: str, *, example: str = "https://gitlab.example.com"
) -> SplitResult:
    """An http(s) URL with a host and without credentials."""
    from urllib.parse import urlsplit

    text = str(value).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise UsageError(f"{source} is not a valid URL (expected {example})") from None
    if parts.username or parts.password or "@" in parts.netloc:
        raise UsageError(f"{source} must not contain credentials")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{source}={shown(text)} is not an http(s) URL (expected {example})")
    return parts


def gitlab_server_url(value: object, source: str, *, allow_http: bool = True) -> str:
    """A GitLab server URL, ``https://host[:port][/prefix]`` with any trailing ``/api/v4``
    removed; plain http only when ``allow_http`` (a test server)."""
    from urllib.parse import urlunsplit

    text = str(value).strip()
    parts = http_url(text, source)
    if parts.scheme == "http" and not allow_http:
        raise UsageError(
            f"{source}={shown(text)} is plain http: the token would travel in clear text "
            "(use https, or set DIND_PREFLIGHT_ALLOW_HTTP=1 for a test server)"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"{source}={shown(text)} must not have a query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/api/v4"):
        path = path[: -len("/api/v4")]
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


def directory(value: object, source: str) -> str:
    """An existing directory (exit 66 when it is missing or not a directory)."""
    path = str(value).strip()
    if not os.path.isdir(path):
        what = "does not exist" if not os.path.exists(path) else "is not a directory"
        from preflight.shown import shown as quoted

        raise InputError(f"{source}={quoted(path)} {what}")
    return path


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def boolean(value: object, source: str, *, default: bool = False) -> bool:
    """A switch: 1/true/yes/on or 0/false/no/off (any case); unset or empty is ``default``.

    Anything else is an error naming ``source``: ``DIND_PREFLIGHT_DISABLE=0`` must not disable,
    and ``DIND_PREFLIGHT_DISABLE=please`` must not be guessed either way.
    """
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return default
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise UsageError(
        f"{source}={shown(value)} must be on ({', '.join(TRUE_WORDS)}) "
        f"or off ({', '.join(FALSE_WORDS)})"
    )


def env_boolean(env: Mapping[str, str], name: str, *, default: bool = False) -> bool:
    """:func:`boolean` of the variable ``name`` (unset or empty: ``default``)."""
    return boolean(env.get(name), name, default=default)
