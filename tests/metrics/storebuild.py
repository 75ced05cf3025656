"""Hand-built stores for the metric tests: a real DuckDB file with the canonical schema."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import duckdb
import pandas as pd

from cyclebook import store
from cyclebook.config import CycleCard, Organization

UTC = dt.UTC
_ids = itertools.count(1)


def at(day: str, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    """A UTC instant on a YYYY-MM-DD day (noon unless told)."""
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=UTC)


class StoreBuilder:
    """Collects rows, then writes them into a fresh DuckDB store file."""

    def __init__(self, path: Path, org_id: str = "org") -> None:
        self.path = path
        self.org_id = org_id
        self.rows: dict[str, list[dict]] = {
            "person": [],
            "person_pii": [],
            "identity": [],
            "event": [],
            "activity": [],
            "contact_attempt": [],
        }

    def person(
        self,
        pid: str,
        first_seen: dt.datetime | None = None,
        *,
        sources: tuple[str, ...] = ("action_network",),
        dnc: bool = False,
        tool_first_seen: dict[str, dt.datetime] | None = None,
        unlisted: tuple[str, ...] = (),
    ) -> str:
        """``unlisted``: sources of ``sources`` whose id only another tool named (a
        Spoke contact's VAN id that no VAN export lists: identity.listed FALSE)."""
        self.rows["person"].append(
            dict(org_id=self.org_id, person_id=pid, first_seen_at=first_seen, do_not_contact=dnc)
        )
        self.rows["person_pii"].append(
            dict(
                org_id=self.org_id,
                person_id=pid,
                first_name=f"First{pid}",
                last_name=f"Last{pid}",
                email=f"{pid}@example.org",
                phone=f"555-01{len(self.rows['person_pii']):02d}",
            )
        )
        for source in sources:
            self.rows["identity"].append(
                dict(
                    org_id=self.org_id,
                    person_id=pid,
                    source=source,
                    source_id=f"{source[:3]}-{pid}",
                    first_seen_at=(tool_first_seen or {}).get(source),
                    listed=False if source in unlisted else None,
                )
            )
        return pid

    def event(self, eid: str, event_type: str, start: dt.datetime, source: str = "mobilize"):
        self.rows["event"].append(
            dict(
                org_id=self.org_id,
                event_id=eid,
                source=source,
                title=f"Event {eid}",
                event_type=event_type,
                start_at=start,
            )
        )

    def act(
        self, pid: str, type: str, when: dt.datetime, *, source: str = "action_network", **kw
    ) -> None:
        n = next(_ids)
        row = dict(
            org_id=self.org_id,
            activity_id=f"a{n}",
            person_id=pid,
            source=source,
            source_id=f"s{n}",
            type=type,
            occurred_at=when,
            recorded_at=when,
        )
        row.update(kw)
        self.rows["activity"].append(row)

    def attempt(
        self,
        pid: str | None,
        channel: str,
        when: dt.datetime,
        *,
        conversation: bool = False,
        replied: bool | None = None,
        opted_out: bool | None = None,
        campaign: str = "gotv",
        contact_key: str | None = None,
    ) -> None:
        n = next(_ids)
        self.rows["contact_attempt"].append(
            dict(
                org_id=self.org_id,
                attempt_id=f"c{n}",
                person_id=pid,
                channel=channel,
                attempted_at=when,
                campaign=campaign,
                conversation=conversation,
                replied=replied,
                opted_out=opted_out,
                source="van",
                contact_key=contact_key,
            )
        )

    def build(self) -> Path:
        con = duckdb.connect(str(self.path))
        try:
            store.create_schema(con)
            con.execute(
                "INSERT OR IGNORE INTO organization VALUES (?, ?, NULL)", [self.org_id, self.org_id]
            )
            for table, rows in self.rows.items():
                if not rows:
                    continue
                cols = [r[1] for r in con.execute(f"PRAGMA table_info('{table}')").fetchall()]
                frame = pd.DataFrame(rows)
                for col in cols:
                    if col not in frame.columns:
                        frame[col] = None
                frame = frame[cols]
                con.register("_rows", frame)
                con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
                con.unregister("_rows")
        finally:
            con.close()
        return self.path


def make_org(**kw) -> Organization:
    data = {"id": "org", "name": "Test Org", "timezone": "UTC"}
    data.update(kw)
    return Organization.model_validate(data)


def make_card(
    cid: str = "c2",
    start: str = "2026-03-02",
    end: str = "2026-04-13",
    previous: str | None = None,
    **kw,
) -> CycleCard:
    data = dict(
        id=cid,
        title="Test cycle",
        how_might_we=["How might we test?"],
        hypothesis="If we test then we learn.",
        design="Hand-built data.",
        start=start,
        end=end,
        previous=previous,
    )
    data.update(kw)
    return CycleCard.model_validate(data)


def two_organizations(path: Path) -> None:
    """Two organizations in one store, with different people and activity."""
    a = StoreBuilder(path, "org-a")
    # org-a: P1 donated (member at start and end), P2 new in the cycle with two
    # attended events (member at the end: two activities; active needs three)
    a.person("P1", at("2026-02-01"))
    a.act("P1", "donation", at("2026-02-01"), amount=20.0)
    a.person("P2", at("2026-03-05"))
    a.act("P2", "attendance", at("2026-03-05"), status="registered", attended=True)
    a.act("P2", "attendance", at("2026-03-19"), status="registered", attended=True)
    a.build()
    b = StoreBuilder(path, "org-b")
    # org-b: Q1 a single signup in the cycle (new, supporter), Q2 known, inactive
    b.person("Q1", at("2026-03-10"))
    b.act("Q1", "signup", at("2026-03-10"))
    b.person("Q2", at("2025-06-01"))
    b.build()
