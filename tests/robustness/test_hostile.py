"""Hostile input: text typed into config, reflections and exports shows as text and never
runs; YAML with Python tags or alias bombs is refused through the CLI with a clear error."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from cyclebook.paths import CohortPaths

from . import hostile as h
from .reportset import cyclebook_cmd

SYNC_ENGINE = importlib.util.find_spec("cyclebook.sync") is not None


def cli(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cyclebook_cmd(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(_src_path())},
    )


def _src_path() -> list[str]:
    import cyclebook

    return [str(Path(cyclebook.__file__).parents[1])]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("hostile")
    work = base / "cwd"
    work.mkdir()
    root = base / "cohort"
    cycle = h.write_hostile(root, with_exports=SYNC_ENGINE)
    proc = cli("run", str(root), "--workers", "2", cwd=work)
    pages = {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(CohortPaths.of(root).output(cycle).rglob("*.html"))
    }
    return root, work, proc, pages


pytestmark = pytest.mark.e2e


def test_hostile_text_runs_to_the_end(hostile_run) -> None:
    root, work, proc, pages = hostile_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # 2 x 6 organization reports, 2 cohort summaries, the index
    assert len(pages) >= 15, sorted(pages)


def test_nothing_was_executed(hostile_run) -> None:
    root, work, proc, pages = hostile_run
    assert not h.pwned_files(work, root, Path.cwd())
    for name, text in pages.items():
        page = h.parse(text)
        assert not h.executable_markup(page), (name, h.executable_markup(page))
        assert "J[49]" not in text and "J[49]" not in page.text, name
        assert "<strong>md-bold</strong>" not in text, name
        assert "IF{%" not in page.text or "{%- if 1 %}IF{% endif %}" in page.text


def test_typed_text_is_shown_escaped(hostile_run) -> None:
    root, work, proc, pages = hostile_run
    texts = {name: h.parse(text).text for name, text in pages.items()}
    alpha = {name: t for name, t in texts.items() if "/alpha/" in name}
    assert len(alpha) == 6
    for name, text in {**alpha, "index": texts["c1/output/index.html"]}.items():
        assert h.ORG_NAME in text, f"{name} does not show the organization's name as text"
    everything = "\n".join(texts.values())
    for payload in (h.HTML_PAYLOAD, h.MD_PAYLOAD, h.JINJA_PAYLOAD, h.SHELL_PAYLOAD):
        assert payload in everything
    sync = texts["c1/output/reports/alpha/sync.html"]
    assert f"If we {h.ALL}" in sync  # the card's hypothesis
    reflect = texts["c1/output/reports/alpha/reflect.html"]
    assert f"Story {h.ALL}" in reflect and f"Because {h.ALL}" in reflect
    # escaped, not dropped: the raw HTML carries the entity form
    raw = pages["c1/output/reports/alpha/reflect.html"]
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in raw


@pytest.mark.skipif(not SYNC_ENGINE, reason="tags and custom fields need the sync engine")
def test_export_tags_and_custom_field_names(hostile_run) -> None:
    """Markup, Jinja, shell and SQL in custom-column names and tag values: the sync
    keeps the people, and no report builds an element from them (checked for every page
    in test_nothing_was_executed)."""
    root, work, proc, pages = hostile_run
    sync = pages["c1/output/reports/alpha/sync.html"]
    assert "This phase did not finish" not in sync, h.parse(sync).text[-2000:]
    store = root / "store.duckdb"
    if not store.exists():
        pytest.skip("the sync phase does not write the store yet")
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        tables = {row[0] for row in con.execute("show tables").fetchall()}
        assert "person" in tables  # the DROP TABLE in a column name did nothing
        assert con.execute("select count(*) from person where org_id='alpha'").fetchone()[0] == 12
    finally:
        con.close()
    text = h.parse(sync).text
    shown = [name for name in h.CUSTOM_FIELDS if name in text]
    raw = [name for name in h.CUSTOM_FIELDS if name in sync and name not in text]
    assert not raw, f"custom-field names in the HTML source but not as text: {raw}"
    assert shown or "custom" not in text.lower()


# --------------------------------------------------------------------------- YAML via CLI

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{chr(98 + n)}: &{chr(98 + n)} [" + ",".join([f"*{chr(97 + n)}"] * 9) + "]"
        for n in range(8)
    ]
)


def _tiny(tmp_path: Path) -> Path:
    from .reportset import write_tiny

    root = tmp_path / "tiny"
    write_tiny(root)
    return root


@pytest.mark.parametrize(
    ("where", "text", "message"),
    [
        (
            "cohort.yml",
            f"id: x\nname: !!python/object/apply:os.system ['touch {h.PWNED}-yaml']\n",
            "refused a YAML tag",
        ),
        ("cohort.yml", "id: x\nname: !!python/name:os.system\n", "refused a YAML tag"),
        ("c1/cycle.yml", BOMB + "\n", "YAML anchors (&a) are not allowed"),
        ("cohort.yml", "id: x\nname: *undefined\n", "alias"),
        ("cohort.yml", "id: x\nname: !custom_tag value\n", "refused a YAML tag"),
    ],
)
def test_validate_refuses_unsafe_yaml(tmp_path: Path, where: str, text: str, message: str) -> None:
    root = _tiny(tmp_path)
    (root / where).write_text(text)
    proc = cli("validate", str(root), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr, proc.stderr
    assert where.split("/")[-1] in proc.stderr and "line" in proc.stderr
    assert "Fix:" in proc.stderr and "Traceback" not in proc.stderr
    assert not h.pwned_files(tmp_path)


def test_validate_refuses_binary_and_huge_config(tmp_path: Path) -> None:
    from cyclebook.yamlio import MAX_YAML_BYTES

    root = _tiny(tmp_path)
    (root / "cohort.yml").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 10)
    proc = cli("validate", str(root), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "binary" in proc.stderr, proc.stderr
    with open(root / "cohort.yml", "wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_YAML_BYTES + 1)
    proc = cli("validate", str(root), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "larger than" in proc.stderr, proc.stderr


def test_run_refuses_unsafe_reflection_and_keeps_going(tmp_path: Path) -> None:
    """A reflection file with a Python tag: that organization's reflect report shows the
    refusal, nothing runs, every other report is produced, exit code 1."""
    root = _tiny(tmp_path)
    (root / "c1" / "reflections" / "alpha.yml").write_text(
        f"org_id: alpha\ncycle: c1\nversions:\n  - !!python/object/apply:os.system "
        f"['touch {h.PWNED}-refl']\n"
    )
    proc = cli("run", str(root), "--phase", "reflect", "--workers", "2", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED  c1/alpha/reflect/organization" in proc.stdout
    assert "refused a YAML tag" in proc.stdout
    paths = CohortPaths.of(root)
    failed = paths.report("c1", "alpha", "reflect").read_text()
    assert "This phase did not finish" in failed and "refused a YAML tag" in failed
    assert "This phase did not finish" not in paths.report("c1", "beta", "reflect").read_text()
    assert not h.pwned_files(tmp_path, root)


def test_hostile_cohort_folder_and_parameter(tmp_path: Path) -> None:
    """Shell text in the cohort's folder name and in a -p value: papermill injects them
    as Python literals, nothing reaches a shell."""
    from .reportset import write_tiny

    folder = tmp_path / f"co $(touch pwned-{h.TOKEN}-dir) `touch pwned-{h.TOKEN}-bt` 'q\" ;x"
    write_tiny(folder)
    proc = cli("run", str(folder), "--phase", "sync", "--phase", "reflect", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert CohortPaths.of(folder).report("c1", "alpha", "reflect").exists()
    proc = cli("run", str(folder), "-p", f"audience=$(touch pwned-{h.TOKEN}-p)", cwd=tmp_path)
    assert proc.returncode != 0
    assert not h.pwned_files(tmp_path)
