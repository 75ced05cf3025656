"""Learning-cycle reports for a cohort of organizing groups: cyclebook reads each
organization's exports (Action Network, Mobilize, EveryAction/VAN, Spoke, Action Builder,
spreadsheets) into one store, and renders each cycle's HTML reports: per organization,
what the sync read (sync), its measures (share), what it said about them (reflect) and
how its data could improve (improve), and a cohort summary, for the organization itself,
the cohort or funders (small counts suppressed). "run" renders the reports (reusing
those whose inputs did not change); "sync" only reads the exports; "pull" fetches API
sources through Parsons (optional) into the exports folders; "validate" checks cohort.yml
and the cycle cards; "params" lists a notebook's parameters; "demo" writes the demo
cohort's exports; "next-cycle" starts a cycle from the last one's record;
"publish" copies one audience's reports (and nothing else) to a folder to hand out; and
"forget" removes what is held of an organization taken out of cohort.yml, or of one
of its sources taken out (--source).

    cyclebook demo [COHORT_DIR] [--scale S]          write the seeded demo exports
    cyclebook run COHORT_DIR [--cycle C|all] [--phase P] [--org O] [-p name=value] [--force]
    cyclebook sync COHORT_DIR [--org O] [--force]    sync exports into the store, no reports
    cyclebook pull COHORT_DIR [--org O] [--since DATE]
                                                     pull API sources through Parsons (optional)
    cyclebook params NOTEBOOK                        show a notebook's parameters
    cyclebook validate COHORT_DIR                    check cohort.yml and every cycle.yml
    cyclebook forget COHORT_DIR ORG [--yes]          remove what is held of an organization
                                                     taken out of cohort.yml
    cyclebook forget COHORT_DIR ORG --source NAME [--yes]
                                                     ...of one of its sources taken out
    cyclebook next-cycle COHORT_DIR FROM NEW [--start DATE]
                                                     start the next cycle from FROM's record
    cyclebook publish COHORT_DIR --audience A --to DEST [--cycle C] [--org O] [--replace]
                                                     copy one audience's reports to DEST

Exit codes: 0 everything ran; 1 some report failed, was skipped or withheld (the others
were still produced); 2 the request itself was wrong (bad config, unknown parameter).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from cyclebook.errors import CyclebookError

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


def _parse_params(raw: Sequence[str]) -> dict[str, str]:
    params = {}
    for item in raw:
        if "=" not in item:
            raise CyclebookError(f"-p {item!r}: expected name=value", fix="write -p name=value.")
        name, value = item.split("=", 1)
        params[name.strip()] = value
    return params


def cmd_run(args: argparse.Namespace) -> int:
    from cyclebook import runner
    from cyclebook.config import list_cycles
    from cyclebook.params import declared_parameters, parse_cli_value
    from cyclebook.paths import NOTEBOOKS, notebooks_dir

    phases = args.phase or list(runner.ALL_PHASES)  # for the -p names below
    cycles = None
    if args.cycle == ["all"]:
        cycles = list_cycles(args.cohort_dir)
    elif args.cycle:
        cycles = args.cycle
    raw = _parse_params(args.param or [])
    extra = {}
    for name, text in raw.items():
        # Converted by the type the notebook declares, so -p x=007 stays "007" for a str
        # parameter; the runner then validates every notebook it will run.
        declaring = [
            notebooks_dir() / NOTEBOOKS[p]
            for p in phases
            if name in declared_parameters(notebooks_dir() / NOTEBOOKS[p])
        ]
        first = declaring[0] if declaring else notebooks_dir() / NOTEBOOKS[phases[0]]
        extra[name] = parse_cli_value(first, name, text)
    summary = runner.run(
        args.cohort_dir,
        cycles=cycles,
        phases=args.phase,
        orgs=args.org,
        audiences=args.audience,
        workers=args.workers,
        extra_parameters=extra,
        force=args.force,
    )
    for line in summary.lines():
        print(line)
    return EXIT_OK if summary.ok else EXIT_FAILURES


def cmd_sync(args: argparse.Namespace) -> int:
    from cyclebook import settings
    from cyclebook.config import load_cohort
    from cyclebook.sync import files_not_read, sync_cohort
    from cyclebook.sync.readers import SUFFIXES

    settings.check_environment()  # a mistyped setting stops here, not in every organization
    cohort = load_cohort(args.cohort_dir)
    known = [o.id for o in cohort.organizations]
    unknown = [o for o in args.org or [] if o not in known]
    if unknown:
        raise CyclebookError(
            f"--org {', '.join(unknown)}: no such organization in cohort.yml",
            fix=f"use one of: {', '.join(known)}.",
        )
    results = sync_cohort(args.cohort_dir, args.org, force=args.force)
    orgs = {o.id: o for o in cohort.organizations}
    failed = 0
    for org_id, result in results.items():
        for item in files_not_read(args.cohort_dir, orgs[org_id]):
            why = (
                f"the {item.kind} source whose path is '{item.only}' reads that file only: "
                "see the sync report for how to read this one"
                if item.only
                else f"the {item.kind} reader reads {' or '.join(SUFFIXES[item.kind])} files"
            )
            print(f"not read   {org_id}: {item.rel} ({why})")
        if result.status == "failed":
            failed += 1
            message = (result.error or "").removeprefix(f"[{org_id}] ")
            print(f"failed     {org_id}: {message}")
            continue
        carried = sum(f.carried for f in result.files)
        read = len(result.files) - carried
        # (a forced sync of exports the store holds already writes nothing: "written "
        # ended the line)
        written = ", ".join(f"{k} {v:,}" for k, v in result.written.items() if v)
        detail = (
            "no export changed"
            if result.status == "unchanged"
            else f"{read} export(s) read, {carried} carried over; {result.rows_read:,} rows, "
            f"{result.rows_rejected:,} rejected; written {written or 'nothing new'}"
        )
        print(f"{result.status:<10} {org_id}: {detail}")
        for f in result.files if result.status != "unchanged" else []:
            if not f.carried:  # a carried file's notes were printed when it was read
                for note in f.notes:
                    print(f"note       {org_id}: {f.file}: {note}")
    # (the failed ones were counted as synced too: "2 synced, 1 failed" for one sync)
    print(f"cyclebook: {len(results) - failed} organization(s) synced, {failed} failed")
    return EXIT_FAILURES if failed else EXIT_OK


def cmd_pull(args: argparse.Namespace) -> int:
    from cyclebook.sync.parsons import pull_cohort

    results = pull_cohort(args.cohort_dir, args.org, since=args.since)
    pulled = [r for r in results if r.not_pulled is None and r.error is None]
    failed = [r for r in results if r.error is not None]
    for r in results:
        if r.error is not None:  # (the message names the organization first)
            print(f"failed     {r.org_id}: {r.error.removeprefix(f'{r.org_id}: ')}")
        elif r.not_pulled is None:
            counts = ", ".join(f"{name} {n:,}" for name, n in r.counts.items())
            print(
                f"pulled     {r.org_id}: {r.kind} into exports/{r.path} "
                f"({counts}; {len(r.files)} file(s))"
            )
            for note in r.notes:
                print(f"note       {r.org_id}: {note}")
    skipped = [r for r in results if r.not_pulled is not None]
    for r in skipped:
        print(f"not pulled {r.org_id}: {r.kind} '{r.path}': {r.not_pulled} (exports/{r.path})")
    print(
        f"cyclebook: {len(pulled)} source(s) pulled, {len(failed)} failed"
        + (f", {len(skipped)} read from exports only" if skipped else "")
        + ("; run `cyclebook run COHORT` (or `sync`) to read what was pulled" if pulled else "")
    )
    # (the failures again, last: a long pull's notes may have pushed them out of sight)
    for r in failed:
        why = f". Fix: {r.fix}" if r.fix else f": {r.error.splitlines()[0]}"
        print(f"  failed {r.org_id}: {r.kind} '{r.path}'{why}")
    return EXIT_FAILURES if failed else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from cyclebook.demo import generate_demo

    generate_demo(Path(args.cohort_dir), scale=args.scale, seed=args.seed)
    print(f"demo exports written under {Path(args.cohort_dir) / 'orgs'}")
    return EXIT_OK


def cmd_params(args: argparse.Namespace) -> int:
    from cyclebook.params import declared_parameters

    for spec in declared_parameters(args.notebook).values():
        print(f"{spec.name}: {spec.type_name} = {spec.default!r}  # {spec.help}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from cyclebook import settings
    from cyclebook.config import (
        check_previous,
        list_cycles,
        load_cohort,
        load_cycle,
        team_warnings,
        unread_reflections,
    )
    from cyclebook.reflect import load_reflection

    settings.check_environment()
    cohort = load_cohort(args.cohort_dir)
    cycles = list_cycles(args.cohort_dir)
    org_ids = [org.id for org in cohort.organizations]
    for cycle in cycles:
        card = load_cycle(args.cohort_dir, cycle)
        check_previous(args.cohort_dir, card)
        for warning in team_warnings(args.cohort_dir, card, org_ids):
            print(f"cyclebook: warning: {warning}", file=sys.stderr)
        for org_id in org_ids:
            load_reflection(args.cohort_dir, cycle, org_id)  # an invalid one raises
    print(f"{cohort.name}: {len(cohort.organizations)} organizations, cycles {', '.join(cycles)}")
    unread = unread_reflections(args.cohort_dir, org_ids, cycles)
    for problem in unread:
        print(f"cyclebook: error: {problem}", file=sys.stderr)
    return EXIT_USAGE if unread else EXIT_OK


def cmd_forget(args: argparse.Namespace) -> int:
    from cyclebook.forget import forget, forget_source

    if args.source is not None:
        held = forget_source(args.cohort_dir, args.org_id, args.source, apply=args.yes)
        lines = held.lines(applied=args.yes)
        something = held.forgotten_at is None or bool(held.paths)
    else:
        found = forget(args.cohort_dir, args.org_id, apply=args.yes)
        lines = found.lines(applied=args.yes)
        something = bool(lines)
    for line in lines:
        print(line)
    if not lines:
        print(f"cyclebook holds nothing of {args.org_id}")
    elif something and not args.yes:
        print("run again with --yes to remove them (this cannot be undone)")
    return EXIT_OK


def _iso_date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def cmd_next_cycle(args: argparse.Namespace) -> int:
    from cyclebook.record import start_next_cycle

    path = start_next_cycle(
        Path(args.cohort_dir), args.from_cycle, args.new_cycle, start=args.start
    )
    print(f"started {args.new_cycle}: edit {path} (adopted definition changes are in cohort.yml)")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from cyclebook.publish import publish

    done = publish(
        args.cohort_dir,
        args.audience,
        args.dest,
        cycle=args.cycle,
        orgs=args.org,
        replace=args.replace,
    )
    whose = f" of {', '.join(done.orgs)}" if args.org else ""
    print(
        f"published {len(done.reports)} report(s){whose} of {done.cycle} for the "
        f"{done.audience} to {done.dest}:"
    )
    for path in done.reports:
        print(f"  {path}")
    print(f"  index: {done.index}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cyclebook", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run phase notebooks and render HTML reports")
    run.add_argument("cohort_dir", help="cohort folder, e.g. cycles/demo")
    run.add_argument(
        "--cycle", action="append", help="cycle id (repeatable) or 'all'; default: the latest"
    )
    run.add_argument(
        "--phase",
        action="append",
        choices=["sync", "share", "reflect", "improve", "cohort"],
        help="phase to run (repeatable); default: all",
    )
    run.add_argument("--org", action="append", help="organization id (repeatable); default: all")
    run.add_argument(
        "--audience",
        action="append",
        choices=["organization", "cohort", "funder"],
        help="render for this audience (repeatable); default: per phase",
    )
    run.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
    run.add_argument(
        "-p", "--param", action="append", metavar="NAME=VALUE", help="extra notebook parameter"
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="execute every report, even those whose inputs did not change (default: reuse)",
    )
    run.set_defaults(func=cmd_run)

    sync = sub.add_parser(
        "sync", help="sync the organizations' exports into the store (no reports)"
    )
    sync.add_argument("cohort_dir")
    sync.add_argument("--org", action="append", help="organization id (repeatable); default: all")
    sync.add_argument(
        "--force",
        action="store_true",
        help="read every export again (after an upgrade of cyclebook, say); default: only "
        "new or changed exports and the lookups they need",
    )
    sync.set_defaults(func=cmd_sync)

    pull = sub.add_parser(
        "pull",
        help="pull Action Network (API), Mobilize, VAN and Action Builder sources through "
        "Parsons into the exports folders (optional: pip install 'cyclebook[parsons]'); "
        "Spoke and spreadsheets are read from their exports only",
    )
    pull.add_argument("cohort_dir")
    pull.add_argument("--org", action="append", help="organization id (repeatable); default: all")
    pull.add_argument(
        "--since",
        type=_iso_date,
        help="only records changed since YYYY-MM-DD (default: everything; VAN: at most "
        "the last 90 days); events are always pulled whole",
    )
    pull.set_defaults(func=cmd_pull)

    demo = sub.add_parser("demo", help="write the seeded demo cohort's exports")
    demo.add_argument("cohort_dir", nargs="?", default="cycles/demo")
    demo.add_argument("--scale", type=float, default=1.0, help="size factor (1.0 = full demo)")
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(func=cmd_demo)

    params = sub.add_parser("params", help="show a notebook's declared parameters")
    params.add_argument("notebook")
    params.set_defaults(func=cmd_params)

    forget_cmd = sub.add_parser(
        "forget",
        help="remove what cyclebook holds of an organization taken out of cohort.yml "
        "(store rows, archived exports, follow-up lists, reports), or with --source of one "
        "of its sources taken out of its entry",
    )
    forget_cmd.add_argument("cohort_dir")
    forget_cmd.add_argument("org_id")
    forget_cmd.add_argument(
        "--source",
        metavar="NAME",
        help="only this source of the organization (taken out of its entry in cohort.yml "
        "first), as the store names it: a tool as its "
        "kind ('van', 'spoke', 'mobilize', 'action_builder'; both Action Network sources are "
        "'action_network'), a spreadsheet as 'sheet:' and its label, else its file name. "
        "Removes its activities, contact attempts, events, records, custom fields, sync "
        "records and archived exports, and the people only it knew; people it joined with "
        "other tools' records stay one person (identity never splits)",
    )
    forget_cmd.add_argument(
        "--yes", action="store_true", help="remove them (default: only list what would go)"
    )
    forget_cmd.set_defaults(func=cmd_forget)

    validate = sub.add_parser("validate", help="check cohort.yml and cycle.yml files")
    validate.add_argument("cohort_dir")
    validate.set_defaults(func=cmd_validate)

    nxt = sub.add_parser(
        "next-cycle",
        help="start the next cycle from the last one's decisions, questions and adopted "
        "definition changes",
    )
    nxt.add_argument("cohort_dir")
    nxt.add_argument("from_cycle", help="the cycle that just ended, e.g. 2026-c2")
    nxt.add_argument("new_cycle", help="id of the new cycle, e.g. 2026-c3")
    nxt.add_argument(
        "--start", type=_iso_date, help="start date YYYY-MM-DD (default: the last cycle's end)"
    )
    nxt.set_defaults(func=cmd_next_cycle)

    pub = sub.add_parser(
        "publish",
        help="copy the reports of one audience (and nothing else: no other audience's "
        "report, notebook, follow-up list or store) with an index of them to a folder to "
        "hand out",
    )
    pub.add_argument("cohort_dir")
    pub.add_argument(
        "--audience",
        required=True,
        metavar="AUDIENCE",
        help="organization (one group's own reports; needs --org), cohort or funder",
    )
    pub.add_argument(
        "--to", required=True, dest="dest", metavar="DEST", help="a new or empty folder"
    )
    pub.add_argument("--cycle", help="cycle id; default: the latest")
    pub.add_argument(
        "--org",
        action="append",
        help="organization id: the one group for --audience organization; for cohort or "
        "funder, only these groups' reports (repeatable; no cohort summary)",
    )
    pub.add_argument(
        "--replace",
        action="store_true",
        help="replace what an earlier publish wrote in DEST (default: refuse a folder that "
        "is not empty)",
    )
    pub.set_defaults(func=cmd_publish)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CyclebookError as exc:
        print(f"cyclebook: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, duckdb_interrupt()) as exc:
        # (DuckDB turns a Ctrl-C during a query into an exception of its own)
        describe = getattr(exc, "describe", None)  # a run's: what it finished
        if describe is not None:
            words = list(sys.argv[1:] if argv is None else argv)
            print(f"cyclebook: interrupted; {describe()}. {finish_fix(words)}", file=sys.stderr)
            return 130
        what = {
            "run": "finished reports are kept, nothing half-written; run again to finish.",
            "sync": "the organization being synced keeps its last sync; run again to finish.",
            "forget": "the store is as it was or already without the group; run it again.",
            "publish": "nothing was published (the destination is as it was); run it again.",
        }.get(args.command, "run the command again.")
        print(f"cyclebook: interrupted; {what}", file=sys.stderr)
        return 130


def finish_fix(words: Sequence[str]) -> str:
    """How to finish an interrupted run: the same command again. Its finished reports
    are reused, except under ``--force``, which runs every report again: said so,
    since the command that forced them would otherwise claim to reuse them."""
    command = shlex.join(["cyclebook", *words])
    if "--force" in words:
        return (
            f"Fix: run `{command}` again to finish (with --force every report runs "
            "again, the finished ones too; without it, those not run keep their earlier "
            "reports wherever nothing they read changed)."
        )
    return f"Fix: run `{command}` again to finish (the finished reports are reused)."


def duckdb_interrupt() -> type[BaseException]:
    """DuckDB's exception for a query stopped by Ctrl-C (KeyboardInterrupt when DuckDB
    was never imported: nothing of it can have run)."""
    duckdb = sys.modules.get("duckdb")
    return getattr(duckdb, "InterruptException", KeyboardInterrupt)


def entry() -> None:
    """The ``cyclebook`` command: :func:`main`, then exit with its status."""
    code = main()
    # The work is over (finished, or stopped and cleaned up). A Ctrl-C now, while the
    # interpreter shuts down (joining the worker pool's threads), must not turn the
    # exit status into death by SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


if __name__ == "__main__":
    entry()
