"""The bootstrap server's state on SQLite: the bootstraps it holds and its request log.

A bootstrap is stored as the exact signed bytes it will serve (the PIN and IMSI are not
kept), so a restart serves what was registered. Each public method that changes
something is one transaction; `transaction()` groups several. One thread at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from os import PathLike

MEMORY = ":memory:"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bootstraps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dev_id TEXT NOT NULL,
    server_id TEXT NOT NULL,
    profile TEXT NOT NULL,
    sec INTEGER NOT NULL,
    once INTEGER NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    state TEXT NOT NULL,
    served_count INTEGER NOT NULL DEFAULT 0,
    last_served_at REAL
);
CREATE INDEX IF NOT EXISTS bootstraps_by_device ON bootstraps (dev_id, id);
CREATE TABLE IF NOT EXISTS log (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    peer TEXT NOT NULL,
    dev_id TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


class BootstrapState(StrEnum):
    PENDING = "pending"        # will be served (until it expires)
    SERVED = "served"          # a once-only bootstrap, served
    SUPERSEDED = "superseded"  # a newer one was registered for the device
    WITHDRAWN = "withdrawn"    # the server that registered it took it back


@dataclass(frozen=True, slots=True)
class BootstrapRecord:
    id: int
    dev_id: str
    server_id: str
    profile: str
    sec: int
    once: bool
    content_type: str
    created_at: float
    expires_at: float | None
    state: BootstrapState
    served_count: int
    last_served_at: float | None


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One line of the log: when, from whom, about which device, what happened and why."""

    n: int
    at: float
    peer: str
    dev_id: str
    event: str
    outcome: str
    detail: str


_COLUMNS = ("id, dev_id, server_id, profile, sec, once, content_type, created_at, expires_at, "
            "state, served_count, last_served_at")


def _record(row: tuple) -> BootstrapRecord:
    return BootstrapRecord(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7],
                           row[8], BootstrapState(row[9]), row[10], row[11])


class BootstrapStore:
    def __init__(self, path: str | PathLike[str] = MEMORY) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._depth = 0
        if str(path) != MEMORY:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction; nested calls join the outermost one."""
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._db.execute("COMMIT")

    def add(self, *, dev_id: str, server_id: str, profile: str, sec: int, once: bool,
            body: bytes, content_type: str, created_at: float,
            expires_at: float | None) -> tuple[int, list[int]]:
        """Hold a new bootstrap for `dev_id`; the ones it supersedes are returned."""
        with self.transaction():
            superseded = self._retire(dev_id, BootstrapState.SUPERSEDED)
            cursor = self._db.execute(
                "INSERT INTO bootstraps (dev_id, server_id, profile, sec, once, body, "
                "content_type, created_at, expires_at, state) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (dev_id, server_id, profile, sec, int(once), body, content_type, created_at,
                 expires_at, BootstrapState.PENDING.value))
        return int(cursor.lastrowid or 0), superseded

    def withdraw(self, dev_id: str) -> list[int]:
        """Take back the device's pending bootstraps; their ids."""
        with self.transaction():
            return self._retire(dev_id, BootstrapState.WITHDRAWN)

    def _retire(self, dev_id: str, state: BootstrapState) -> list[int]:
        """Move the device's pending bootstraps to `state`; their ids."""
        ids = [r[0] for r in self._db.execute(
            "SELECT id FROM bootstraps WHERE dev_id = ? AND state = ? ORDER BY id",
            (dev_id, BootstrapState.PENDING.value))]
        self._db.execute("UPDATE bootstraps SET state = ? WHERE dev_id = ? AND state = ?",
                         (state.value, dev_id, BootstrapState.PENDING.value))
        return ids

    def latest(self, dev_id: str) -> BootstrapRecord | None:
        """The device's newest bootstrap that was neither superseded nor withdrawn."""
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM bootstraps WHERE dev_id = ? AND state NOT IN (?, ?) "
            "ORDER BY id DESC LIMIT 1", (dev_id, BootstrapState.SUPERSEDED.value,
                                         BootstrapState.WITHDRAWN.value)).fetchone()
        return None if row is None else _record(row)

    def body(self, bootstrap_id: int) -> bytes:
        row = self._db.execute("SELECT body FROM bootstraps WHERE id = ?",
                               (bootstrap_id,)).fetchone()
        return bytes(row[0])

    def mark_served(self, bootstrap_id: int, at: float, *, once: bool) -> None:
        state = BootstrapState.SERVED if once else BootstrapState.PENDING
        with self.transaction():
            self._db.execute("UPDATE bootstraps SET served_count = served_count + 1, "
                             "last_served_at = ?, state = ? WHERE id = ?",
                             (at, state.value, bootstrap_id))

    def bootstraps(self, dev_id: str | None = None) -> list[BootstrapRecord]:
        where, args = ("WHERE dev_id = ?", (dev_id,)) if dev_id else ("", ())
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM bootstraps {where} ORDER BY id", args)
        return [_record(r) for r in rows]

    def append_log(self, *, at: float, peer: str, dev_id: str, event: str, outcome: str,
                   detail: str) -> None:
        with self.transaction():
            self._db.execute("INSERT INTO log (at, peer, dev_id, event, outcome, detail) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (at, peer, dev_id, event, outcome, detail))

    def log(self, dev_id: str | None = None) -> list[LogRecord]:
        where, args = ("WHERE dev_id = ?", (dev_id,)) if dev_id else ("", ())
        rows = self._db.execute("SELECT n, at, peer, dev_id, event, outcome, detail FROM log "
                                f"{where} ORDER BY n", args)
        return [LogRecord(*r) for r in rows]
