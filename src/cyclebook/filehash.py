"""SHA-256 of export files, remembered between runs by the files' stat.

A facilitator re-runs a cycle many times a week; the exports rarely change, but an
election year's VAN table is gigabytes. The sync (is this export new?), the incremental
runner (did this group's inputs change?) and the manifest (what was read?) all need the
exports' hashes; reading every byte three times per run cost a minute on an 11 GiB file.

``HashCache`` keeps, per file, the hash with the stat it was computed at (size, mtime,
ctime, inode), in one JSON file per cohort (``.cyclebook/sha256.json``). An entry is used
only while that stat is unchanged *and* the file was last modified at least two seconds
before it was hashed, so a file written during or just before hashing is hashed again (the
rule git uses for "racily clean" index entries). ctime cannot be set back by ``touch``, so
an edit that restores the old mtime is still seen. Several worker processes may save at
once: saves merge under a file lock, and a lost entry only costs a re-hash.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

CHUNK = 8 * 1024 * 1024
RACY_NS = 2_000_000_000  # a file modified this close to its hashing is hashed again
CACHE_VERSION = 1


def sha256_file(path: str | Path, copy_to: str | Path | None = None) -> str:
    """The file's SHA-256, reading every byte; with ``copy_to``, the bytes are written
    there too as they are read (a copy and its hash from one read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle, contextlib.ExitStack() as stack:
        copy = stack.enter_context(open(copy_to, "wb")) if copy_to is not None else None
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if copy is not None:
                copy.write(chunk)
    return digest.hexdigest()


def files_digest(files: Iterable[tuple[str, Path]], salt: str = "") -> str:
    """SHA-256 of named files (name, then content): a code version, for the caches
    that must notice when the code that filled them changed."""
    digest = hashlib.sha256(salt.encode())
    for name, path in files:
        digest.update(name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()


def files_under(root: str | Path) -> list[tuple[str, str]]:
    """(relative path, full path) of the files under ``root``, sorted as paths sort: what
    ``sorted(root.rglob("*"))`` filtered by ``is_file()`` gives, read with scandir (a file's
    type comes with its folder's listing: no stat per file, no Path objects)."""
    found: list[tuple[tuple[str, ...], str, str]] = []
    stack: list[tuple[tuple[str, ...], str]] = [((), os.fspath(root))]
    while stack:
        parts, folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(((*parts, entry.name), entry.path))
                elif entry.is_file():  # a symlinked file counts, as with Path.is_file
                    found.append(((*parts, entry.name), "/".join((*parts, entry.name)), entry.path))
    found.sort()
    return [(rel, full) for _, rel, full in found]


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class HashCache:
    """Hashes of files remembered by stat; ``save()`` writes what was learned."""

    def __init__(self, file: str | Path) -> None:
        self.file = Path(file)
        self.entries: dict[str, dict] = self._read()
        self.learned: dict[str, dict] = {}
        self._folders: dict[str, str] = {}  # folder -> its real path

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}  # no cache yet, or a damaged one: hash again
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        files = data.get("files")
        return files if isinstance(files, dict) else {}

    def _key(self, path: str | Path) -> str:
        """The file's real path: its folder resolved once per cache, not every file's
        every component (an API export is tens of thousands of pages in one folder)."""
        path = os.path.abspath(path)
        if os.path.islink(path):
            return os.path.realpath(path)
        folder, name = os.path.split(path)
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = os.path.realpath(folder)
        return os.path.join(real, name)

    def sha256(self, path: str | Path) -> str:
        """The file's SHA-256: from the cache while its stat says it is unchanged."""
        key = self._key(path)
        st = os.stat(key)
        entry = self.learned.get(key) or self.entries.get(key)
        if (
            isinstance(entry, dict)
            and entry.get("stat") == _stat_key(st)
            and st.st_mtime_ns + RACY_NS < int(entry.get("hashed_at_ns", 0))
        ):
            return str(entry["sha256"])
        hashed_at = time.time_ns()
        sha = sha256_file(key)
        self.remember(key, sha, st, hashed_at)
        return sha

    def tree(self, root: str | Path) -> dict[str, str]:
        """SHA-256 of every file under ``root`` by its path relative to it ('/'-separated,
        in sorted order; symlinked folders are not entered), from the cache where it can."""
        return {rel: self.sha256(full) for rel, full in files_under(root)}

    def remember(self, path: str | Path, sha: str, st: os.stat_result, hashed_at_ns: int) -> None:
        """Record a hash computed elsewhere (the sync hashes while it archives)."""
        key = self._key(path)
        self.learned[key] = {"stat": _stat_key(st), "sha256": sha, "hashed_at_ns": hashed_at_ns}

    def save(self) -> None:
        """Merge what this process learned into the cache file (atomic, under a lock)."""
        if not self.learned:
            return
        with contextlib.suppress(OSError):  # a read-only cohort folder: no cache, no error
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.file.with_name(self.file.name + ".lock"), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                files = self._read()
                # forget files that are gone, so the cache does not grow forever
                files = {k: v for k, v in files.items() if os.path.exists(k)}
                files.update(self.learned)
                tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"version": CACHE_VERSION, "files": files}))
                os.replace(tmp, self.file)
            self.entries.update(self.learned)
            self.learned = {}


def cohort_cache(cohort_root: str | Path) -> HashCache:
    """The cohort's hash cache (``<cohort>/.cyclebook/sha256.json``)."""
    return HashCache(Path(cohort_root) / ".cyclebook" / "sha256.json")
