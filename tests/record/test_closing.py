"""The closing report: the whole experiment card with results from metric_value."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb

from cyclebook.record import (
    cohort_record_blocks,
    definition_blocks,
    load_record,
    org_record_blocks,
)
from cyclebook.reflect import MeasureProposal, ReflectionVersion, load_reflection, save_reflection

CYCLE = "2026-c1"


def _store(cohort: Path) -> None:
    con = duckdb.connect(str(cohort / "store.duckdb"))
    from cyclebook.store import create_schema

    create_schema(con)
    rows = [
        # absorption 0.5 over 40 new people: met the 0.4 goal
        ("eastside-tenants", "absorption", "cycle", "", 0.5, 40.0, False),
        ("eastside-tenants", "absorption", "week-1", "", 0.1, 10.0, False),  # not the headline
        ("eastside-tenants", "absorption", "cycle", "source=mobilize", 0.9, 20.0, False),
        # match rate 0.25: under the 0.33 failure line
        ("eastside-tenants", "match_rate", "cycle", "", 0.25, 400.0, False),
        # riverside: absorption on 6 new people (small), match_rate not shared with cohort
        ("riverside-workers", "absorption", "cycle", "", 0.5, 6.0, False),
        ("riverside-workers", "match_rate", "cycle", "", 0.45, 300.0, False),
    ]
    con.executemany(
        "INSERT INTO metric_value (cycle, org_id, metric, period, dimension, value, denominator,"
        " suppressed) VALUES ('2026-c1', ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.close()


def _html(blocks) -> str:
    return "".join(b.html for b in blocks)


def test_org_closing_report(cohort: Path) -> None:
    _store(cohort)
    save_reflection(
        cohort,
        CYCLE,
        "eastside-tenants",
        ReflectionVersion(
            saved_at=dt.datetime(2026, 9, 10, 18, tzinfo=dt.UTC),
            author="Nirmal Shah",
            learnings=["Follow-up <within> two weeks matters"],
            decisions=["Keep absorption"],
            questions=["Do captains count?"],
        ),
    )
    record = load_record(cohort, CYCLE)
    east = record.org("eastside-tenants")
    assert east.results["absorption"]["value"] == 0.5
    assert east.reflected and not record.org("valley-voters").reflected
    html = _html(org_record_blocks(record, "eastside-tenants"))
    for text in (
        "How might we improve our engagement",  # how might we
        "If the facilitators work with each group",  # hypothesis
        "Knowingly",  # design
        "50% of 40",
        "goal met",
        "25% of 400",
        "below the failure line",
        "Fewer than one in five new people",  # failure line
        "Eastside Tenants Union: Follow-up &lt;within&gt; two weeks matters",
        "Eastside Tenants Union: Keep absorption",
        "Eastside Tenants Union: Do captains count?",
        "Matt Rivera, Nirmal Shah, Harold Kim",  # accountable
        "Ana, Lee",  # team
        "03 Aug 2026 – 14 Sep 2026 (6 weeks)",
    ):
        assert text in html, text
    valley = _html(org_record_blocks(record, "valley-voters"))
    assert "not yet measured" in valley and "No reflection recorded yet" in valley


def test_cohort_closing_report_follows_consent(cohort: Path) -> None:
    _store(cohort)
    cohort_file = cohort / "cohort.yml"
    text = cohort_file.read_text(encoding="utf-8")
    agreed = "cohort: [ladder, active_base, leaders, contact]"
    assert agreed in text
    cohort_file.write_text(
        text.replace(agreed, "cohort: [ladder, active_base, leaders, contact, absorption]"),
        encoding="utf-8",
    )
    record = load_record(cohort, CYCLE)
    html = _html(cohort_record_blocks(record, "cohort"))
    assert "50% of 40" in html  # eastside shares absorption with the cohort
    assert "withheld (small numbers)" in html  # riverside absorption over 6 people
    assert "not shared" in html  # match_rate is in nobody's consent list
    assert "25% of 400" not in html and "45% of 300" not in html
    assert "0 of 8 organizations recorded a reflection" in html


def test_definition_history(cohort: Path) -> None:
    save_reflection(
        cohort,
        CYCLE,
        "eastside-tenants",
        ReflectionVersion(
            saved_at=dt.datetime(2026, 9, 10, 18, tzinfo=dt.UTC),
            author="Nirmal Shah",
            measure_changes=[
                MeasureProposal(
                    measure="ladder.active",
                    proposed_by="Ana",
                    why="Three is too many",
                    change="Two meetings",
                    status="adopted",
                )
            ],
        ),
    )
    record = load_record(cohort, CYCLE)
    org = record.cohort.org("eastside-tenants")
    reflection = load_reflection(cohort, CYCLE, org.id)
    html = _html(definition_blocks(org, reflection))
    assert "Attended three or more events in the last 90 days." in html
    assert "agreed in 2026-c1 reflection; applies from the next cycle" in html
    assert "Ana" in html and "10 Sep 2026" in html
    assert "Ana" not in _html(definition_blocks(org, reflection, "cohort"))


def test_compares_with_the_previous_cycle(cohort: Path) -> None:
    con = duckdb.connect(str(cohort / "store.duckdb"))
    from cyclebook.store import create_schema

    create_schema(con)
    con.executemany(
        "INSERT INTO metric_value (cycle, org_id, metric, period, dimension, value, denominator)"
        " VALUES (?, 'eastside-tenants', ?, ?, '', ?, ?)",
        [
            ("2026-c1", "absorption", "cycle", 0.3, 30.0),
            ("2026-c2", "absorption", "cycle", 0.5, 40.0),
            ("2026-c1", "leaders", "start", 10.0, None),
            ("2026-c1", "leaders", "end", 12.0, None),
            ("2026-c2", "leaders", "end", 15.0, None),
        ],
    )
    con.close()
    record = load_record(cohort, "2026-c2")
    frame_html = _html(org_record_blocks(record, "eastside-tenants"))
    assert "In 2026-c1" in frame_html
    assert "30% of 30" in frame_html and "50% of 40" in frame_html
    assert "<td>12</td>" in frame_html and "<td>15</td>" in frame_html  # end, not start


def test_one_organization_record_is_the_same_as_in_the_whole_cohort(cohort: Path) -> None:
    """The improve report reads only its organization's record (and the configuration it
    already loaded); every organization's results come from one query."""
    from cyclebook.config import load_cohort, load_cycle
    from cyclebook.record import card_results, cards_results
    from cyclebook.store import connect

    _store(cohort)
    whole = load_record(cohort, CYCLE)
    one = load_record(
        cohort,
        CYCLE,
        org_ids=["riverside-workers"],
        cohort=load_cohort(cohort),
        card=load_cycle(cohort, CYCLE),
    )
    assert list(one.orgs) == ["riverside-workers"]
    assert one.org("riverside-workers") == whole.org("riverside-workers")
    assert whole.org("riverside-workers").results["absorption"]["denominator"] == 6.0
    # the headline, not a weekly figure: the cycle-long period is preferred
    assert whole.org("eastside-tenants").results["absorption"]["period"] == "cycle"
    with connect(cohort / "store.duckdb") as con:
        orgs = [org.id for org in whole.cohort.organizations]
        together = cards_results(con, CYCLE, orgs, whole.card)
        assert together == {
            org: found for org in orgs if (found := card_results(con, CYCLE, org, whole.card))
        }
        assert set(together) == {"eastside-tenants", "riverside-workers"}


def _learned(cohort: Path, org_id: str, learning: str) -> None:
    """A reflection of ``org_id`` with one learning."""
    version = ReflectionVersion(
        saved_at=dt.datetime(2026, 9, 10, 18, tzinfo=dt.UTC),
        author="Nirmal Shah",
        learnings=[learning],
    )
    save_reflection(cohort, CYCLE, org_id, version)


def test_one_unreadable_reflection_does_not_stop_the_cohort_record(cohort: Path) -> None:
    """One group's broken reflection failed both cohort summaries, for every group."""
    _learned(cohort, "eastside-tenants", "Follow-up works.")
    broken = cohort / CYCLE / "reflections" / "riverside-workers.yml"
    broken.write_text("org_id: riverside-workers\ncycle: [2026-c1\n", encoding="utf-8")
    record = load_record(cohort, CYCLE)
    html = _html(cohort_record_blocks(record, "cohort"))
    assert "Eastside Tenants Union: Follow-up works." in html
    assert "1 of 8 organizations recorded a reflection" in html
    assert (
        "The reflection file of Riverside Workers Center could not be read at line 3; "
        "`cyclebook validate` names the problem and the fix." in html.replace("&#x27;", "'")
    )
    assert "2026-c1\n" not in html and "[2026-c1" not in html  # the file's text is not quoted
    mine = _html(org_record_blocks(load_record(cohort, CYCLE), "riverside-workers"))
    assert "could not be read at line 3" in mine


def test_a_group_that_shares_nothing_with_funders_keeps_its_reflection(cohort: Path) -> None:
    """Harbor Youth agreed to share nothing with funders (consent funder: []), yet its
    learnings ('our youth council is shrinking') were in the funders' summary."""
    for org_id, learning in (
        ("harbor-youth", "Our youth council is shrinking."),
        ("eastside-tenants", "Follow-up works."),
    ):
        _learned(cohort, org_id, learning)
    record = load_record(cohort, CYCLE)
    funder = _html(cohort_record_blocks(record, "funder"))
    assert "youth council is shrinking" not in funder
    assert "Eastside Tenants Union: Follow-up works." in funder
    assert (
        "Not shown: the reflection of Harbor Youth Organizing, which shares nothing with this "
        "audience (funder) by its own choice." in funder.replace("&#x27;", "'")
    )
    cohort_view = _html(cohort_record_blocks(record, "cohort"))  # it shares active_base
    assert "Harbor Youth Organizing: Our youth council is shrinking." in cohort_view


def test_a_rate_target_reads_as_a_percent_in_every_card_table(cohort: Path) -> None:
    """The card read "Target 0.4" beside "Result 50% of 40" (the share report's goal
    line said 40%)."""
    from cyclebook.phases import card_blocks

    _store(cohort)
    record = load_record(cohort, CYCLE)
    for blocks in (
        org_record_blocks(record, "eastside-tenants"),
        cohort_record_blocks(record, "cohort"),
        card_blocks(record.card),
    ):
        html = _html(blocks)
        assert "<td>absorption</td><td>40%</td>" in html
        assert "<td>match_rate</td><td>60%</td>" in html
        assert "<td>0.4</td>" not in html


def _fell(cohort: Path) -> None:
    """Absorption 77% -> 72% and leaders 2 -> 1 from 2026-c1 to 2026-c2 (the demo's
    card: absorption "does not rise from last cycle", "Fewer leaders than last cycle")."""
    from cyclebook.store import create_schema

    con = duckdb.connect(str(cohort / "store.duckdb"))
    create_schema(con)
    con.executemany(
        "INSERT INTO metric_value (cycle, org_id, metric, period, dimension, value, denominator)"
        " VALUES (?, 'eastside-tenants', ?, ?, '', ?, ?)",
        [
            ("2026-c1", "absorption", "cycle", 0.77, 100.0),
            ("2026-c2", "absorption", "cycle", 0.72, 100.0),
            ("2026-c1", "leaders", "end", 2.0, None),
            ("2026-c2", "leaders", "end", 1.0, None),
        ],
    )
    con.close()


def _against_the_card(cohort: Path) -> list[str]:
    record = load_record(cohort, "2026-c2")
    [table] = [b for b in org_record_blocks(record, "eastside-tenants") if "<table" in b.html]
    header = re.findall(r"<th[^>]*>(.*?)</th>", table.html)
    rows = [
        re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table.html)
    ]
    return [row[header.index("Against the card")] for row in rows]


def test_a_failure_line_in_words_is_judged_from_last_cycle(cohort: Path) -> None:
    """The improve report said "met the goal" of absorption falling 77% -> 72% against
    "does not rise from last cycle", and "short of the goal, above the failure line" of
    leaders falling 2 -> 1 against "Fewer leaders than last cycle" (no number)."""
    card = cohort / "2026-c2" / "cycle.yml"
    text = card.read_text()
    assert "    measure: leaders\n" in text
    card.write_text(text.replace("    measure: leaders\n", "    measure: leaders\n    target: 5\n"))
    _fell(cohort)
    assert _against_the_card(cohort) == [
        "goal met; failure line crossed: down from 77% last cycle",
        "short of the goal; failure line crossed: down from 2 last cycle",
    ]
    # words the tool cannot evaluate are the group's to judge, beside last cycle's value
    card.write_text(
        card.read_text().replace("Fewer leaders than last cycle", "Nobody new takes a role")
    )
    assert _against_the_card(cohort)[1] == (
        "short of the goal; failure line for the group to judge (last cycle: 2)"
    )


def test_a_changed_definition_is_not_compared_with_last_cycle(cohort: Path) -> None:
    """Absorption counted within 14 days from 2026-c2 on (42%), within 42 days in 2026-c1
    (77%): the improve report's table said "42% of 104 | 77% of 102 | goal met"."""
    from cyclebook.store import create_schema

    old = "A second activity within 42 days of first being seen."
    new = "A second activity within 14 days of first being seen."
    ladder = "Active: 3+ meetings."
    con = duckdb.connect(str(cohort / "store.duckdb"))
    create_schema(con)
    con.executemany(
        "INSERT INTO metric_value (cycle, org_id, metric, period, dimension, value, "
        "denominator, definition) VALUES (?, 'eastside-tenants', ?, ?, '', ?, ?, ?)",
        [
            ("2026-c1", "absorption", "cycle", 0.77, 102.0, old),
            ("2026-c2", "absorption", "cycle", 0.42, 104.0, new),
            ("2026-c1", "ladder", "end", 50.0, None, ladder),
            ("2026-c2", "ladder", "end", 60.0, None, ladder.replace("3+", "2+")),
            ("2026-c1", "leaders", "end", 2.0, None, "On the leader rung."),
            ("2026-c2", "leaders", "end", 1.0, None, "On the leader rung."),
        ],
    )
    con.close()
    record = load_record(cohort, "2026-c2")
    [table] = [b for b in org_record_blocks(record, "eastside-tenants") if "<table" in b.html]
    header = re.findall(r"<th[^>]*>(.*?)</th>", table.html)
    rows = [
        re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table.html)
    ]
    before, against = header.index("In 2026-c1"), header.index("Against the card")
    assert [(row[before], row[against]) for row in rows] == [
        (
            "77% of 102 (earlier definition)",
            "short of the goal; failure line for the group to judge: not compared with "
            "last cycle, the definition changed (last cycle: 77% under the earlier "
            "definition (&quot;… within 42 days …&quot;))",
        ),
        # leaders count rungs: the ladder changed under them
        (
            "2 (earlier definition)",
            "failure line for the group to judge: not compared with last cycle, the "
            "definition changed (last cycle: 2 under the earlier definition "
            "(&quot;Active: 3+ meetings.&quot;))",
        ),
    ]
