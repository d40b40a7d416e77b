"""Untrusted text into GitLab Markdown (pure): no broken layout, no mentions, no references.

Node names, log lines, summaries and paths come from the node and the job, so they are treated as
untrusted. Three ways in, by how the text is shown:

- :func:`code_span` / :func:`fenced_block`: verbatim text in code. GitLab never turns ``@user``,
  ``#12``, ``!3`` or ``~label`` inside code into mentions or references, and the fence is always
  longer than any backtick run in the text, so the text cannot close it.
- :func:`escape_prose`: text in running prose; Markdown's inline characters and GitLab's reference
  characters (``@``, ``#``, ``!``, ``~``, ``%``, ``$``, ``&``) are backslash escaped (CommonMark;
  GitLab 14.0+ honours the escape for references), newlines are folded and a block marker at the
  start is escaped, so no heading, list, quote, table or HTML can start.
- :func:`safe_token`: a bare identifier for titles, labels and hidden markers (``[A-Za-z0-9._-]``).

Every function also drops control characters, ANSI colour sequences and bidirectional overrides.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

ELLIPSIS = "…"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# C0/C1 controls except TAB and LF, zero-width and bidirectional formatting characters.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)
# Inline Markdown and GitLab reference characters; escaped wherever they appear in prose.
_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>!|~@#$%&])")
# Characters that start a block (list, quote, heading, setext, table) at the start of a line.
_LEADING = re.compile(r"^([-+=>]|\d+(?=[.)]))")
_BACKTICK_RUN = re.compile(r"`+")
_UNSAFE_TOKEN = re.compile(r"[^A-Za-z0-9._-]+")


def clean(text: str, max_len: int | None = None) -> str:
    """Drop ANSI sequences and invisible/control characters (TAB becomes a space); truncate."""
    text = _ANSI.sub("", text).replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    if max_len is not None and len(text) > max_len:
        text = text[: max(0, max_len - 1)] + ELLIPSIS
    return text


def one_line(text: str, max_len: int | None = None) -> str:
    """:func:`clean`, with every run of whitespace (newlines too) folded into one space."""
    return clean(" ".join(clean(text).split()), max_len)


def _escape(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", text)


def escape_prose(text: str, max_len: int = 2000) -> str:
    """Untrusted text for running prose: one line, Markdown and reference characters escaped."""
    body = _escape(one_line(text, max_len))
    return _LEADING.sub(_escape_leading, body)


def _escape_leading(match: re.Match[str]) -> str:
    token = match.group(1)
    return f"\\{token}" if not token.isdigit() else token + "\\"


_CODE_IN_PROSE = re.compile(r"`([^`\n]+)`")


def prose_with_code(text: str, max_len: int = 2000) -> str:
    """Like :func:`escape_prose`, but backtick-quoted parts of the text stay code (safe spans)."""
    body = one_line(text, max_len)
    parts: list[str] = []
    last = 0
    for match in _CODE_IN_PROSE.finditer(body):
        parts.append(_escape(body[last : match.start()]))
        parts.append(code_span(match.group(1)))
        last = match.end()
    parts.append(_escape(body[last:]))
    return _LEADING.sub(_escape_leading, "".join(parts))


def code_span(text: str, max_len: int = 300) -> str:
    """Untrusted text as inline code; backticks inside cannot close the span."""
    body = one_line(text, max_len)
    if not body:
        return "` `"
    longest = max((len(run) for run in _BACKTICK_RUN.findall(body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def fenced_block(
    lines: list[str] | tuple[str, ...], info: str = "text", max_line: int = 500
) -> str:
    """Untrusted lines as a fenced code block whose fence no line can match."""
    body = [clean(line, max_line).replace("\n", " ") for line in lines]
    longest = max((len(r) for line in body for r in _BACKTICK_RUN.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return "\n".join([f"{fence}{safe_token(info)}", *body, fence])


def safe_token(text: str | None, max_len: int = 63, empty: str = "unknown") -> str:
    """A bare identifier: runs of characters outside ``[A-Za-z0-9._-]`` become ``-``."""
    token = _UNSAFE_TOKEN.sub("-", clean(text or "")).strip("-")[:max_len].strip("-")
    return token or empty


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link target (``()<>`` and spaces encoded), or None."""
    if not url:
        return None
    try:
        parts = urlsplit(clean(url).strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", parts.netloc):
        return None
    keep = "/:%-._~!$&*+,;=@"
    return urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            quote(parts.path, safe=keep),
            quote(parts.query, safe=keep + "?/="),
            quote(parts.fragment, safe=keep),
        )
    )


def link(text: str, url: str | None) -> str:
    """A Markdown link with escaped text; plain escaped text when the URL is not usable."""
    target = safe_url(url)
    label = escape_prose(text, 200)
    return f"[{label}]({target})" if target else label
