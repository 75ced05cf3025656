"""Settings read from the environment: each read where it is used, checked, and explained
when its value cannot be used.

They were read with ``float()`` and ``int()`` when a module was imported, so a value such
as ``CYCLEBOOK_LOCK_TIMEOUT=10m`` ended every report's kernel in a ValueError traceback
and ``CYCLEBOOK_MAX_EXPORT_BYTES=1GB`` every sync. :func:`check_environment` reads them all
before a run or a sync starts, so a mistyped one stops it once, with its fix, instead of
failing every organization.
"""

from __future__ import annotations

import os
import re

from cyclebook.errors import SettingError

LOCK_TIMEOUT = "CYCLEBOOK_LOCK_TIMEOUT"
OTHER_PROGRAM_WAIT = "CYCLEBOOK_OTHER_PROGRAM_WAIT"
MAX_EXPORT_BYTES = "CYCLEBOOK_MAX_EXPORT_BYTES"
SYNC_MEMORY_LIMIT = "CYCLEBOOK_SYNC_MEMORY_LIMIT"
DUCKDB_THREADS = "CYCLEBOOK_DUCKDB_THREADS"

DEFAULT_LOCK_TIMEOUT_S = 600.0
DEFAULT_OTHER_PROGRAM_WAIT_S = 10.0
DEFAULT_MAX_EXPORT_BYTES = 10 * 1024**3
DEFAULT_SYNC_MEMORY_LIMIT = "3GB"

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def seconds(name: str, default: float) -> float:
    """A number of seconds, 0 or more (``600``, ``2.5``)."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):  # also refuses nan
        raise SettingError(
            f"{name}={value!r}: not a number of seconds",
            fix=f"set {name} to a number of seconds such as {default:g}, or unset it "
            f"(default {default:g}).",
        )
    return number


def size_bytes(name: str, default: int) -> int:
    """A size in bytes, with or without a unit: ``10737418240``, ``10GB``, ``10GiB``."""
    value = _raw(name)
    if value is None:
        return default
    match = _SIZE.fullmatch(value.lower())
    if match is None or match.group(2) not in _UNITS or float(match.group(1)) <= 0:
        raise SettingError(
            f"{name}={value!r}: not a size",
            fix=f"set {name} to a number of bytes or a size such as 10GB or 500MB, or "
            f"unset it (default {default // 1024**3} GiB).",
        )
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def threads(name: str = DUCKDB_THREADS) -> int | None:
    """A number of threads, 1 or more (None: unset)."""
    value = _raw(name)
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SettingError(
            f"{name}={value!r}: not a number of threads",
            # unset, a run does not give each report one thread per core: it divides the
            # cores among the reports running side by side (README)
            fix=f"set {name} to a whole number such as 2, or unset it (each report then "
            "gets its share of the cores).",
        )
    return int(value)


def sync_memory_limit() -> str:
    """The sync's DuckDB memory limit, as DuckDB reads it (``3GB``, ``6GB``, ``80%``)."""
    return _raw(SYNC_MEMORY_LIMIT) or DEFAULT_SYNC_MEMORY_LIMIT


def _check_memory_limit() -> None:
    value = _raw(SYNC_MEMORY_LIMIT)
    if value is None:
        return
    import duckdb

    con = duckdb.connect()  # a throwaway instance: the setting is the instance's
    try:
        con.execute("SET memory_limit = '" + value.replace("'", "''") + "'")
    except duckdb.Error as exc:
        raise SettingError(
            f"{SYNC_MEMORY_LIMIT}={value!r}: not a memory size ({str(exc).splitlines()[0]})",
            fix=f"set {SYNC_MEMORY_LIMIT} to a size such as 3GB or 6GB, or unset it.",
        ) from None
    finally:
        con.close()


def check_environment() -> None:
    """Read every setting once: the first that cannot be used raises its SettingError."""
    seconds(LOCK_TIMEOUT, DEFAULT_LOCK_TIMEOUT_S)
    seconds(OTHER_PROGRAM_WAIT, DEFAULT_OTHER_PROGRAM_WAIT_S)
    size_bytes(MAX_EXPORT_BYTES, DEFAULT_MAX_EXPORT_BYTES)
    threads()
    _check_memory_limit()
