"""Incremental runs of the real phase notebooks: what an edit re-runs, and what it does
not, where that depends on what the real notebooks read (sync's part of cohort.yml, the
share report and the reflections, the cycle card as written or as read).

The cohort is the robustness tests' small one: the demo's Eastside Tenants (Action
Network and Mobilize) and Harbor Youth (a spreadsheet), with generated exports, run for
the latest cycle (2026-c2, which follows 2026-c1).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from robustness.reportset import write_small

from cyclebook import incremental, runner
from cyclebook.paths import repo_root

pytestmark = pytest.mark.e2e

CYCLE = "2026-c2"
ORG_JOBS = (
    "sync/organization",
    "share/organization",
    "share/cohort",
    "share/funder",
    "reflect/organization",
    "improve/organization",
)
SUMMARIES = {f"{CYCLE}/(cohort)/cohort/cohort", f"{CYCLE}/(cohort)/cohort/funder"}


def _keys(org: str, *jobs: str) -> set[str]:
    return {f"{CYCLE}/{org}/{job}" for job in jobs or ORG_JOBS}


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The small cohort, its latest cycle run once (every report made)."""
    # Others edit cyclebook's sources while these tests run; that would (rightly) re-run
    # every report (test_incremental.test_code_change_reruns checks that part).
    monkeypatch.setattr(incremental, "code_fingerprint", lambda versions: "fixed for tests")
    root = tmp_path / "small"
    assert write_small(root) == CYCLE
    statuses = _run(root, expect_ok=True)
    assert len(statuses) == 14 and set(statuses.values()) == {"ok"}, statuses
    return root


def _run(root: Path, *, expect_ok: bool = True) -> dict[str, str]:
    summary = runner.run(root, workers=2, progress=None)
    if expect_ok:
        assert summary.ok, "\n".join(summary.lines())
    return {result.key: result.status for result in summary.results}


def _ran(statuses: dict[str, str]) -> set[str]:
    return {key for key, status in statuses.items() if status != "cached"}


def _edit_org(root: Path, org_id: str, **changes) -> None:
    path = root / "cohort.yml"
    data = yaml.safe_load(path.read_text())
    org = next(org for org in data["organizations"] if org["id"] == org_id)
    org.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


MEMBER_LADDER = [
    {
        "name": "member",
        "label": "Member",
        "window_days": 180,
        "any_of": [{"activity_types": ["one_on_one"]}],
        "definition": "Had a one-on-one in the last six months.",
    }
]


def test_a_groups_consent_or_staff_reruns_its_reports_but_not_its_sync(small: Path) -> None:
    """The sync report reads a group's sources, time zone and ladder, not its consent,
    staff or measures: editing those re-ran the group's sync (and an affiliate's, its
    network's). What sync reads still re-runs it."""
    _edit_org(
        small,
        "harbor-youth",
        staff=["Rae (organizer)", "Sam (data)"],
        consent={"cohort": ["active_base"], "funder": ["active_base"]},
        metrics={"absorption_days": 60},
    )
    statuses = _run(small)
    assert _ran(statuses) == _keys("harbor-youth", *ORG_JOBS[1:]) | SUMMARIES, statuses

    # the ladder: the sync report names the rungs the exports give no data for
    _edit_org(small, "harbor-youth", ladder=MEMBER_LADDER)
    statuses = _run(small)
    assert statuses[f"{CYCLE}/harbor-youth/sync/organization"] == "ok"
    assert _ran(statuses) == _keys("harbor-youth") | SUMMARIES, statuses
    sync_report = small / CYCLE / "output" / "reports" / "harbor-youth" / "sync.html"
    assert "Member: a way to reach this rung counts one_on_one activity" in (
        sync_report.read_text()
    )

    # the time zone: dates without one are read in it
    _edit_org(small, "harbor-youth", timezone="America/Los_Angeles")
    statuses = _run(small)
    assert statuses[f"{CYCLE}/harbor-youth/sync/organization"] == "ok"
    assert not _ran(statuses) & _keys("eastside-tenants"), statuses

    # a source's settings (every export of the group is read again)
    data = yaml.safe_load((small / "cohort.yml").read_text())
    sources = next(o for o in data["organizations"] if o["id"] == "eastside-tenants")["sources"]
    assert sources[0]["kind"] == "action_network_csv"
    sources[0]["encoding"] = "utf-8"
    (small / "cohort.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    statuses = _run(small)
    assert statuses[f"{CYCLE}/eastside-tenants/sync/organization"] == "ok", statuses
    assert not _ran(statuses) & _keys("harbor-youth"), statuses


def test_a_reflection_reruns_reflect_and_improve_but_not_share(small: Path) -> None:
    """The share report computes the group's measures from the store and shows nothing
    of what the group said: a new reflection file re-ran its three share reports."""
    said = (
        (repo_root() / "cycles" / "demo" / "2026-c1" / "reflections" / "eastside-tenants.yml")
        .read_text()
        .replace("cycle: 2026-c1", f"cycle: {CYCLE}")
    )
    reflection = small / CYCLE / "reflections" / "eastside-tenants.yml"
    reflection.parent.mkdir(exist_ok=True)
    reflection.write_text(said)
    statuses = _run(small)
    assert _ran(statuses) == (
        _keys("eastside-tenants", "reflect/organization", "improve/organization") | SUMMARIES
    ), statuses
    report = small / CYCLE / "output" / "reports" / "eastside-tenants" / "reflect.html"
    assert "Building committees are invisible in the data." in report.read_text()

    reflection.write_text(said.replace("Building committees", "Block committees"))
    statuses = _run(small)
    assert statuses[f"{CYCLE}/eastside-tenants/reflect/organization"] == "ok"
    assert statuses[f"{CYCLE}/eastside-tenants/share/organization"] == "cached"
    assert "Block committees are invisible in the data." in report.read_text()


def test_a_cards_comments_and_layout_rerun_nothing(small: Path) -> None:
    """Fingerprints are of the cards as read: a comment, blank lines or a list written
    another way re-ran every report of the cycle (and of the cycles after it). An edit
    of what the card says still re-runs them, this cycle's card and the one before it."""
    card = small / CYCLE / "cycle.yml"
    text = card.read_text()
    relaid = "# the second cycle, as agreed on 10 Sep\n\n" + text.replace(
        "accountable: [Matt Rivera, Nirmal Shah]\n",
        "accountable:\n  - Matt Rivera\n  - Nirmal Shah  # facilitates\n\n",
    )
    assert relaid != text
    card.write_text(relaid)
    earlier = small / "2026-c1" / "cycle.yml"
    earlier_text = earlier.read_text()
    earlier.write_text(earlier_text + "\n# closed on 14 Sep\n")
    statuses = _run(small)
    assert set(statuses.values()) == {"cached"}, statuses

    earlier.write_text(earlier_text.replace("title: ", "title: Renamed ", 1))
    statuses = _run(small)
    assert statuses[f"{CYCLE}/eastside-tenants/share/organization"] == "ok", statuses

    card.write_text(relaid.replace("Nirmal Shah  # facilitates", "Harold Kim"))
    statuses = _run(small)
    assert set(statuses.values()) == {"ok"}, statuses
    report = small / CYCLE / "output" / "reports" / "harbor-youth" / "share.html"
    assert "Harold Kim" in report.read_text()


def _warnings(root: Path, **kwargs) -> tuple[dict[str, str], list[str]]:
    summary = runner.run(root, workers=2, progress=None, **kwargs)
    assert summary.ok, "\n".join(summary.lines())
    return {r.key: r.status for r in summary.results}, summary.warnings


def _out_of_date(warnings: list[str]) -> list[str]:
    return [warning for warning in warnings if "out of date" in warning]


def test_a_run_of_the_latest_cycle_says_which_earlier_reports_are_out_of_date(
    small: Path,
) -> None:
    """An export synced in the latest cycle's run brings an attendance of the cycle
    before: that cycle's reports (its sync report, measures and cohort summary) no
    longer show the store, and a run of the latest cycle said nothing of it."""
    earlier = "2026-c1"
    statuses, warnings = _warnings(small, cycles=[earlier])
    assert set(statuses.values()) == {"ok"} and len(statuses) == 14
    # the earlier cycle's measures, saved now, are what the latest one compares with
    assert _out_of_date(warnings) == [
        f"{CYCLE}: reports made before are out of date (eastside-tenants, harbor-youth, "
        "the cohort summary): the data in the store changed since they were made, and "
        f"this run did not run {CYCLE}. Fix: `cyclebook run {small} --cycle {CYCLE}` "
        "makes them again (only those out of date)."
    ]
    statuses, warnings = _warnings(small)
    assert _ran(statuses) == (
        _keys("eastside-tenants", *ORG_JOBS[1:]) | _keys("harbor-youth", *ORG_JOBS[1:]) | SUMMARIES
    ), statuses
    assert _out_of_date(warnings) == []

    # one more meeting, on 20 Aug (in 2026-c1), in Harbor Youth's sheet
    roster = small / "orgs" / "harbor-youth" / "exports" / "roster.csv"
    with roster.open("ab") as handle:
        handle.write(b"HY0002,Noor,Torres,,,,2026-08-20,Youth council,\r\n")
    statuses, warnings = _warnings(small)
    assert _ran(statuses) == _keys("harbor-youth") | SUMMARIES, statuses
    assert _out_of_date(warnings) == [
        f"{earlier}: reports made before are out of date (harbor-youth, the cohort "
        "summary): exports, the data in the store changed since they were made, and this "
        f"run did not run {earlier}. Fix: `cyclebook run {small} --cycle {earlier}` makes "
        "them again (only those out of date)."
    ]
    # said again until they are made again
    statuses, warnings = _warnings(small)
    assert set(statuses.values()) == {"cached"}
    assert len(_out_of_date(warnings)) == 1

    # the command it gives: the earlier cycle's reports of Harbor Youth, and its summary
    statuses, warnings = _warnings(small, cycles=[earlier])
    assert _ran(statuses) == {
        key.replace(CYCLE, earlier) for key in _keys("harbor-youth") | SUMMARIES
    }, statuses
    # its share saved new values, which the latest cycle's share compares itself with
    assert _out_of_date(warnings) == [
        f"{CYCLE}: reports made before are out of date (harbor-youth, the cohort summary): "
        "the data in the store changed since they were made, and this run did not run "
        f"{CYCLE}. Fix: `cyclebook run {small} --cycle {CYCLE}` makes them again (only "
        "those out of date)."
    ]
    statuses, warnings = _warnings(small)
    assert _ran(statuses) == _keys("harbor-youth", *ORG_JOBS[1:]) | SUMMARIES, statuses
    assert _out_of_date(warnings) == []


def _last_sync_day(root: Path, org_id: str) -> str:
    """The day (UTC) the group's last sync ended, as the cohort summary shows it."""
    import datetime as dt

    from cyclebook.paths import CohortPaths
    from cyclebook.store import connect, last_syncs

    with connect(CohortPaths.of(root).store) as con:
        _, at = last_syncs(con)[org_id]
    return dt.datetime.fromtimestamp(at, dt.UTC).date().isoformat()


def _manifest_jobs(root: Path) -> dict[str, dict]:
    import json

    from cyclebook.paths import CohortPaths

    jobs = json.loads(CohortPaths.of(root).manifest(CYCLE).read_text())["jobs"]
    return {job["key"]: job for job in jobs}


def test_facilitators_staff_and_a_gallery_note_rerun_only_what_shows_them(small: Path) -> None:
    """No report shows the facilitators (the privacy guard allows their names): editing
    them re-ran every report after sync; now the guard alone checks the kept reports
    again. Only the improve report names the staff, and a gallery note is the cohort
    summary's alone: editing them re-ran the group's share reports (the staff, its
    reflect report and the cohort summaries too)."""
    from cyclebook.paths import CohortPaths

    guarded = {job["guarded"] for job in _manifest_jobs(small).values()}
    assert len(guarded) == 1
    data = yaml.safe_load((small / "cohort.yml").read_text())
    assert "Harold Kim" in data["facilitators"]
    data["facilitators"] = [name for name in data["facilitators"] if name != "Harold Kim"]
    data["facilitators"].append("Quinn Okafor")
    (small / "cohort.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    statuses = _run(small)
    assert set(statuses.values()) == {"cached"}, statuses
    # every kept report checked against the new list, as the manifest records
    now = {job["guarded"] for job in _manifest_jobs(small).values()}
    assert len(now) == 1 and now != guarded

    reports = CohortPaths.of(small).output(CYCLE) / "reports"
    # the staff: the improve report's team (harbor-youth has none on the card)
    _edit_org(small, "harbor-youth", staff=["Rae (organizer)", "Sol (data)"])
    statuses = _run(small)
    assert _ran(statuses) == _keys("harbor-youth", "improve/organization"), statuses
    assert "Sol (data)" in (reports / "harbor-youth" / "improve.html").read_text()

    note = "We track absorption because new tenants used to vanish after their first meeting."
    data = yaml.safe_load((small / "cohort.yml").read_text())
    org = next(org for org in data["organizations"] if org["id"] == "eastside-tenants")
    assert org["consent"]["gallery_note"] != note
    org["consent"]["gallery_note"] = note
    (small / "cohort.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    statuses = _run(small)
    assert _ran(statuses) == SUMMARIES, statuses
    assert note in (reports / "_cohort" / "cohort.cohort.html").read_text()


def test_a_reflections_comments_rerun_nothing_and_a_broken_one_still_fails(small: Path) -> None:
    """Reflection files counted by their bytes: a comment or a list laid out another way
    re-ran the group's reflect and improve reports and the cohort summary. They count as
    validated now; a file that does not validate still counts by its bytes, and the
    reflect report fails on it at every run until it is fixed."""
    said = (
        (repo_root() / "cycles" / "demo" / "2026-c1" / "reflections" / "eastside-tenants.yml")
        .read_text()
        .replace("cycle: 2026-c1", f"cycle: {CYCLE}")
    )
    reflection = small / CYCLE / "reflections" / "eastside-tenants.yml"
    reflection.parent.mkdir(exist_ok=True)
    reflection.write_text(said)
    readers = _keys("eastside-tenants", "reflect/organization", "improve/organization")
    assert _ran(_run(small)) == readers | SUMMARIES

    relaid = "# recorded with Ana and Lee\n\n" + said.replace(
        "  participants:\n  - Ana (organizing)\n  - Lee (data)\n",
        "  participants: [Ana (organizing), Lee (data)]  # the data lead came too\n\n",
        1,
    )
    assert relaid.count("participants: [") == 1
    reflection.write_text(relaid)
    statuses = _run(small)
    assert set(statuses.values()) == {"cached"}, statuses

    # a reaction the model does not know: the reflect report fails, improve says so
    broken = relaid.replace("reaction: keep", "reaction: maybe", 1)
    reflection.write_text(broken)
    statuses = _run(small, expect_ok=False)
    reflect = f"{CYCLE}/eastside-tenants/reflect/organization"
    assert statuses[reflect] == "failed"
    assert _ran(statuses) == readers | SUMMARIES, statuses
    # run again: the reflect report fails again (it ran); the rest is kept
    statuses = _run(small, expect_ok=False)
    assert _ran(statuses) == {reflect} and statuses[reflect] == "failed", statuses
    # a comment in the broken file counts (its lines, named by the errors, moved)
    reflection.write_text("# still to fix\n" + broken)
    statuses = _run(small, expect_ok=False)
    assert statuses[reflect] == "failed"
    assert _ran(statuses) == readers | SUMMARIES, statuses


def test_what_a_phase_leaves_out_of_its_fingerprint_its_reports_do_not_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the fingerprints leave out (incremental.READ_BY_THE_GUARD_ALONE and
    NOT_READ_BY_PHASE) is kept out because no report of those phases shows it: made with
    the facilitators, a group's staff, its gallery note, a source's label and a time
    zone written in, no report names the facilitators, no share report the staff, only
    the cohort summaries the note, no report the source's (the reports after share read
    what the sync stored, not the settings it read it with), and no reflect or improve
    report the time zone."""
    monkeypatch.setattr(incremental, "code_fingerprint", lambda versions: "fixed for tests")
    assert {"facilitators"} == incremental.READ_BY_THE_GUARD_ALONE
    assert {
        "share": {"staff": True, "consent": {"gallery_note"}},
        "reflect": {
            "staff": True,
            "consent": {"gallery_note"},
            "sources": True,
            "timezone": True,
        },
        "improve": {"consent": {"gallery_note"}, "sources": True, "timezone": True},
        "cohort": {"staff": True, "sources": True},
    } == incremental.NOT_READ_BY_PHASE
    root = tmp_path / "small"
    assert write_small(root) == CYCLE
    data = yaml.safe_load((root / "cohort.yml").read_text())
    data["facilitators"] = ["Quinn Okafor"]
    for org in data["organizations"]:
        org["staff"] = ["Sol Bazemore (data)"]
        org.setdefault("consent", {})["gallery_note"] = "Chosen at the Marigold retreat."
        org["consent"]["cohort"] = ["active_base"]
        org["timezone"] = "America/Boise"
    # (an Action Network export's label: a spreadsheet's names its rows in the store,
    # which the reports count in their ``store`` and ``values``)
    assert data["organizations"][0]["sources"][0]["kind"] == "action_network_csv"
    data["organizations"][0]["sources"][0]["label"] = "Wexford sign-ups"
    (root / "cohort.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    assert set(_run(root).values()) == {"ok"}
    shown: dict[str, set[str]] = {
        "Quinn Okafor": set(),
        "Sol Bazemore": set(),
        "Marigold": set(),
        "Wexford": set(),
        "Boise": set(),
    }
    for report in sorted((root / CYCLE / "output" / "reports").rglob("*.html")):
        text = report.read_text()
        for words, found in shown.items():
            if words in text:
                found.add(f"{report.parent.name}/{report.stem}")
    assert shown["Quinn Okafor"] == set()
    # (harbor-youth has no team on the card: its staff are its team)
    assert shown["Sol Bazemore"] == {"harbor-youth/improve"}, shown
    assert shown["Marigold"] == {"_cohort/cohort.cohort", "_cohort/cohort.funder"}, shown
    assert shown["Wexford"] == set(), shown
    # (nor the time zone: the reflect and improve reports show the figures share computed
    # in it, and improve dates past events by UTC)
    assert not {name for name in shown["Boise"] if name.endswith(("reflect", "improve"))}, shown


def test_an_export_saved_again_with_the_same_rows_reruns_only_its_sync(small: Path) -> None:
    """The reports after a group's sync read its data in the store, not its exports:
    with the sync's whole fingerprint in theirs, an export saved again with the same
    rows (its columns in another order, other line endings: new bytes) re-ran every
    report of the group and the cohort summaries. The sync report runs again (it names
    the files it read, with their hashes); a changed row still re-runs the group."""
    import csv
    import io
    import json

    from cyclebook.config import load_cohort
    from cyclebook.paths import CohortPaths

    paths = CohortPaths.of(small)
    roster = small / "orgs" / "harbor-youth" / "exports" / "roster.csv"

    def data() -> str:  # what the later phases read: the group's rows in the store
        fingerprints = incremental.Fingerprints(paths, load_cohort(small), {}, {})
        return fingerprints.store(["harbor-youth"], data_only=True)

    def save(rows: list[list[str]]) -> None:  # the last two columns swapped, LF endings
        with roster.open("w", encoding="cp1252", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(
                [*row[:-2], row[-1], row[-2]] for row in rows
            )

    made = _manifest_jobs(small)
    stored, day = data(), _last_sync_day(small, "harbor-youth")
    before = roster.read_bytes()
    assert b"\r\n" in before
    rows = list(csv.reader(io.StringIO(before.decode("cp1252"), newline="")))  # as Excel saves it
    assert rows[0][-2:] == ["Meeting", "Notes"] and rows[1][-2] == "Youth council"
    save(rows)
    assert roster.read_bytes() != before

    # not synced yet: whether its rows changed is not known, so every report of the
    # group counts as out of date (cyclebook publish refuses them)
    fingerprints = incremental.Fingerprints(paths, load_cohort(small), {}, {})
    jobs = runner.made_jobs(fingerprints, CYCLE)
    stale = runner.stale_reports(fingerprints, jobs)
    assert set(stale) == _keys("harbor-youth") | SUMMARIES, stale
    assert stale[f"{CYCLE}/harbor-youth/sync/organization"] == ["exports"]
    assert stale[f"{CYCLE}/harbor-youth/share/organization"] == ["upstream"]

    statuses = _run(small)
    # the cohort summaries show each group's last sync by its day
    summaries = SUMMARIES if _last_sync_day(small, "harbor-youth") != day else set()
    assert _ran(statuses) == _keys("harbor-youth", "sync/organization") | summaries, statuses
    assert data() == stored
    now = _manifest_jobs(small)
    sync = f"{CYCLE}/harbor-youth/sync/organization"
    reflect = f"{CYCLE}/harbor-youth/reflect/organization"
    assert now[sync]["inputs"]["exports"] != made[sync]["inputs"]["exports"]
    assert now[sync]["inputs"]["store"] == made[sync]["inputs"]["store"]
    for key in _keys("harbor-youth", *ORG_JOBS[1:]):
        assert now[key]["status"] == "cached"
        assert now[key]["fingerprint"] == made[key]["fingerprint"], key
        assert now[key]["ran_at"] == made[key]["ran_at"], key
    manifest = json.loads(paths.manifest(CYCLE).read_text())
    assert "roster.csv" in json.dumps(manifest["inputs"]["harbor-youth"])
    # and nothing is out of date now
    fingerprints = incremental.Fingerprints(paths, load_cohort(small), {}, {})
    assert runner.stale_reports(fingerprints, runner.made_jobs(fingerprints, CYCLE)) == {}

    # one row changed: the member came to another meeting (no figure changed: the
    # reflect report, which shows the figures alone, is kept, and so are the cohort
    # summaries, which read the rows of a network's members alone)
    rows[1][-2] = "Art build"
    save(rows)
    statuses = _run(small)
    summaries = SUMMARIES if _last_sync_day(small, "harbor-youth") != day else set()
    assert _ran(statuses) == _keys("harbor-youth") - {reflect} | summaries, statuses
    assert data() != stored


def test_a_share_run_that_saves_the_same_values_reruns_no_report_after_it(small: Path) -> None:
    """The reports after share read the values it saved (the reflect report nothing else
    of the store), not share's fingerprint: a source's settings edited that changed no
    row (only the sync and share reports read them) re-ran the group's reflect and
    improve reports and the cohort summaries, and a member's zip code corrected (a row,
    no figure) its reflect report. A figure changed re-runs them all, and the manifest
    says why."""
    import csv
    import io

    from cyclebook.paths import CohortPaths
    from cyclebook.store import connect

    paths = CohortPaths.of(small)

    def saved(org_id: str) -> list[tuple]:  # what its share saved for the cycle, but when
        with connect(paths.store) as con:
            return con.execute(
                "SELECT * EXCLUDE (computed_at) FROM metric_value "
                "WHERE cycle = ? AND org_id = ? ORDER BY ALL",
                [CYCLE, org_id],
            ).fetchall()

    def changed(before: dict[str, dict], now: dict[str, dict], key: str) -> list[str]:
        parts = now[key]["inputs"]
        return [name for name, value in parts.items() if before[key]["inputs"].get(name) != value]

    # a source's settings: every export of Eastside Tenants read again, the same rows
    made, values, day = (
        _manifest_jobs(small),
        saved("eastside-tenants"),
        _last_sync_day(small, "eastside-tenants"),
    )
    data = yaml.safe_load((small / "cohort.yml").read_text())
    sources = next(o for o in data["organizations"] if o["id"] == "eastside-tenants")["sources"]
    sources[0]["encoding"] = "utf-8"
    (small / "cohort.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    statuses = _run(small)
    # (the cohort summaries show each group's last sync by its day)
    summaries = SUMMARIES if _last_sync_day(small, "eastside-tenants") != day else set()
    assert _ran(statuses) == _keys("eastside-tenants", *ORG_JOBS[:4]) | summaries, statuses
    assert saved("eastside-tenants") == values and len(values) == 72
    now = _manifest_jobs(small)
    share = f"{CYCLE}/eastside-tenants/share/organization"
    assert changed(made, now, share) == ["config"]
    for key in _keys("eastside-tenants", "reflect/organization", "improve/organization"):
        assert now[key]["status"] == "cached" and now[key]["ran_at"] == made[key]["ran_at"]
        assert now[key]["fingerprint"] == made[key]["fingerprint"], key

    # a member's zip code corrected: a row of Harbor Youth's, no figure. Its improve
    # report reads the rows; reflect does not, nor do the cohort summaries (they read
    # the rows of a network's members alone, and Harbor Youth is in none)
    roster = small / "orgs" / "harbor-youth" / "exports" / "roster.csv"
    rows = list(csv.reader(io.StringIO(roster.read_bytes().decode("cp1252"), newline="")))
    zip_column = rows[0].index("ZIP")
    first = next(row for row in rows[1:] if row[zip_column])
    member, zip_code = first[0], first[zip_column]
    moved = f"{(int(zip_code) + 1) % 100000:05d}"
    for row in rows[1:]:
        if row[0] == member:
            row[zip_column] = moved
    with roster.open("w", encoding="cp1252", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)
    made, values, day = now, saved("harbor-youth"), _last_sync_day(small, "harbor-youth")
    statuses = _run(small)
    summaries = SUMMARIES if _last_sync_day(small, "harbor-youth") != day else set()
    ran = _keys("harbor-youth", *ORG_JOBS[:4], "improve/organization") | summaries
    assert _ran(statuses) == ran, statuses
    assert saved("harbor-youth") == values
    with connect(paths.store) as con:
        assert con.execute(
            "SELECT DISTINCT zip FROM person JOIN identity USING (org_id, person_id) "
            "WHERE org_id = 'harbor-youth' AND source_id = ?",
            [member],
        ).fetchall() == [(moved,)]
    now = _manifest_jobs(small)
    assert changed(made, now, f"{CYCLE}/harbor-youth/improve/organization") == ["store"]
    reflect = f"{CYCLE}/harbor-youth/reflect/organization"
    assert now[reflect]["status"] == "cached"
    assert now[reflect]["fingerprint"] == made[reflect]["fingerprint"]

    # a figure changed: the member came to one more meeting this cycle
    rows.append([*first[:6], "2026-10-01", "Youth council", ""])
    with roster.open("w", encoding="cp1252", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)
    made = now
    statuses = _run(small)
    assert _ran(statuses) == _keys("harbor-youth") | SUMMARIES, statuses
    assert saved("harbor-youth") != values
    now = _manifest_jobs(small)
    assert changed(made, now, reflect) == ["values"]
    assert changed(made, now, f"{CYCLE}/harbor-youth/improve/organization") == [
        "store",
        "values",
    ]
