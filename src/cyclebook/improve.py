"""Improve: where an organization could create and track data better.

:func:`diagnose` reads the store (read-only; open it with ``cyclebook.store.connect``) and
returns the data-quality findings of DESIGN.md, each with how many records it affects,
which measures it weakens, and a concrete practice that fixes it, ranked by impact:

========================  ============================================================
key                       what is counted
========================  ============================================================
``untracked_types``       ladder rules (rung conditions) that nothing in the store can
                          satisfy: the activity type (or role, or assessment score) the
                          ladder needs is never recorded
``attendance``            past events with no attendance marked (no activity for the
                          event has ``attended`` set)
``duplicates``            extra person records: person ids sharing one ``match_key``
                          (the salted hash of a normalized email or phone), plus extra
                          records of one person inside one tool (several VAN ids)
``entry_lag``             activities entered more than ``lag_days`` after they happened
                          (``recorded_at - occurred_at``)
``match_rate``            people seen in only one tool, when the group uses several
``organizer``             relational activities (1:1s, conversations, assessments,
                          attendance, survey responses) with no organizer recorded
``contact_fields``        people whose email or text permission (``email_ok``,
                          ``sms_ok``) is unknown
========================  ============================================================

Only counts leave this module; no member value (name, email, id, note) is ever read
into a finding.

Impact is the share of records affected times a weight saying how directly the gap bends
a headline number (a rung nobody can reach hides a whole rung; unknown text permission
only narrows follow-up). A check with nothing to count (no events, a single tool) is
reported as not applicable, never as a perfect score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd

from cyclebook import display as d
from cyclebook import privacy
from cyclebook.card import people as people_count
from cyclebook.card import percent
from cyclebook.config import Organization, RungCondition
from cyclebook.store import matched_identity

__all__ = [
    "Finding",
    "ORGANIZER_TYPES",
    "WEIGHTS",
    "diagnose",
    "findings_frame",
    "improve_blocks",
]

#: Activity types where someone on staff did the work and should be named as organizer.
ORGANIZER_TYPES: tuple[str, ...] = (
    "one_on_one",
    "conversation",
    "assessment",
    "attendance",
    "survey_response",
)

#: How directly each gap bends a headline number (multiplies the share affected).
WEIGHTS: dict[str, float] = {
    "untracked_types": 1.0,
    "attendance": 0.9,
    "duplicates": 0.9,
    "entry_lag": 0.7,
    "match_rate": 0.6,
    "organizer": 0.5,
    "contact_fields": 0.4,
}

#: Practices that make an activity type (or role) appear in the data.
TYPE_PRACTICES: dict[str, str] = {
    "one_on_one": "Log every one-on-one the same day in one shared place (an Action Builder "
    "field or a VAN contact type 'One on One'); review the log at the weekly staff meeting.",
    "assessment": "Assess leaders on the group's own scale once a quarter in Action Builder, "
    "at a staff meeting, so the leader rung has a recorded basis.",
    "donation": "Record dues and donations in the tool that syncs (Action Network donation "
    "pages or a monthly dues spreadsheet with a member id column).",
    "attendance": "Use a sign-in sheet or the Mobilize check-in at every meeting and action.",
    "activist_code": "Apply the agreed activist codes in VAN right after each action.",
    # VAN canvass results and Spoke texts arrive as contact attempts, which count in the
    # contact figures and on no rung: "log doors as canvass results in VAN" could not
    # give a rung over conversations anything to count
    "conversation": "Record each conversation with a member the same evening as a row of a "
    "conversations sheet the sync reads (a spreadsheet source whose type column says "
    "conversation); canvass results in VAN count in the contact figures, not on the ladder.",
    "text": "Record the text conversations the ladder counts as rows of a sheet the sync "
    "reads (type text); Spoke's texts count in the contact figures, not on the ladder.",
    "survey_response": "Ask the ladder's questions as Spoke survey questions, so each answer "
    "is recorded with its date.",
    "signup": "Send people to an Action Network form or a Mobilize event page to sign up, so "
    "each sign-up is recorded with its date.",
    "submission": "Collect petitions, pledges and surveys on Action Network forms, or type "
    "paper ones into a sheet the sync reads the same week.",
    "tagging": "Tag people in Action Network when they take a step the ladder counts (a "
    "form's automatic tag, or staff tagging after a conversation).",
    "role": "Mark who hosted or led each event (the event's host field or a 'host' tag), "
    "as part of closing out the event.",
}


@dataclass(frozen=True)
class Finding:
    """One data-quality finding: counts only."""

    key: str
    title: str
    affected: int
    total: int
    unit: str
    weakens: tuple[str, ...]
    practice: str
    detail: str = ""
    applicable: bool = True
    weight: float = 1.0
    #: lowest impact whatever the share (a rung nobody can reach hides the whole rung)
    floor: float = 0.0

    @property
    def share(self) -> float | None:
        return self.affected / self.total if self.total else None

    @property
    def impact(self) -> float:
        if not self.applicable or not self.total:
            return 0.0
        return round(max(self.weight * self.affected / self.total, self.floor), 6)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]) -> tuple:
    row = con.execute(sql, list(params)).fetchone()
    assert row is not None
    return row


def _cond_where(org_ids: list[str], cond: RungCondition) -> tuple[str, list[object]]:
    """The activity rows that could satisfy a ladder condition: a WHERE clause and its
    parameters."""
    where = ["org_id IN (SELECT unnest(?))"]
    params: list[object] = [org_ids]
    if cond.activity_types:
        where.append("type IN (SELECT unnest(?))")
        params.append(list(cond.activity_types))
    if cond.roles:
        where.append("lower(role) IN (SELECT unnest(?))")
        params.append([r.lower() for r in cond.roles])
    if cond.reads_assessment:
        where.append("score IS NOT NULL")
    if cond.attended_only:
        where.append("attended")
    return " AND ".join(where), params


def _conds_match(con, org_ids: list[str], conds: Sequence[RungCondition]) -> list[int]:
    """For each ladder condition, 1 when some activity in the store could satisfy it,
    else 0.

    One statement of a probe per condition, each stopping at the first activity found:
    at 10M activities these take 0.05 s for the default ladder's 7 conditions, where
    one scan with a bool_or per condition took 0.3 s and one statement of EXISTS probes
    0.8 s. The probes are one statement, not one each: over 10M synthetic activities
    (two conditions nothing satisfies) the statement took 0.3 s of CPU where the seven
    took 0.4 s, and in a small organization's report each statement cost ~2 ms."""
    if not conds:
        return []
    probes, params = [], []
    for i, cond in enumerate(conds):
        where, values = _cond_where(org_ids, cond)
        probes.append(
            f"SELECT {i} AS i, count(*) AS n FROM (SELECT 1 FROM activity WHERE {where} LIMIT 1)"
        )
        params += values
    found = dict(con.execute(" UNION ALL ".join(probes), params).fetchall())
    return [int(found[i]) for i in range(len(conds))]


def _untracked(con, org: Organization, org_ids: list[str], tracked: set[str]) -> Finding:
    """``tracked``: the activity types the store holds for ``org_ids``."""
    total = 0
    dead = 0
    unreachable: list[str] = []
    missing_types: set[str] = set()
    missing_roles = False
    matches = iter(_conds_match(con, org_ids, [c for rung in org.ladder for c in rung.any_of]))
    for rung in org.ladder:
        rung_dead = 0
        for cond in rung.any_of:
            total += 1
            if next(matches) == 0:
                rung_dead += 1
                types = set(cond.activity_types or []) - tracked
                missing_types |= types
                if cond.roles and not types:
                    missing_roles = True
                if cond.reads_assessment and not types:
                    missing_types.add("assessment")
        dead += rung_dead
        if rung_dead == len(rung.any_of):
            unreachable.append(rung.name)
    parts = []
    if missing_types:
        parts.append("never recorded: " + ", ".join(sorted(missing_types)))
    if missing_roles:
        parts.append("no event host or lead role recorded")
    if unreachable:
        parts.append("no one can reach rung(s) " + ", ".join(unreachable))
    practice = " ".join(
        TYPE_PRACTICES.get(t, f"Start recording '{t}'.") for t in sorted(missing_types)
    )
    if missing_roles:
        practice = (practice + " " + TYPE_PRACTICES["role"]).strip()
    return Finding(
        key="untracked_types",
        title="Activity the ladder needs but the group does not track",
        affected=dead,
        total=total,
        unit="ladder rules",
        weakens=("ladder", "leaders", "movement"),
        practice=practice or "Keep recording every activity type the ladder names.",
        detail="; ".join(parts) or "every ladder rule is backed by recorded activity",
        weight=WEIGHTS["untracked_types"],
        floor=1.0 if unreachable else 0.0,
    )


def diagnose(
    con: duckdb.DuckDBPyConnection,
    org: Organization,
    *,
    as_of: dt.datetime | None = None,
    lag_days: int = 7,
    include_affiliates: bool = False,
    affiliates: Sequence[str] = (),
) -> list[Finding]:
    """Data-quality findings for one organization, highest impact first.

    ``as_of`` (default now) decides which events are in the past. With
    ``include_affiliates`` the given affiliate ids are counted with the organization.
    """
    as_of = as_of or dt.datetime.now(dt.UTC)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=dt.UTC)
    org_ids = [org.id, *(affiliates if include_affiliates else ())]
    scope = "org_id IN (SELECT unnest(?))"
    # a network's findings count each member's records: a person two members know is a
    # record to correct in each (the roll-up's "people" count them once)
    person_unit = "people" if len(org_ids) == 1 else "person records"
    findings: list[Finding] = []

    # cross-tool match rate (an id only another tool named is no record of its tool)
    listed = matched_identity(con)
    people, single, multi, tools = _one(
        con,
        f"""
        WITH p AS (SELECT org_id, person_id FROM person WHERE {scope}),
             s AS (SELECT org_id, person_id, count(DISTINCT source) AS n
                   FROM identity WHERE {scope} AND {listed} GROUP BY ALL)
        SELECT (SELECT count(*) FROM p),
               (SELECT count(*) FROM p JOIN s USING (org_id, person_id) WHERE s.n = 1),
               (SELECT count(*) FROM p JOIN s USING (org_id, person_id) WHERE s.n > 1),
               (SELECT count(DISTINCT source) FROM identity WHERE {scope} AND {listed})
        """,
        [org_ids, org_ids, org_ids],
    )
    many_tools = tools >= 2
    findings.append(
        Finding(
            key="match_rate",
            title="People found in only one tool",
            affected=int(single) if many_tools else 0,
            total=int(people) if many_tools else 0,
            unit=person_unit,
            weakens=("match_rate", "ladder", "active_base"),
            practice=(
                "Ask for email and cell phone on every sign-in sheet, form and event page, "
                "so the same person is recognised in every tool; use one event sign-up link "
                "that syncs to the main list."
            ),
            detail=(
                f"{tools} tools in the store; {multi:,} of {people:,} people matched in two "
                f"or more; {people - single - multi:,} have no tool id"
                if many_tools
                else "the group's data comes from one tool, so there is nothing to match"
            ),
            applicable=many_tools,
            weight=WEIGHTS["match_rate"],
        )
    )

    # past events without attendance recorded
    past, unmarked = _one(
        con,
        f"""
        WITH e AS (SELECT org_id, event_id FROM event WHERE {scope} AND start_at < ?),
             -- who came is marked by the attended flag or, as Action Network's and
             -- VAN's are, by the status (the show rate reads both)
             marked AS (SELECT DISTINCT org_id, event_id FROM activity
                        WHERE {scope} AND event_id IS NOT NULL
                          AND (attended IS NOT NULL
                               OR lower(status) IN ('completed', 'no_show')))
        SELECT count(*), count(*) FILTER (WHERE marked.event_id IS NULL)
        FROM e LEFT JOIN marked USING (org_id, event_id)
        """,
        [org_ids, as_of, org_ids],
    )
    findings.append(
        Finding(
            key="attendance",
            title="Past events without attendance recorded",
            affected=int(unmarked),
            total=int(past),
            unit="events",
            weakens=("show_rate", "ladder", "volunteer_tiers"),
            practice=(
                "Close out every event within 48 hours: mark who came (Mobilize 'attended', "
                "VAN Completed or No Show) from the sign-in sheet, as the host's last task."
            ),
            detail=f"{past:,} events before {as_of:%d %b %Y}",
            applicable=past > 0,
            weight=WEIGHTS["attendance"],
        )
    )

    # one scan of the activities for the organizer and entry-lag checks and the types
    # tracked (each statement is ~2 ms of a small organization's report)
    relational, no_organizer, with_dates, late, median_days, types = _one(
        con,
        f"""
        SELECT count(*) FILTER (WHERE relational),
               count(*) FILTER (WHERE relational
                                AND (organizer_id IS NULL OR trim(organizer_id) = '')),
               count(*) FILTER (WHERE dated),
               count(*) FILTER (WHERE dated
                                AND recorded_at - occurred_at > to_days(CAST(? AS INTEGER))),
               median(epoch(recorded_at - occurred_at) / 86400.0) FILTER (WHERE dated),
               list(DISTINCT type)
        FROM (SELECT *, type IN (SELECT unnest(?)) AS relational,
                     -- a registration recorded before its event is not entered late (it
                     -- made the median lag -10 days): only what was recorded after it
                     -- happened
                     recorded_at IS NOT NULL AND recorded_at >= occurred_at AS dated
              FROM activity WHERE {scope})
        """,
        [lag_days, list(ORGANIZER_TYPES), org_ids],
    )
    tracked = set(types or [])

    # relational activities without an organizer
    findings.append(
        Finding(
            key="organizer",
            title="Activities without an organizer",
            affected=int(no_organizer),
            total=int(relational),
            unit="activities",
            weakens=("leaders", "one_on_ones"),
            practice=(
                "Name the organizer on every one-on-one, conversation and event: hold a "
                "Data Entry Party on Fridays where each organizer enters their own week."
            ),
            detail="types counted: " + ", ".join(ORGANIZER_TYPES),
            applicable=relational > 0,
            weight=WEIGHTS["organizer"],
        )
    )

    # entry lag
    findings.append(
        Finding(
            key="entry_lag",
            title=f"Activities entered more than {lag_days} days after they happened",
            affected=int(late),
            total=int(with_dates),
            unit="activities",
            weakens=("new_people", "absorption", "lapsed", "active_base"),
            practice=(
                "Data Entry Parties on Fridays: enter the week's sign-in sheets, calls and "
                "one-on-one notes before the weekend, so reports show this week's work."
            ),
            detail=(
                f"median entry lag {median_days:.1f} days"
                if median_days is not None
                else "no entry dates recorded"
            ),
            applicable=with_dates > 0,
            weight=WEIGHTS["entry_lag"],
        )
    )

    # duplicates: several person ids with one match_key (not merged), and several records
    # of one person inside one tool (merged by cyclebook, still split in the tool)
    # (and, in the same statement, people with unknown contact permissions)
    (
        persons_total,
        extra_people,
        split_people,
        extra_tool,
        split_tool,
        missing,
        no_email_ok,
        no_sms_ok,
    ) = _one(
        con,
        f"""
        WITH k AS (SELECT org_id, match_key, count(*) AS n FROM person
                   WHERE {scope} AND match_key IS NOT NULL GROUP BY ALL),
             t AS (SELECT org_id, person_id, source, count(*) AS n FROM identity
                   WHERE {scope} AND {listed} GROUP BY ALL)
        -- three one-row parts joined: as scalar subqueries the statement took ~10 ms of
        -- a report's kernel (as much as the two checks' statements apart), this ~4 ms
        SELECT p.n, kk.extra, kk.split, tt.extra, tt.split, p.missing, p.no_email_ok,
               p.no_sms_ok
        FROM (SELECT count(*) AS n,
                     count(*) FILTER (WHERE email_ok IS NULL OR sms_ok IS NULL) AS missing,
                     count(*) FILTER (WHERE email_ok IS NULL) AS no_email_ok,
                     count(*) FILTER (WHERE sms_ok IS NULL) AS no_sms_ok
              FROM person WHERE {scope}) AS p,
             (SELECT coalesce(sum(n - 1), 0) AS extra,
                     count(*) FILTER (WHERE n > 1) AS split FROM k) AS kk,
             (SELECT coalesce(sum(n - 1), 0) AS extra,
                     count(DISTINCT (org_id, person_id)) FILTER (WHERE n > 1) AS split
              FROM t) AS tt
        """,
        [org_ids, org_ids, org_ids],
    )

    findings.append(
        Finding(
            key="duplicates",
            title="Duplicate person records",
            affected=int(extra_people + extra_tool),
            total=int(persons_total),
            unit=person_unit,
            weakens=("active_base", "new_people", "ladder"),
            practice=(
                "Search before adding a new person at sign-in, and merge duplicates once a "
                "month in the source tool (Action Network or VAN 'merge people')."
            ),
            detail=(
                f"{people_count(split_people)} with the same email or phone under several ids "
                f"({extra_people:,} extra records); {people_count(split_tool)} with several "
                f"records in one tool ({extra_tool:,} extra records)"
            ),
            applicable=persons_total > 0,
            weight=WEIGHTS["duplicates"],
        )
    )

    # missing contact fields (read with the duplicates above)
    persons = persons_total
    findings.append(
        Finding(
            key="contact_fields",
            title="People with unknown email or text permission",
            affected=int(missing),
            total=int(persons),
            unit=person_unit,
            weakens=("contact", "follow-up lists"),
            practice=(
                "Add 'OK to email' and 'OK to text' boxes to every sign-in sheet and form, "
                "and record opt-outs the same day."
            ),
            detail=(
                f"email permission unknown: {no_email_ok:,}; text permission unknown: {no_sms_ok:,}"
            ),
            applicable=persons > 0,
            weight=WEIGHTS["contact_fields"],
        )
    )

    findings.append(_untracked(con, org, org_ids, tracked))
    order = {f.key: i for i, f in enumerate(findings)}
    return sorted(findings, key=lambda f: (-f.applicable, -f.impact, -f.affected, order[f.key]))


# --------------------------------------------------------------------------- reporting


def _count(n: int, audience: str) -> str:
    shown = privacy.suppress_value(n, audience)
    return shown if isinstance(shown, str) else f"{shown:,}"


def findings_frame(findings: Sequence[Finding], audience: str = "organization") -> pd.DataFrame:
    """The ranked findings as a table (counts suppressed from 1 to 9 outside the org)."""
    columns, rows = findings_rows(findings, audience)
    return pd.DataFrame(rows, columns=columns)


def findings_rows(
    findings: Sequence[Finding], audience: str = "organization"
) -> tuple[list[str], list[list[object]]]:
    """:func:`findings_frame`'s column names and rows (the report's table is built from
    them without a frame)."""
    rows = []
    rank = 0
    for f in findings:
        if not f.applicable:
            continue
        rank += 1
        share = f.share
        if share is not None:
            share = privacy.suppress_rate(share, f.affected, f.total, audience)
        rows.append(
            [
                rank,
                f.title,
                _count(f.affected, audience),
                f"{_count(f.total, audience)} {f.unit}",
                share if isinstance(share, str) else ("–" if share is None else percent(share)),
                ", ".join(f.weakens),
                f.practice if f.affected else "Keep it up.",
            ]
        )
    columns = [
        "Rank",
        "Finding",
        "Records affected",
        "Out of",
        "Share",
        "Weakens",
        "Practice that fixes it",
    ]
    return columns, rows


def improve_blocks(findings: Sequence[Finding], audience: str = "organization") -> list[d.Block]:
    applicable = [f for f in findings if f.applicable]
    blocks: list[d.Block] = [d.heading("Where the data could be better", 2)]
    top = [f for f in applicable if f.affected]
    if top:
        blocks.append(d.paragraph(f"The biggest gap: {top[0].title.lower()}. {top[0].practice}"))
    else:
        blocks.append(d.paragraph("No gaps found in the checks that apply to this group."))
    columns, rows = findings_rows(findings, audience)
    blocks.append(
        d.text_table(
            columns,
            rows,
            "Data-quality findings ranked by impact: records affected, the measures they "
            "weaken, and a practice that fixes them",
        )
    )
    details = [f"{f.title}: {f.detail}" for f in applicable if f.detail]
    if audience == "organization" and details:
        blocks += [d.heading("Details", 3), d.bullets(details)]
    skipped = [f"{f.title}: {f.detail}" for f in findings if not f.applicable]
    if skipped:
        blocks += [d.heading("Checks that do not apply yet", 3), d.bullets(skipped)]
    return blocks
