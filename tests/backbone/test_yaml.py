"""Hostile YAML: Python tags, alias bombs, binary and huge files are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyclebook.errors import ConfigError
from cyclebook.yamlio import MAX_YAML_BYTES, read_yaml, write_yaml_atomic


def test_python_tag_refused(tmp_path: Path) -> None:
    path = tmp_path / "cohort.yml"
    path.write_text("id: x\nname: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    assert caught.value.line == 2
    assert "tag" in str(caught.value) and "Fix:" in str(caught.value)


def test_alias_bomb_refused(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 9):
        prev = chr(ord("a") + n - 1)
        cur = chr(ord("a") + n)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="anchors") as caught:
        read_yaml(path)
    assert caught.value.line == 1


def test_binary_and_huge_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(ConfigError, match="binary"):
        read_yaml(binary)
    huge = tmp_path / "huge.yml"
    huge.write_text("a: " + "x" * (MAX_YAML_BYTES + 1))
    with pytest.raises(ConfigError, match="larger than"):
        read_yaml(huge)


def test_not_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.yml"
    path.write_bytes(b"id: x\nname: Caf\xe9 Workers\n")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    assert caught.value.line == 2
    assert "UTF-8" in str(caught.value)


def test_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("id: x\nname: [unclosed\nother: 1\n")
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    assert caught.value.line is not None and caught.value.column is not None


def test_bom_is_accepted_and_marks_kept(tmp_path: Path) -> None:
    path = tmp_path / "bom.yml"
    path.write_bytes("\ufeffid: x\nitems:\n  - name: a\n  - name: b\n".encode())
    located = read_yaml(path)
    assert located.data == {"id": "x", "items": [{"name": "a"}, {"name": "b"}]}
    assert located.locate(["items", 1, "name"]) == (4, 5)
    assert located.locate(["items", 7]) == (2, 1)  # deepest known prefix


def test_atomic_write_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "file.yml"
    write_yaml_atomic(path, {"text": "<script>alert(1)</script> {{ jinja }} $(rm -rf /)"})
    assert read_yaml(path).data["text"] == "<script>alert(1)</script> {{ jinja }} $(rm -rf /)"
    assert [p.name for p in path.parent.iterdir()] == ["file.yml"]


FAST_PATH_TEXT = """\
id: demo  # a comment
name: "Eastside Tenants!"
organizations:
  - id: east
    notes: |
      We did it! Rent strike *won*, & more.
    sources: [{kind: van, path: van}]
  - id: west
    dates: {start: 2026-03-02, end: 2026-04-13}
empty:
"""


def test_libyaml_and_the_strict_parser_read_the_same(tmp_path: Path, monkeypatch) -> None:
    """Files are parsed by libyaml when they hold no tag, anchor or alias (an exclamation
    mark in text is none of these): the data and every line/column are what the strict
    pure-Python loader gives."""
    import datetime as dt

    from cyclebook import yamlio

    path = tmp_path / "cohort.yml"
    path.write_text(FAST_PATH_TEXT)
    node, data = yamlio._parse_fast(FAST_PATH_TEXT)
    assert node is not None  # the fast path took it
    fast = read_yaml(path)
    monkeypatch.setattr(yamlio, "_parse_fast", lambda text: (None, None))
    strict = read_yaml(path)
    assert fast.data == strict.data == data
    assert fast.marks == strict.marks
    assert fast.data["organizations"][0]["notes"] == "We did it! Rent strike *won*, & more.\n"
    assert fast.data["organizations"][1]["dates"]["start"] == dt.date(2026, 3, 2)
    assert fast.locate(("organizations", 1, "dates", "end")) == (9, 32)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: 2\n",  # an anchor, even unused
        "a: [1]\nb: *a\n",  # an alias
        "a: !custom 1\n",  # a tag
        "a: [1, 2\n",  # a syntax error: worded by the strict loader
    ],
)
def test_the_fast_path_leaves_refusals_to_the_strict_loader(text: str) -> None:
    from cyclebook import yamlio

    assert yamlio._parse_fast(text) == (None, None)
