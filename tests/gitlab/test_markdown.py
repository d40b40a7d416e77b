"""Untrusted text into Markdown: checked against a CommonMark parser, not against strings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.gitlab.issue_text import (
    clean,
    code_span,
    escape_prose,
    fenced_block,
    link,
    one_line,
    prose_with_code,
    safe_token,
    safe_url,
)
from tests.gitlab.markdown_oracle import (
    block_types,
    fences,
    inline_children,
    inline_types,
    link_targets,
    unescaped_references,
)

HOSTILE = [
    "@all please look",
    "ping @here and @channel",
    "see #1 and !2 and ~bug and %v1 and $3 and &4",
    "[click](javascript:alert(1))",
    "![img](http://evil/x.png)",
    "<img src=x onerror=alert(1)>",
    "<!-- hidden --> text",
    "# heading",
    "- list item",
    "1. ordered",
    "> quote",
    "| a | b |",
    "***",
    "__bold__ *em* `code`",
    "line one\nline two\n\n# second heading",
    "trailing backslash \\",
    "&amp; &#64;all",
    "\x1b[31mred\x1b[0m @bob",
    "bidi \u202e@eve\u202c",
    "zero\u200bwidth @zed",
    "http://example.com/@user",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_prose_is_one_plain_paragraph_without_references(text: str) -> None:
    rendered = escape_prose(text)
    assert block_types(rendered) == ["paragraph_open"]
    assert inline_types(rendered) <= {"text", "text_special"}
    assert unescaped_references(rendered) == []
    shown = "".join(c.content for c in inline_children(rendered))
    assert shown == one_line(text)


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_escaped_prose_property(text: str) -> None:
    rendered = escape_prose(text)
    if not one_line(text):
        assert rendered == ""
        return
    assert block_types(rendered) == ["paragraph_open"]
    assert inline_types(rendered) <= {"text", "text_special"}
    assert unescaped_references(rendered) == []
    assert "".join(c.content for c in inline_children(rendered)) == one_line(text)


@pytest.mark.parametrize(
    ("text", "expected_code"),
    [
        ("worker-3", "worker-3"),
        ("has `tick` inside", "has `tick` inside"),
        ("``double``", "``double``"),
        ("`starts", "`starts"),
        ("multi\nline", "multi line"),
        ("@all #1", "@all #1"),
        ("", " "),
    ],
)
def test_code_span_holds_text_verbatim(text: str, expected_code: str) -> None:
    rendered = code_span(text)
    children = inline_children(rendered)
    assert [c.type for c in children] == ["code_inline"]
    assert children[0].content == expected_code


@given(st.text(max_size=120))
@settings(max_examples=200, deadline=None)
def test_code_span_property(text: str) -> None:
    children = inline_children(code_span(text))
    assert [c.type for c in children] == ["code_inline"]
    assert unescaped_references(code_span(text)) == []


@pytest.mark.parametrize(
    "lines",
    [
        ["plain"],
        ["```", "# not a heading", "```"],
        ["````", "@all", "~~~"],
        ["`````` six", "x"],
        [""],
        ["\x1b[1mbold\x1b[0m", "tab\there"],
    ],
)
def test_fenced_block_cannot_be_closed_by_its_content(lines: list[str]) -> None:
    block = fenced_block(lines)
    assert block_types(block) == ["fence"]
    assert fences(block) == ["\n".join(clean(line) for line in lines) + "\n"]


@given(st.lists(st.text(max_size=40), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_fenced_block_property(lines: list[str]) -> None:
    block = fenced_block(lines)
    assert block_types(block) == ["fence"]
    expected = "\n".join(clean(line).replace("\n", " ") for line in lines) + "\n"
    assert fences(block) == [expected]


def test_prose_with_code_keeps_backtick_spans_as_code() -> None:
    rendered = prose_with_code("Load it with `modprobe iptable_nat` now, @ops")
    children = inline_children(rendered)
    assert [c.content for c in children if c.type == "code_inline"] == ["modprobe iptable_nat"]
    assert unescaped_references(rendered) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("worker-3", "worker-3"),
        ("ip-10-0-0-1.ec2.internal", "ip-10-0-0-1.ec2.internal"),
        ("@all #1 <x>", "all-1-x"),
        ("", "unknown"),
        (None, "unknown"),
        ("-->", "unknown"),
        ("a" * 100, "a" * 63),
    ],
)
def test_safe_token(value: str | None, expected: str) -> None:
    assert safe_token(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://gitlab.example.com/g/p/-/jobs/1", "https://gitlab.example.com/g/p/-/jobs/1"),
        ("http://127.0.0.1:8080/a (b)", "http://127.0.0.1:8080/a%20%28b%29"),
        ("javascript:alert(1)", None),
        ("https://user:pw@gitlab.example.com/", None),
        ("https://gitlab.example.com:notaport/", None),
        ("ftp://gitlab.example.com/", None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_link_with_hostile_label_and_url() -> None:
    rendered = link("job @all ](x)", "https://gitlab.example.com/j/1)")
    assert link_targets(rendered) == ["https://gitlab.example.com/j/1%29"]
    assert unescaped_references(rendered) == []
    assert link("job", "javascript:alert(1)") == "job"


def test_clean_strips_invisible_and_control_characters() -> None:
    assert clean("a\x00b\x07c\u202ed\u200be\tf\x1b[31mg") == "abcde fg"
    assert clean("x" * 10, max_len=5) == "xxxx…"
    assert clean("lone \ud800 surrogate") == "lone  surrogate"
