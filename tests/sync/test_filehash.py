"""The cohort's hash cache: trusted while a file's stat is unchanged, never when racy."""

from __future__ import annotations

import hashlib
import json
import os
import time

from cyclebook.filehash import HashCache, cohort_cache

FAKE = "f" * 64  # planted in the cache file: returned only if the cache is trusted


def _old_file(path, content: bytes):
    path.write_bytes(content)
    past = time.time() - 3600
    os.utime(path, (past, past))  # last modified an hour ago: not racy
    return path


def _plant(cache_file, path, sha: str) -> None:
    data = json.loads(cache_file.read_text())
    data["files"][str(path.resolve())]["sha256"] = sha
    cache_file.write_text(json.dumps(data))


def test_hash_is_remembered_and_reused_while_the_file_is_unchanged(tmp_path):
    export = _old_file(tmp_path / "persons.csv", b"vanid\n101\n")
    cache = cohort_cache(tmp_path)
    assert cache.sha256(export) == hashlib.sha256(b"vanid\n101\n").hexdigest()
    cache.save()
    cache_file = tmp_path / ".cyclebook" / "sha256.json"
    _plant(cache_file, export, FAKE)
    # a new process (a new cache object) trusts the entry: the file was not read again
    assert cohort_cache(tmp_path).sha256(export) == FAKE


def test_a_changed_file_is_hashed_again(tmp_path):
    export = _old_file(tmp_path / "persons.csv", b"vanid\n101\n")
    cache = cohort_cache(tmp_path)
    cache.sha256(export)
    cache.save()
    _plant(tmp_path / ".cyclebook" / "sha256.json", export, FAKE)
    # same size, new content, and the old mtime put back (ctime still moves)
    st = export.stat()
    export.write_bytes(b"vanid\n102\n")
    os.utime(export, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cohort_cache(tmp_path).sha256(export) == hashlib.sha256(b"vanid\n102\n").hexdigest()


def test_a_file_modified_just_before_hashing_is_not_trusted(tmp_path):
    export = tmp_path / "persons.csv"
    export.write_bytes(b"vanid\n101\n")  # modified now: racy
    cache = cohort_cache(tmp_path)
    cache.sha256(export)
    cache.save()
    _plant(tmp_path / ".cyclebook" / "sha256.json", export, FAKE)
    assert cohort_cache(tmp_path).sha256(export) == hashlib.sha256(b"vanid\n101\n").hexdigest()


def test_saves_from_two_processes_merge_and_gone_files_are_forgotten(tmp_path):
    a = _old_file(tmp_path / "a.csv", b"a")
    b = _old_file(tmp_path / "b.csv", b"b")
    gone = _old_file(tmp_path / "gone.csv", b"g")
    first, second = HashCache(tmp_path / "c.json"), HashCache(tmp_path / "c.json")
    first.sha256(a)
    first.sha256(gone)
    second.sha256(b)
    first.save()
    gone.unlink()
    second.save()
    files = json.loads((tmp_path / "c.json").read_text())["files"]
    assert sorted(os.path.basename(k) for k in files) == ["a.csv", "b.csv"]


def test_a_damaged_cache_file_is_ignored(tmp_path):
    export = _old_file(tmp_path / "persons.csv", b"x")
    (tmp_path / ".cyclebook").mkdir()
    (tmp_path / ".cyclebook" / "sha256.json").write_text("{not json")
    assert cohort_cache(tmp_path).sha256(export) == hashlib.sha256(b"x").hexdigest()


def test_files_under_lists_what_rglob_lists(tmp_path):
    """The scandir walk gives the files sorted(rglob('*')) gives, in its order: paths sort
    by their parts ('a/b' before 'a-b/c', though '-' sorts before '/'), symlinked files
    count, symlinked folders are not entered."""
    from cyclebook.filehash import files_under

    root = tmp_path / "exports"
    for rel in ["a/b", "a-b/c", "a/z/deep.csv", "top.csv", "a/.hidden"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "link.csv").symlink_to(root / "top.csv")
    (root / "linked-folder").symlink_to(root / "a", target_is_directory=True)
    (root / "broken.csv").symlink_to(root / "missing.csv")
    expected = [
        (p.relative_to(root).as_posix(), str(p)) for p in sorted(root.rglob("*")) if p.is_file()
    ]
    assert files_under(root) == expected
    assert [rel for rel, _ in expected] == [
        "a/.hidden",
        "a/b",
        "a/z/deep.csv",
        "a-b/c",
        "link.csv",
        "top.csv",
    ]


def test_hash_cache_keys_files_by_their_real_path(tmp_path):
    """A file reached through a symlinked folder or as a symlink is one file to the cache."""
    from cyclebook.filehash import HashCache

    real = tmp_path / "real"
    real.mkdir()
    (real / "x.csv").write_text("a,b\n")
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    (tmp_path / "x-link.csv").symlink_to(real / "x.csv")
    cache = HashCache(tmp_path / "cache.json")
    first = cache.sha256(tmp_path / "alias" / "x.csv")
    assert cache.sha256(real / "x.csv") == first == cache.sha256(tmp_path / "x-link.csv")
    assert list(cache.learned) == [str(real.resolve() / "x.csv")]


def test_export_files_are_named_relative_to_the_exports_folder(tmp_path):
    from cyclebook.config import Source
    from cyclebook.sync import discover_files

    exports = tmp_path / "exports"
    for rel in ["spoke/b.csv", "spoke/sub/a.csv", "spoke/.~lock.csv", "spoke/notes.txt"]:
        (exports / rel).parent.mkdir(parents=True, exist_ok=True)
        (exports / rel).write_text("x")
    found = discover_files(exports, Source(kind="spoke", path="spoke"), "org")
    assert [rel for _, rel in found] == ["spoke/b.csv", "spoke/sub/a.csv"]
    assert [rel for _, rel in discover_files(exports, Source(kind="spoke", path="."), "org")] == [
        "spoke/b.csv",
        "spoke/sub/a.csv",
    ]
    single = discover_files(exports, Source(kind="spoke", path="spoke/b.csv"), "org")
    assert single == [(exports / "spoke" / "b.csv", "spoke/b.csv")]
