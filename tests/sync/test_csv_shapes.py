"""Every CSV reader on its good export bent the ways hand-edited and re-saved files bend:
a repeated or empty column name, a lost header row, short lines, a stray quote, old Mac
line ends, a 200 KB value, a NUL byte.

Each sync either reads the file, every record kept or rejected by name, or stops with an
ExportError that names the file and a fix and quotes no member's value; never another
exception. (Before these cases, a 200 KB value stopped the VAN sync with Python's csv
field-limit error, two short lines counted as ten rows, and a file without its header
row listed a member's name and email as its columns.)
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator

import pytest
from test_readers import AN_CSV, SPOKE_CONTACTS, SPOKE_MESSAGES, VAN_FILES

from cyclebook.errors import ExportError

GENERIC = """\
- kind: generic_csv
  path: roster.csv
  activity_type: attendance
  columns: {person_id: Member ID, first_name: First, email: Email, occurred_at: Meeting Date}
"""
GENERIC_TEXT = (
    "Member ID,First,Email,Meeting Date,Notes\n"
    "HY1,Jo,jo@example.org,2026-08-12,brought a friend\n"
    "HY2,Zo,,2026-08-13,\n"
)

READERS: dict[str, tuple[str, dict[str, str], str]] = {
    "action_network": ("- {kind: action_network_csv, path: an}", {"an/a.csv": AN_CSV}, "an/a.csv"),
    "van": (
        "- {kind: van, path: van}",
        {name: textwrap.dedent(text) for name, text in VAN_FILES.items()},
        "van/contactscontacts.csv",
    ),
    "spoke": (
        "- {kind: spoke, path: spoke}",
        {"spoke/c-contacts.csv": SPOKE_CONTACTS, "spoke/c-messages.csv": SPOKE_MESSAGES},
        "spoke/c-contacts.csv",
    ),
    "spreadsheet": (GENERIC, {"roster.csv": GENERIC_TEXT}, "roster.csv"),
}


def _with_column(text: str, name: str, value: str) -> str:
    head, *body = text.splitlines()
    return "\n".join([f"{head},{name}", *(f"{line},{value}" for line in body)]) + "\n"


def _first_line(text: str, change: Callable[[str], str]) -> str:
    head, first, *rest = text.splitlines(keepends=True)
    return head + change(first) + "".join(rest)


MUTATIONS: dict[str, Callable[[str], str]] = {
    "repeated-column": lambda t: _with_column(t, t.split(",", 2)[1], "again"),
    "column-without-name": lambda t: _with_column(t, "", "v"),
    "column-named-oddly": lambda t: _with_column(t, "a\"b;c'd", "v"),
    "nul-byte": lambda t: _first_line(t, lambda line: line.replace(",", ",\x00", 1)),
    "unclosed-quote": lambda t: _first_line(t, lambda line: line.rstrip("\n") + ',"oops\n'),
    "old-mac-line-ends": lambda t: t.replace("\n", "\r"),
    "blank-lines": lambda t: t.replace("\n", "\n\n", 1) + "\n\n",
    "trailing-commas": lambda t: "".join(line + ",\n" for line in t.splitlines()),
    "header-only": lambda t: t.splitlines()[0] + "\n",
    "header-row-lost": lambda t: "".join(line + "\n" for line in t.splitlines()[1:]),
    "short-lines": lambda t: (
        t.splitlines()[0]
        + "\n"
        + "".join(",".join(line.split(",")[:2]) + "\n" for line in t.splitlines()[1:])
    ),
    "padded-header": lambda t: (
        ",".join(f" {c} " for c in t.splitlines()[0].split(","))
        + "\n"
        + "".join(line + "\n" for line in t.splitlines()[1:])
    ),
    "shouted-header": lambda t: (
        t.splitlines()[0].upper() + "\n" + "".join(line + "\n" for line in t.splitlines()[1:])
    ),
    # the last value of the last line (the columns stay aligned; a reject elsewhere in
    # the file makes the sync find its records' lines, where Python's csv module stops
    # at 128 KB unless told)
    "value-of-200-kb": lambda t: t.rstrip("\n").rsplit(",", 1)[0] + ',"' + "x" * 200_000 + '"\n',
    "tab-in-value": lambda t: _first_line(t, lambda line: line.replace(",", ",\t", 1)),
}


def _cases() -> Iterator[tuple[str, str]]:
    for reader in READERS:
        for mutation in MUTATIONS:
            yield reader, mutation


@pytest.mark.parametrize("reader,mutation", list(_cases()))
def test_a_bent_export_is_read_or_refused_by_name(make_cohort, reader, mutation):
    sources, files, target = READERS[reader]
    c = make_cohort(sources)
    for rel, text in files.items():
        c.write(rel, text)
    bent = MUTATIONS[mutation](files[target].lstrip("\ufeff"))
    c.exports.joinpath(target).write_bytes(bent.encode())
    try:
        result = c.sync()
    except ExportError as error:
        message = str(error)
        assert message.startswith(f"[org] {target}") and "Fix:" in message, message
        assert "@example.org" not in message and "Ana" not in message, message
        return
    (read,) = [f for f in result.files if f.file == target]
    assert read.rows_read == read.rows_kept + read.rows_rejected, read
    # never more records than lines below the header (quoted line breaks join lines)
    lines = [line for line in bent.replace("\r", "\n").split("\n")[1:] if line.strip(",")]
    assert read.rows_read <= len(lines), (read, lines)
    rejected = [r for r in c.rejects() if r[0] == target]
    assert len({line for _, line, _, _ in rejected}) == read.rows_rejected, rejected
    assert all(line is not None and line >= 2 for _, line, _, _ in rejected), rejected
