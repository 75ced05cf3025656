"""Benchmark: every metric for one organization of 1,000,000 people / 10,000,000 activities.

Generates a synthetic store straight into a DuckDB file (untimed), then times:

* the ladder computation written with the metric engine's ibis expressions
  (``MetricEngine.ladder_transitions``: rung at start and end per person, counted by
  start→end), against the same computation hand-written in DuckDB SQL, in the same run
  (best of ``--repeat``);
* all metrics (``MetricEngine.compute``), once.

Prints times, peak memory (the process's maximum resident set: DuckDB runs in process)
and as the last line ``RESULT metrics ratio=<ibis/sql> peak_mb=<m>``.

    .venv/bin/python benchmarks/bench_metrics.py                     # full size
    .venv/bin/python benchmarks/bench_metrics.py --people 10000 --activities 100000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from cyclebook import store
from cyclebook.config import CycleCard, Organization
from cyclebook.metrics import MetricEngine

ORG = "bench"
CARD = CycleCard.model_validate(
    dict(
        id="2026-c2",
        title="Benchmark",
        how_might_we=["How fast?"],
        hypothesis="If we measure then we know.",
        design="Synthetic data.",
        start="2026-09-14",
        end="2026-10-26",
        previous="2026-c1",
    )
)
PREVIOUS = CycleCard.model_validate(
    dict(
        id="2026-c1",
        title="Benchmark, previous",
        how_might_we=["How fast?"],
        hypothesis="If we measure then we know.",
        design="Synthetic data.",
        start="2026-08-03",
        end="2026-09-14",
    )
)
ORGANIZATION = Organization(id=ORG, name="Benchmark Org", timezone="UTC")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def ago(days: int) -> str:
    """SQL: a random instant within ``days`` before the benchmark cycle's end."""
    return (
        "TIMESTAMPTZ '2026-10-26 00:00:00+00' "
        f"- to_seconds(CAST(random() * {days} * 86400 AS BIGINT))"
    )


def pick(n: int) -> str:
    """SQL: a random integer from 1 to n."""
    return f"(1 + CAST(floor(random() * {n}) AS BIGINT))"


def generate(path: Path, people: int, activities: int, attempts: int, events: int) -> None:
    """Synthetic canonical data, generated inside DuckDB (a skewed few do most)."""
    con = duckdb.connect(str(path))
    try:
        store.create_schema(con)
        con.execute("SET preserve_insertion_order = false")
        con.execute("SELECT setseed(0.42)")
        con.execute(f"INSERT INTO organization VALUES ('{ORG}', 'Benchmark Org', NULL)")
        con.execute(
            f"""
            INSERT INTO person (org_id, person_id, first_seen_at, zip, state, email_ok,
                                sms_ok, do_not_contact)
            SELECT '{ORG}', 'p' || i,
                   {ago(3 * 365)},
                   lpad(CAST(10000 + i % 90000 AS VARCHAR), 5, '0'), 'NY',
                   random() < 0.8, random() < 0.5, random() < 0.02
            FROM range({people}) t(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO identity (org_id, person_id, source, source_id)
            SELECT '{ORG}', 'p' || i, s.source, s.source || '-' || i
            FROM range({people}) t(i),
                 (VALUES ('action_network', 0), ('mobilize', 1), ('van', 2)) s(source, k)
            WHERE k = 0 OR (k = 1 AND i % 3 = 0) OR (k = 2 AND i % 5 = 0)
            """
        )
        con.execute(
            f"""
            INSERT INTO event (org_id, event_id, source, title, event_type, start_at)
            SELECT '{ORG}', 'e' || i, 'mobilize', 'Event ' || i,
                   (['CANVASS','PHONE_BANK','TEXT_BANK','MEETING','COMMUNITY','TRAINING',
                     'VOTER_REG','HOUSE_PARTY'])[1 + i % 8],
                   {ago(2 * 365)}
            FROM range({events}) t(i)
            """
        )
        con.execute(
            f"""
            INSERT INTO activity (org_id, activity_id, person_id, source, source_id, type,
                                  occurred_at, recorded_at, status, attended, event_id,
                                  channel, role, result, amount, score, organizer_id)
            SELECT '{ORG}', 'a' || i, 'p' || CAST(floor(pow(random(), 2) * {people}) AS BIGINT),
                   (['action_network','mobilize','van'])[1 + i % 3], 's' || i, typ,
                   ts, ts + INTERVAL 2 DAY,
                   CASE WHEN typ = 'attendance'
                        THEN (['registered','confirmed','cancelled','completed','no_show',
                               'declined','invited','walk_in'])[{pick(8)}]
                   END,
                   CASE WHEN typ = 'attendance' THEN random() < 0.6 END,
                   CASE WHEN typ IN ('attendance', 'signup') THEN 'e' || {pick(events)} END,
                   NULL,
                   CASE WHEN typ = 'attendance'
                        THEN (['attendee','attendee','attendee','attendee','attendee',
                               'attendee','attendee','attendee','host','lead'])[1 + i % 10] END,
                   NULL,
                   CASE WHEN typ = 'donation' THEN round(random() * 100, 2) END,
                   CASE WHEN typ = 'assessment' THEN 1 + i % 5 END,
                   CASE WHEN typ = 'one_on_one' THEN 'o' || i % 50 END
            FROM (
                SELECT i,
                       (['attendance','attendance','attendance','signup','signup','submission',
                         'donation','tagging','activist_code','one_on_one','conversation',
                         'text','survey_response','assessment'])[{pick(14)}] AS typ,
                       {ago(2 * 365)} AS ts
                FROM range({activities}) t(i)
            )
            """
        )
        con.execute(
            f"""
            INSERT INTO contact_attempt (org_id, attempt_id, person_id, channel, result,
                                         attempted_at, campaign, source, conversation,
                                         replied, opted_out)
            SELECT '{ORG}', 'c' || i,
                   CASE WHEN random() < 0.9 THEN 'p' || ({pick(people)} - 1) END,
                   ch, NULL,
                   {ago(300)},
                   'gotv', 'van', random() < 0.25,
                   CASE WHEN ch = 'text' THEN random() < 0.2 END,
                   CASE WHEN ch = 'text' THEN random() < 0.03 END
            FROM (SELECT i, (['door','phone','text'])[1 + i % 3] AS ch FROM range({attempts}) t(i))
            """
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()


# The default ladder, hand-written. Rung at d: highest rung whose rule holds on activity in
# (d - window, d]; invitations and refusals are not actions, and a tag put on at the very
# instant the same tool recorded another of the person's actions (Action Network's tag
# of a form) is not a second one for the rules over any activity. Start 2026-09-14, end
# 2026-10-26 (UTC); windows 365 / 180 / 90 / 90 days.
HAND_SQL = """
WITH acts AS (
    SELECT activity_id, person_id, source, type, occurred_at AS t, score,
           coalesce(attended, false) OR lower(coalesce(status, '')) IN ('completed', 'walk_in')
               AS came,
           lower(coalesce(role, '')) IN ('host', 'lead') AS led
    FROM activity
    WHERE org_id = 'bench'
      AND lower(coalesce(status, '')) NOT IN ('invited', 'declined', 'cancelled')
      AND occurred_at > TIMESTAMPTZ '2025-09-14 00:00:00+00'
      AND occurred_at <= TIMESTAMPTZ '2026-10-26 00:00:00+00'
),
echoes AS (
    SELECT DISTINCT g.activity_id FROM acts g JOIN acts o
      ON o.person_id = g.person_id AND o.t = g.t AND o.source = g.source
    WHERE g.type = 'tagging' AND o.type <> 'tagging'
),
a AS (
    SELECT acts.*, e.activity_id IS NOT NULL AS echo
    FROM acts LEFT JOIN echoes e USING (activity_id)
),
per AS (
    SELECT person_id,
        count(*) FILTER (WHERE NOT echo AND t > TIMESTAMPTZ '2025-09-14 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-09-14 00:00:00+00') AS s_sup,
        count(*) FILTER (WHERE NOT echo AND t > TIMESTAMPTZ '2026-03-18 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-09-14 00:00:00+00') AS s_mem,
        count(*) FILTER (WHERE type = 'donation' AND t > TIMESTAMPTZ '2026-03-18 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-09-14 00:00:00+00') AS s_dues,
        count(*) FILTER (WHERE type = 'attendance' AND came
                         AND t > TIMESTAMPTZ '2026-06-16 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-09-14 00:00:00+00') AS s_act,
        count(*) FILTER (WHERE ((type = 'attendance' AND led) OR type = 'one_on_one'
                                OR (type = 'assessment' AND score >= 4))
                         AND t > TIMESTAMPTZ '2026-06-16 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-09-14 00:00:00+00') AS s_lead,
        count(*) FILTER (WHERE NOT echo AND t > TIMESTAMPTZ '2025-10-26 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-10-26 00:00:00+00') AS e_sup,
        count(*) FILTER (WHERE NOT echo AND t > TIMESTAMPTZ '2026-04-29 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-10-26 00:00:00+00') AS e_mem,
        count(*) FILTER (WHERE type = 'donation' AND t > TIMESTAMPTZ '2026-04-29 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-10-26 00:00:00+00') AS e_dues,
        count(*) FILTER (WHERE type = 'attendance' AND came
                         AND t > TIMESTAMPTZ '2026-07-28 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-10-26 00:00:00+00') AS e_act,
        count(*) FILTER (WHERE ((type = 'attendance' AND led) OR type = 'one_on_one'
                                OR (type = 'assessment' AND score >= 4))
                         AND t > TIMESTAMPTZ '2026-07-28 00:00:00+00'
                         AND t <= TIMESTAMPTZ '2026-10-26 00:00:00+00') AS e_lead
    FROM a
    GROUP BY person_id
),
rungs AS (
    SELECT CASE WHEN s_lead >= 1 THEN 3 WHEN s_act >= 3 THEN 2
                WHEN s_mem >= 2 OR s_dues >= 1 THEN 1 WHEN s_sup >= 1 THEN 0 ELSE -1 END
               AS rung_start,
           CASE WHEN e_lead >= 1 THEN 3 WHEN e_act >= 3 THEN 2
                WHEN e_mem >= 2 OR e_dues >= 1 THEN 1 WHEN e_sup >= 1 THEN 0 ELSE -1 END
               AS rung_end
    FROM per
)
SELECT rung_start, rung_end, count(*) AS people
FROM rungs
GROUP BY rung_start, rung_end
ORDER BY rung_start, rung_end
"""


def interleaved_best(repeat: int, first, second):
    """Best time of each of two functions, run alternately so that load from other
    processes falls on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    outs = [None, None]
    for _ in range(repeat):
        for k, fn in enumerate((first, second)):
            t0 = time.perf_counter()
            outs[k] = fn()
            times[k].append(time.perf_counter() - t0)
    return min(times[0]), outs[0], min(times[1]), outs[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--people", type=int, default=1_000_000)
    p.add_argument("--activities", type=int, default=10_000_000)
    p.add_argument("--attempts", type=int, default=2_000_000)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=5, help="best of N for the ladder timing")
    p.add_argument("--store", type=Path, help="reuse (or create) this store file")
    args = p.parse_args(argv)

    tmp = None
    if args.store is None:
        tmp = tempfile.TemporaryDirectory(prefix="cyclebook-bench-")
        path = Path(tmp.name) / "store.duckdb"
    else:
        path = args.store
    try:
        if not path.exists():
            t0 = time.perf_counter()
            generate(path, args.people, args.activities, args.attempts, args.events)
            print(
                f"generated {args.people:,} people, {args.activities:,} activities, "
                f"{args.attempts:,} contact attempts in {time.perf_counter() - t0:.1f} s "
                "(untimed)",
                flush=True,
            )
        with MetricEngine.open(path, ORGANIZATION, CARD, PREVIOUS) as engine:
            con = engine.b.con
            # warm both paths once (file pages into DuckDB's buffer), then time
            con.execute(HAND_SQL).fetchall()
            ibis_expr = engine.ladder_transitions().order_by(["rung_start", "rung_end"])
            sql_s, sql_rows, ibis_s, ibis_rows = interleaved_best(
                args.repeat,
                lambda: con.execute(HAND_SQL).fetchall(),
                lambda: [tuple(r.values()) for r in ibis_expr.to_pyarrow().to_pylist()],
            )
            same = sorted(map(tuple, sql_rows)) == sorted(map(tuple, ibis_rows))
            t0 = time.perf_counter()
            results = engine.compute()
            all_s = time.perf_counter() - t0
        ratio = ibis_s / sql_s
        peak = peak_mb()
        print(f"ladder, hand-written SQL: {sql_s:.3f} s (best of {args.repeat})")
        print(f"ladder, ibis engine:      {ibis_s:.3f} s (best of {args.repeat})")
        print(f"ladder results identical: {same}")
        print(f"all metrics ({len(results.values)} values): {all_s:.3f} s")
        print(
            "headline: "
            + ", ".join(
                f"{m}={results.value(m, p):,.3g}"
                for m, p in (
                    ("ladder", "end"),
                    ("active_base", "end"),
                    ("new_people", "cycle"),
                    ("absorption", "cycle"),
                    ("leaders", "end"),
                    ("contact", "cycle"),
                )
                if results.value(m, p) is not None
            )
        )
        print(f"peak memory: {peak:.0f} MB")
        if not same:
            print("ERROR: ibis and SQL ladders differ", file=sys.stderr)
            print(f"RESULT metrics ratio={ratio:.2f} peak_mb={peak:.0f}")
            return 1
        print(f"RESULT metrics ratio={ratio:.2f} peak_mb={peak:.0f}")
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
