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
