"""The sync phase, as shown in its notebook: sync the organization, then say plainly what
arrived, what was kept, what was rejected and why, and what is missing.

Only aggregates appear: counts, dates, file and column names, reasons and line numbers,
never a member's value. The report is for the organization's own staff alone
(``PHASE_AUDIENCES``: the runner and the notebook refuse any other audience), so its
counts are exact: DESIGN.md suppresses small counts outside the organization, and the
sync report applies no consent to share anything beyond it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from cyclebook import display as d
from cyclebook.card import percent
from cyclebook.config import PHASE_AUDIENCES, Organization
from cyclebook.errors import CyclebookError
from cyclebook.phases import PhaseContext
from cyclebook.store import connect
from cyclebook.sync import NotRead, SyncResult, files_not_read, sync_org
from cyclebook.sync.readers import SUFFIXES
from cyclebook.sync.summary import (
    SOURCE_LABELS,
    UNREAD_KEYS,
    VALUES_REJECTED,
    SyncSummary,
    load_summary,
)

__all__ = ["run", "report", "blocks"]

# the values rejected on rows that were kept, beside the rows read, kept and rejected
# (the figures above the table per tool, and its column)
VALUES_KEPT_ROWS = "Values rejected (their rows kept: listed below)"
VALUES_KEPT_ROWS_COLUMN = "Values rejected (rows kept)"


# What a file of a kind the source's reader does not read can become (beside "save it in
# the format read there", which a dashboard's own CSV export cannot follow)
UNREAD_HINTS = {
    ("mobilize", ".csv"): "Mobilize's dashboard CSV: read it as a spreadsheet (a "
    "generic_csv source whose columns map its person, email, event and date columns), "
    "or pull the attendances from Mobilize's API as JSON into this folder",
    ("action_network_api", ".csv"): "an activist report CSV: give it its own "
    "action_network_csv source",
    ("action_builder", ".csv"): "a spreadsheet of entities: read it as a generic_csv source",
}


def not_read_hint(item: NotRead, org: Organization) -> str:
    """What to do with a file no source reads: for one beside a source whose path names
    one file, how to read it (a spreadsheet's second download is either the sheet's
    newer version, to be the same source by its ``label``, or another sheet, a source of
    its own); else what a file of its type can become (``UNREAD_HINTS``)."""
    if not item.only:
        return UNREAD_HINTS.get((item.kind, Path(item.rel).suffix.lower()), "")
    read = f"'{Path(item.only).name}'"
    source = next(
        (s for s in org.sources if Path(s.path).as_posix() == item.only and s.kind == item.kind),
        None,
    )
    if item.kind == "generic_csv" and source is not None:
        name = source.sheet_name.removeprefix("sheet:")
        return (
            f"this spreadsheet source reads {read} alone. If this file is a newer version "
            f"of that sheet, save it over {read}, or set the source's path to it with "
            f"`label: {name}` (the sheet's name in the store, so its rows are not counted "
            "twice); if it is another sheet, give it a source of its own in cohort.yml "
            "(kind: generic_csv, its path and columns, and a label of its own)"
        )
    return (
        f"this source reads {read} alone: set its path to the folder to read every "
        f"{' or '.join(SUFFIXES[item.kind])} export there (exports accumulate in a "
        "source's folder), or give this file a source of its own in cohort.yml"
    )


# The tools as the store names them (an identity's or an activity's source): the report
# names them as the per-tool table does, not by the store's keys ("action_network")
TOOL_NAMES = {
    "action_network": "Action Network",
    "mobilize": "Mobilize",
    "van": "EveryAction / VAN",
    "spoke": "Spoke",
    "action_builder": "Action Builder",
    "sheet": "Spreadsheet",
}


def files_alike(table: pd.DataFrame) -> pd.DataFrame:
    """The per-file table of unrecognised columns with the files of one folder that
    list the same columns made one row: "mobilize/attendances-page-001.json …
    attendances-page-120.json (120 files)". An API pull writes a page a file, each
    with the same keys, so a group's report listed the same key once per page, a
    screen of identical rows for a few hundred pages."""
    if table.empty:
        return table
    return pd.DataFrame(
        _alike(list(table.columns), table.to_dict("records")), columns=table.columns
    )


def _alike(columns: list[str], records: list[dict]) -> list[dict]:
    """:func:`files_alike` of the table's rows as records (dicts by column)."""
    rest = [c for c in columns if c != "File"]
    rows: list[dict] = []
    run: list[dict] = []

    def close() -> None:
        if len(run) == 1:
            rows.append(run[0])
        elif run:
            first, last = run[0]["File"], run[-1]["File"]
            rows.append({**run[0], "File": f"{first} … {Path(last).name} ({len(run)} files)"})
        run.clear()

    def in_order(row: dict) -> list:  # page-2 before page-10
        return [(int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"(\d+)", row["File"])]

    for row in sorted(records, key=in_order):
        if run and (
            Path(row["File"]).parent != Path(run[-1]["File"]).parent
            or any(row[c] != run[-1][c] for c in rest)
        ):
            close()
        run.append(row)
    close()
    return rows


def tool_name(source: str) -> str:
    """ "Action Network" for action_network, "Spreadsheet (roster)" for sheet:roster."""
    tool, _, sheet = str(source).partition(":")
    name = TOOL_NAMES.get(tool, tool)
    return f"{name} ({sheet})" if sheet else name


def run(ctx: PhaseContext) -> SyncResult:
    """Sync the context's organization (a no-op when its exports have not changed), with
    what its report shows read on the sync's own connection when it wrote."""
    return sync_org(ctx.paths.root, ctx.org, cohort=ctx.cohort, with_summary=True)


def blocks(ctx: PhaseContext, summary: SyncSummary, result: SyncResult | None = None) -> list:
    if ctx.audience not in PHASE_AUDIENCES["sync"]:
        # its counts are exact (a 1 to 9 shown beside the totals it adds up to): it
        # had a "<10" for other audiences that no run ever reached, which hid neither
        # the rows read nor a rejected row's count worked out from them (no secondary
        # suppression). Opening it to another audience needs that, and consent, first.
        raise CyclebookError(
            f"audience {ctx.audience!r}: the sync report is for the organization's own staff only",
            fix="render it for audience 'organization'; the share report is what the cohort "
            "and funders see of a group.",
        )
    out: list = [d.heading("What arrived", 2)]
    if summary.last_failure:
        out.append(
            d.note(
                "The latest sync stopped on an export that could not be read; the figures "
                "below are from the last sync that succeeded. " + summary.last_failure["message"]
                if summary.last_run is not None
                else "The sync stopped on an export that could not be read, and no sync of "
                "this organization has succeeded yet: there are no figures to show until it "
                "is fixed. " + summary.last_failure["message"],
                kind="error",
            )
        )
    if summary.last_run is None:
        if not summary.last_failure:
            out.append(d.note("No successful sync yet: nothing to show.", kind="warning"))
        return out
    run = summary.last_run
    if result is not None and result.status == "unchanged":
        out.append(
            d.note(
                "No export changed since the last sync that read them "
                f"({run['started_at'][:16]} UTC); nothing was re-read. The figures below "
                "are from that sync.",
                kind="info",
            )
        )
    elif result is not None and any(f.carried for f in result.files):
        carried = sum(f.carried for f in result.files)
        out.append(
            d.note(
                f"{len(result.files) - carried} new or changed export(s) were read. "
                f"{carried} unchanged export(s) were not read again; their figures below "
                "are from the sync that read them.",
                kind="info",
            )
        )
    figures = [
        ("Last synced", run["started_at"][:16] + " UTC"),
        ("Rows read", f"{run['rows_read']:,}"),
        ("Rows kept", f"{run['rows_kept']:,}"),
        ("Rows rejected", f"{run['rows_rejected']:,}"),
    ]
    if run.get("values_rejected"):
        figures.append((VALUES_KEPT_ROWS, f"{run['values_rejected']:,}"))
    if run.get("left_out"):
        figures.append(
            (
                "Rows left out (read, not kept and not an error: the notes below say why)",
                f"{run['left_out']:,}",
            )
        )
    if run.get("blank"):
        figures.append(("Blank rows skipped (not counted as read)", f"{run['blank']:,}"))
    out.append(d.definition_list(figures))
    src = summary.source_rows
    names = {
        "source_kind": "Tool",
        "files": "Files",
        "rows_read": "Rows read",
        "rows_kept": "Kept",
        "rows_rejected": "Rejected",
        "values_rejected": VALUES_KEPT_ROWS_COLUMN,
        "left_out": "Left out",
        "blank": "Blank rows skipped",
        "first": "Earliest activity",
        "last": "Latest activity",
        "people_first": "People recorded from",
        "people_last": "People recorded to",
    }
    # the columns a sync with neither says nothing in (no people export: no record dates;
    # a count is NaN where the store has none)
    empty = [
        c
        for c in ("values_rejected", "left_out", "blank")
        if not any(v == v and v for v in src.column(c))
    ]
    empty += [
        c
        for c in ("people_first", "people_last")
        if not any(isinstance(v, str) for v in src.column(c))
    ]
    shown = [i for i, c in enumerate(src.columns) if c not in empty]
    out.append(
        d.text_table(
            [names[src.columns[i]] for i in shown],
            [[row[i] for i in shown] for row in src.rows],
            "Rows read, kept and rejected per tool, with the days its activity covers (its "
            "activities and contact attempts) and, apart, the days its people were first "
            "recorded in it",
        )
    )
    gone = summary.not_read_now
    if gone:
        n = gone["files"]
        out.append(
            d.note(
                f"{n} export file{'s' if n != 1 else ''} that earlier syncs read "
                f"({', '.join(gone['tools'])}) "
                f"{'are' if n != 1 else 'is'} not among the exports read now: taken out of "
                "the export folders, or their source out of cohort.yml. Removing a file "
                "removes nothing from the store: the people and activities "
                f"{'they' if n != 1 else 'it'} brought still count in every report (and in "
                "the activity table below), though the rows and dates above leave "
                f"{'them' if n != 1 else 'it'} out.",
                kind="info",
            )
        )
    retired = summary.retired_sources
    if retired:
        one = len(retired) == 1
        named = ", ".join(f"{tool_name(s)} (in the store: {s})" for s in retired)
        out.append(
            d.note(
                f"The store holds the people and activities of {named}, which no source "
                f"of this organization in cohort.yml names any more: {'its' if one else 'their'}"
                " rows still count in every report. If they should not, `cyclebook forget "
                f"{ctx.paths.root} {ctx.org_id} --source {retired[0] if one else 'NAME'}` "
                "lists what the store holds of it, and removes it with --yes (people also "
                "known to other tools keep their other records).",
                kind="info",
            )
        )
    if summary.note_rows.rows:
        out.append(
            d.text_table(
                summary.note_rows.columns,
                summary.note_rows.rows,
                "What the sync noticed in the exports it read (a file may be read, and kept, "
                "with something to check or fix in the tool)",
            )
        )
    unread = files_not_read(ctx.paths.root, ctx.org)
    if unread:
        beside = sum(1 for item in unread if item.only)
        why = []
        if len(unread) > beside:
            why.append(
                "the tool's reader does not read files of that type (if one holds data the "
                "group wants counted, save it in the format named below in the same folder)"
            )
        if beside:
            why.append(
                f"{beside} {'is' if beside == 1 else 'are'} beside a source whose path "
                "names one file, which is all that source reads (the table says how to "
                "read such a file)"
            )
        out.append(
            d.note(
                f"{len(unread)} file(s) in the export folders were not read: "
                + "; ".join(why)
                + ". A file that holds nothing the group wants counted can be moved out of "
                "the folder.",
                kind="warning",
            )
        )
        out.append(
            d.text_table(
                ["File", "Source", "Files read there", "What to do"],
                [
                    (
                        item.rel,
                        SOURCE_LABELS.get(item.kind, item.kind),
                        f"only {item.only}" if item.only else " or ".join(SUFFIXES[item.kind]),
                        not_read_hint(item, ctx.org),
                    )
                    for item in unread
                ],
                "Files in the export folders that were not read",
            )
        )

    out.append(d.heading("People matched across tools", 3))
    ppl = summary.people
    if ppl["tools"] >= 2 and ppl["match_rate"] is not None:
        out.append(
            d.paragraph(
                f"{ppl['matched']:,} of {ppl['total']:,} people "
                f"({percent(ppl['match_rate'])}) appear in two or more of the organization's "
                f"{ppl['tools']} tools and were matched on email, phone or a shared id "
                "(each spreadsheet source counts as a tool of its own, as in the share and "
                "improve reports)."
            )
        )
        out.append(
            d.text_table(
                ["Tool", "Other tool", "People in both"],
                [(tool_name(a), tool_name(b), n) for a, b, n in summary.pair_rows.rows],
                "People found in both tools of each pair",
            )
        )
    else:
        out.append(
            d.paragraph(
                f"{ppl['total']:,} people, all from one tool: there is nothing to match across "
                "tools yet."
            )
        )

    if ppl.get("merged"):
        merged = ppl["merged"]
        one = merged == 1
        out.append(
            d.paragraph(
                f"{merged:,} {'person' if one else 'people'} already in the store "
                f"{'was' if one else 'were'} found by the last sync to be the same as "
                "another stored person (one of its records carried an email or phone of "
                f"each), and merged into {'them' if one else 'the others'}: their "
                "activities and tool ids are now one person's."
                + (
                    f" {fields:,} of the columns kept beyond the model had a different value "
                    "in each of their records: every value is kept, with its record."
                    if (fields := ppl.get("merged_fields"))
                    else ""
                )
            )
        )

    out.append(d.heading("Rejected rows and values", 3))
    rejects = summary.reject_rows
    if not rejects.rows:
        out.append(d.paragraph("No row or value was rejected."))
    else:
        values = any(rejects.column(VALUES_REJECTED))
        shown = [i for i, c in enumerate(rejects.columns) if values or c != VALUES_REJECTED]
        out.append(
            d.paragraph(
                "Each rejected row is listed by file, line and column with the reason, so it can "
                "be fixed in the tool and exported again (in a JSON file, by its record: the "
                "first in the file's list of records is record 1). Values are not shown."
                + (
                    " A rejected row is not in the store (it counts among the rows rejected "
                    "above); a rejected value is left out of a row that is kept, with the "
                    "rest of its values (the row counts among the rows kept)."
                    if values
                    else ""
                )
            )
        )
        out.append(
            d.text_table(
                [rejects.columns[i] for i in shown],
                [[row[i] for i in shown] for row in rejects.rows],
                "Rejected rows and values by file and reason"
                if values
                else "Rejected rows by file and reason",
            )
        )

    out.append(d.heading("Columns kept beyond the model", 3))
    unknown = summary.unknown_rows
    if not unknown.rows:
        out.append(d.paragraph("Every column was recognised."))
    else:
        unread = any(unknown.column(UNREAD_KEYS))
        out.append(
            d.paragraph(
                "These columns (and an API's custom fields) are not part of the common "
                "model. Their values were kept (never shown in reports); tell the "
                "facilitators if one of them should count in a measure."
                + (
                    " The columns and keys the sync does not read (of a file of activities "
                    "rather than people, such as a VAN contacts table or a JSON page of "
                    "events) are listed apart: their values are not in the store, only in "
                    "the archived copy of the file."
                    if unread
                    else ""
                )
            )
        )
        columns = [c for c in unknown.columns if unread or c != UNREAD_KEYS]
        alike = _alike(
            columns, [dict(zip(unknown.columns, row, strict=True)) for row in unknown.rows]
        )
        out.append(
            d.text_table(
                columns,
                [[row[c] for c in columns] for row in alike],
                "Unrecognised columns, per file (the files of a folder that list the same "
                "columns on one row)",
            )
        )

    out.append(d.heading("Activity recorded", 3))
    out.append(
        d.text_table(
            ["Activity type", "Source", "Activities", "Earliest", "Latest"],
            [(t, tool_name(s), *rest) for t, s, *rest in summary.type_rows.rows],
            "Activities by type and source, with the dates they cover",
        )
    )

    out.append(d.heading("What the ladder needs but the data lacks", 3))
    out.append(
        d.bullets(
            summary.ladder_gaps,
            empty="Every rung of the organization's ladder has data to work from.",
        )
    )
    return out


def report(ctx: PhaseContext) -> None:
    """Sync the organization and show the sync report.

    An export that cannot be read is shown as an error naming the file and the fix, and
    then raised, so the runner marks this organization's sync as failed.
    """
    failure: CyclebookError | None = None
    result = None
    try:
        result = run(ctx)
    except CyclebookError as exc:
        failure = exc
    said = False
    if result is not None and result.summary is not None:
        d.show(*blocks(ctx, result.summary, result))
    elif ctx.paths.store.exists():
        with connect(ctx.store_path) as con:
            summary = load_summary(con, ctx.org)
        d.show(*blocks(ctx, summary, result))
        said = bool(summary.last_failure) and summary.last_failure["message"] == str(failure)
    if failure is not None:
        if not said:  # the failure recorded in the store is this one: said once above
            d.show(d.note(str(failure), kind="error"))
        raise failure
