"""Safe YAML reading that remembers where each value came from.

Facilitators paste text from anywhere into cohort, cycle and reflection files. This loader:

* refuses Python tags (``!!python/object``) and every other non-standard tag,
* refuses anchors and aliases outright, which rules out "billion laughs" alias bombs
  (cyclebook files never need them),
* refuses files over a size limit and files that are not UTF-8 text,
* keeps the line and column of every mapping key and sequence item, so a validation
  error can point at the exact place in the file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cyclebook.errors import ConfigError

MAX_YAML_BYTES = 2 * 1024 * 1024


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and anchors."""

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                "while reading the file",
                None,
                "YAML aliases (*name) are not allowed in cyclebook files",
                event.start_mark,
            )
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise yaml.MarkedYAMLError(
                "while reading the file",
                None,
                f"YAML anchors (&{anchor}) are not allowed in cyclebook files",
                event.start_mark,
            )
        return super().compose_node(parent, index)


@dataclass
class LocatedYaml:
    """Parsed data plus the line/column of every path inside it."""

    path: Path
    data: Any
    marks: dict[tuple, tuple[int, int]]
    # the document as the parser that read it composed it (None for an empty file)
    node: Any = None
    # SHA-256 of the bytes parsed: what was read, whatever the file holds by now
    sha256: str = ""

    def locate(self, loc: Sequence[Any]) -> tuple[int | None, int | None]:
        """Best line/column (1-based) for a pydantic ``loc``: the deepest known prefix."""
        key = tuple(loc)
        while key:
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return self.marks.get((), (None, None))


def _collect_marks(node: yaml.Node, prefix: tuple, marks: dict) -> None:
    marks[prefix] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            marks[prefix + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _collect_marks(value_node, prefix + (key,), marks)
            # keep the key position, which reads better than the value's
            marks[prefix + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_marks(item, prefix + (index,), marks)


# Characters that start a tag (!), an anchor (&) or an alias (*): text with none of them
# cannot hold any of the three, whatever the parser.
_REFUSED_MARKERS = frozenset("!&*")


def _refused_by_strict_loader(text: str, loader_class: type) -> bool:
    """Does the text hold a tag, an anchor or an alias (libyaml's events say so)?"""
    for event in yaml.parse(text, Loader=loader_class):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            return True
        if isinstance(event, yaml.NodeEvent) and getattr(event, "tag", None) is not None:
            return True
    return False


def _load(loader_class: type, text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node (for line numbers) and its data, from one parse."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _parse_fast(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse with libyaml, about 20x faster than the pure-Python parser (a cohort.yml is
    read by every report), when the text holds nothing the strict loader refuses.

    Returns ``(None, None)`` to leave the file to the strict loader: when libyaml is
    missing, the text holds a tag, an anchor or an alias, the document is empty, or
    libyaml finds an error (the strict loader then words it the same way every time)."""
    loader_class = getattr(yaml, "CSafeLoader", None)
    if loader_class is None:
        return None, None
    try:
        if not _REFUSED_MARKERS.isdisjoint(text) and _refused_by_strict_loader(text, loader_class):
            return None, None
        return _load(loader_class, text)  # (None, None) for an empty document
    except yaml.YAMLError:
        return None, None


def read_yaml(path: str | Path, *, what: str = "file") -> LocatedYaml:
    """Read a YAML file safely; every failure is a :class:`ConfigError` naming line and fix."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, f"{what} not found", fix=f"create {path} (see README, 'cycles/').")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError(
            path,
            f"{what} is {size:,} bytes, larger than the {MAX_YAML_BYTES:,}-byte limit",
            fix="configuration files are small text files; check that the right file is named.",
        )
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise ConfigError(path, f"{what} is binary, not YAML text", fix="save it as UTF-8 text.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            path, "is not UTF-8 text", line=line, fix="re-save the file with UTF-8 encoding."
        ) from exc
    node, data = _parse_fast(text)
    try:
        if node is None:
            node, data = _load(_StrictSafeLoader, text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        problem = exc.problem or str(exc)
        fix = "correct the YAML syntax at that place (indentation, quotes, a missing ':')."
        if "tag" in problem or "could not determine a constructor" in problem:
            problem = f"refused a YAML tag: {problem}"
            fix = "remove the '!!' tag; cyclebook files hold plain text, numbers, lists and maps."
        elif "alias" in problem or "anchor" in problem:
            fix = "write the value out in full instead of using &anchor / *alias."
        raise ConfigError(path, problem, line=line, column=column, fix=fix) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"cannot read YAML: {exc}", fix="check the file's syntax.") from exc
    marks: dict[tuple, tuple[int, int]] = {}
    if node is not None:
        _collect_marks(node, (), marks)
    sha256 = hashlib.sha256(raw).hexdigest()
    return LocatedYaml(path=path, data=data, marks=marks, node=node, sha256=sha256)


def refuse_duplicate_keys(located: LocatedYaml) -> None:
    """YAML keeps the last of two equal keys; in a hand-edited file the first would vanish
    silently (a reflection's first answer, an organization's first list of ``sources``),
    so a repeated key is an error naming both lines."""
    # the document read_yaml composed, not the file parsed again: a second parse by the
    # pure-Python parser refused some text libyaml had read, such as a '?' in a flow
    # list ("questions: [Should dues count?]"), a traceback in validate, next-cycle and
    # the cohort summary
    path = located.path
    stack = [(located.node, ())]
    while stack:
        current, where = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in current.value:
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    field = ".".join(str(p) for p in (*where, key))
                    raise ConfigError(
                        path,
                        f"'{key}' appears twice in the same place (lines {seen[key]} and "
                        f"{line}); YAML would keep only the second",
                        field=field,
                        line=line,
                        fix=f"merge the two '{key}' entries into one.",
                    )
                seen[key] = line
                stack.append((value_node, (*where, key)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, (*where, i)) for i, item in enumerate(current.value))


def write_yaml_atomic(path: str | Path, data: Any) -> None:
    """Write YAML through a temporary file and an atomic rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    write_text_atomic(path, text)


def write_text_atomic(path: str | Path, text: str | bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; reports and configs are ordinary files (0644 under umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
