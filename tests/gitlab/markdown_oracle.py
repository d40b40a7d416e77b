"""A CommonMark parser (markdown-it-py) as the oracle for what GitLab would render."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

# What GitLab turns into a mention or a reference when it appears in rendered text.
REFERENCE = re.compile(r"[@#!~%$&][\w\"]")


def parser() -> MarkdownIt:
    """CommonMark, with escapes kept as separate ``text_special`` tokens."""
    md = MarkdownIt("commonmark")
    md.disable("text_join")
    return md


def tokens(markdown: str) -> list[Token]:
    return parser().parse(markdown)


def inline_children(markdown: str) -> list[Token]:
    """Every inline token of the document, flattened."""
    return [child for tok in tokens(markdown) for child in (tok.children or [])]


def unescaped_references(markdown: str) -> list[str]:
    """Mentions/references GitLab would act on: in plain text, not escaped, not in code."""
    found: list[str] = []
    for child in inline_children(markdown):
        if child.type == "text":
            found.extend(m.group(0) for m in REFERENCE.finditer(child.content))
    return found


def block_types(markdown: str) -> list[str]:
    """The block structure: heading_open, paragraph_open, fence, html_block, ..."""
    return [t.type for t in tokens(markdown) if t.level == 0 and not t.type.endswith("_close")]


def fences(markdown: str) -> list[str]:
    """The contents of the fenced code blocks, in order."""
    return [t.content for t in tokens(markdown) if t.type == "fence"]


def headings(markdown: str) -> list[str]:
    toks = tokens(markdown)
    return [toks[i + 1].content for i, t in enumerate(toks) if t.type == "heading_open"]


def link_targets(markdown: str) -> list[str]:
    return [str(c.attrs.get("href")) for c in inline_children(markdown) if c.type == "link_open"]


def inline_types(markdown: str) -> set[str]:
    return {c.type for c in inline_children(markdown)}
