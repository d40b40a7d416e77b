"""Every internal link of README.md and docs/*.md leads somewhere: the file exists, and its
``#anchor`` is a heading of that file as GitHub (and GitLab) slug it, or an explicit anchor."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
_MD = MarkdownIt("commonmark").enable("table")
_PUNCTUATION = re.compile(r"[^\w\- ]", re.UNICODE)
_HTML_ANCHOR = re.compile(r"""<a\s+(?:name|id)=["']([^"']+)["']""")


def slug(text: str) -> str:
    """GitHub's heading anchor (github-slugger): lower case, punctuation dropped, spaces to -."""
    return _PUNCTUATION.sub("", text.strip().lower()).replace(" ", "-")


def _text(inline: Token) -> str:
    return "".join(
        child.content for child in inline.children or [] if child.type in ("text", "code_inline")
    )


def anchors(page: Path) -> set[str]:
    """The anchors a page offers: its headings' slugs (duplicates numbered) and <a id/name>."""
    source = page.read_text()
    tokens = _MD.parse(source)
    found: set[str] = set()
    seen: dict[str, int] = {}
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        base = slug(_text(tokens[index + 1]))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    found.update(_HTML_ANCHOR.findall(source))
    return found


def links(page: Path) -> list[str]:
    """The href of every Markdown link of ``page``."""
    hrefs: list[str] = []

    def walk(tokens: list[Token]) -> None:
        for token in tokens:
            if token.type == "link_open":
                hrefs.append(str(token.attrs.get("href", "")))
            if token.children:
                walk(token.children)

    walk(_MD.parse(page.read_text()))
    return hrefs


def test_the_slugger_matches_githubs() -> None:
    assert (
        slug("Job mode's undo: dind-preflight resolve") == "job-modes-undo-dind-preflight-resolve"
    )
    assert slug("Set-up") == "set-up" and slug("TLS or not") == "tls-or-not"
    assert slug("Quick start: job mode or fleet mode") == "quick-start-job-mode-or-fleet-mode"
    # the anchor README and docs used before issue 21: GitHub drops the apostrophe, keeps the s
    reporter = anchors(ROOT / "docs" / "reporter.md")
    assert "job-modes-undo-dind-preflight-resolve" in reporter
    assert "job-mode-undo-dind-preflight-resolve" not in reporter


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_internal_links_and_anchors_resolve(page: Path) -> None:
    broken: list[str] = []
    for href in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith("//"):
            continue  # http(s), mailto: not checked here (no network in tests)
        path, _, anchor = href.partition("#")
        target = (page.parent / unquote(path)).resolve() if path else page
        if not target.exists():
            broken.append(
                f"{href}: {target.relative_to(ROOT) if ROOT in target.parents else target} does not exist"
            )
            continue
        if anchor and target.suffix == ".md" and unquote(anchor) not in anchors(target):
            broken.append(f"{href}: no heading or anchor #{anchor} in {target.name}")
    assert not broken, "\n".join(broken)
