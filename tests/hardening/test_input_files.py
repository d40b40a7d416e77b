"""preflight.input_files: regular files only, non-blocking, capped, tails, JSON depth."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from preflight.errors import InputError
from preflight.input_files import json_depth, load_json, read_regular, read_text


def test_the_tail_of_a_large_file_and_its_cut_first_line_dropped(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_text("".join(f"line {i}\n" for i in range(100000)) + "the fatal line\n")
    text = read_text(str(path), "the log", 1000, tail=True)
    assert text.endswith("the fatal line\n")
    assert text.splitlines()[0].startswith("line ")
    assert len(text) < 1000


def test_a_large_file_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(InputError, match="2000 bytes, more than the 1000 accepted"):
        read_regular(str(path), "the file", 1000)


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "socket"])
def test_anything_but_a_regular_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    import socket

    path = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    target = "/dev/zero" if kind == "device" else str(path)
    with pytest.raises(InputError) as caught:
        read_regular(target, "the file", 1000)
    # A socket cannot even be opened (ENXIO); the others are refused by their type.
    expected = "No such device or address" if kind == "socket" else "not a regular file"
    assert expected in str(caught.value)


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth('{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert json_depth('"\\"[[["') == 0


def test_deep_json_is_an_input_error_not_a_recursion_error() -> None:
    with pytest.raises(InputError, match="nested 5000 levels deep"):
        load_json("[" * 5000 + "]" * 5000, "x.json")
    assert load_json('{"a": [1]}', "ok.json") == {"a": [1]}
