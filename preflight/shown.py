"""Values echoed back to the user: control characters escaped, cut to about 200 characters.

Anything a job can set (a variable, a path, a line of a log) may carry a newline that forges a
second log line, an ANSI escape that rewrites the terminal, or 200 KB that buries the message.
"""

from __future__ import annotations

import re

MAX_SHOWN = 200
# A pattern, not a compiled regex: re compiles (and caches) it on first use, which a healthy
# run never reaches.
_CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]"


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``)."""
    return re.sub(_CONTROL, lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """``value`` quoted for a message: escaped, at most ``limit`` characters plus an ellipsis."""
    text = escape_controls(str(value))
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


def one_line(text: str, limit: int = 2000) -> str:
    """A message made safe to print as one line: controls escaped, cut at ``limit``."""
    line = escape_controls(text)
    return line if len(line) <= limit else line[: limit - 3] + "..."


class Explained:
    """Each explanation once: a message whose tail (after one of its ``": "``) was already said
    keeps its own head and points back instead (``"... on this host (as above)"``).

    One instance per text being written (a job log's Why, an issue's evidence), so that the
    reason shared by several modules (e.g. why ``/etc/modules`` is not read) reads once.
    """

    MIN_TAIL = 40  # shorter tails are not explanations worth pointing back to

    def __init__(self) -> None:
        self.said: set[str] = set()

    def once(self, message: str) -> str:
        """``message``, or its head and ``(as above)`` when its explanation was said already."""
        cuts = [i for i in range(len(message)) if message.startswith(": ", i)]
        shortened = message
        for cut in cuts:
            tail = message[cut + 2 :]
            if len(tail) >= self.MIN_TAIL and tail in self.said:
                shortened = f"{message[:cut]} (as above)"
                break
        for cut in cuts:
            tail = message[cut + 2 :]
            if len(tail) >= self.MIN_TAIL:
                self.said.add(tail)
        return shortened
