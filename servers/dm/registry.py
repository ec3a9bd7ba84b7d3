"""The DM server's store, on SQLite: devices and their nonces, jobs and their results,
sessions and every command sent in them, generic alerts, and the package 0s sent.

Every public method that changes something is one transaction; `transaction()` groups
several into one (the server writes everything one client message changed at once, so
a crash never leaves half a message applied). One thread at a time.

Cheap per message, since a session runs several of these: a transaction begins at its
first statement (one that runs none costs nothing), and the per-command log writes of a
transaction (commands sent, their statuses, job results) are batched: each statement's
rows go in one executemany, before any other statement runs and at the latest at commit.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from os import PathLike

from servers.dm.jobs import Job, dump_job, parse_job, target_of, walk
from servers.dm.records import (CommandResult, DeviceRecord, GenericAlertRecord, Initiator,
                                JobRecord, JobState, Outcome, ResultItem, SentCommand,
                                SessionRecord)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    client_nonce BLOB NOT NULL,
    server_nonce BLOB NOT NULL,
    devinfo TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    spec BLOB NOT NULL,
    state TEXT NOT NULL,
    queued_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    session INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_device ON jobs (device_id, state, job_id);
CREATE TABLE IF NOT EXISTS job_commands (
    job_id INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    place TEXT NOT NULL,
    cmd TEXT NOT NULL,
    uri TEXT NOT NULL,
    status INTEGER,
    detail TEXT NOT NULL DEFAULT '',
    results TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (job_id, place)
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    initiator TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    outcome TEXT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_by_device ON sessions (device_id, id);
CREATE TABLE IF NOT EXISTS session_commands (
    session INTEGER NOT NULL,
    msg_id TEXT NOT NULL,
    cmd_id TEXT NOT NULL,
    cmd TEXT NOT NULL,
    uri TEXT NOT NULL,
    status INTEGER,
    job_id INTEGER,
    place TEXT,
    PRIMARY KEY (session, msg_id, cmd_id)
);
CREATE TABLE IF NOT EXISTS anomalies (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    session INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generic_alerts (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    session INTEGER NOT NULL,
    received_at REAL NOT NULL,
    code INTEGER NOT NULL,
    correlator TEXT,
    source TEXT,
    type TEXT,
    format TEXT,
    mark TEXT,
    data
);
CREATE TABLE IF NOT EXISTS notifications (
    device_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    used_at REAL,
    PRIMARY KEY (device_id, session_id)
);
"""


class UnknownJob(LookupError):
    pass


def _results_json(results: tuple[ResultItem, ...]) -> str:
    """Results as JSON text; bytes data (WBXML opaque) is kept as {"b64": ...}."""
    if not results:
        return "[]"  # most saves: a status without results
    out = []
    for r in results:
        data: object = r.data
        if isinstance(data, bytes):
            data = {"b64": base64.b64encode(data).decode("ascii")}
        out.append({"uri": r.uri, "data": data, "format": r.format, "type": r.type})
    return json.dumps(out)


def _results(text: str) -> tuple[ResultItem, ...]:
    out = []
    for r in json.loads(text):
        data = r["data"]
        if isinstance(data, dict):
            data = base64.b64decode(data["b64"])
        out.append(ResultItem(r["uri"], data, r["format"], r["type"]))
    return tuple(out)


class _Transaction:
    """`with registry.transaction():` (a class, not a generator: every write enters it)."""

    __slots__ = ("_registry",)

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __enter__(self) -> None:
        self._registry._depth += 1

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        registry = self._registry
        registry._depth -= 1
        if registry._depth == 0:
            registry._end(commit=kind is None)


class Registry:
    def __init__(self, path: str | PathLike[str] = ":memory:") -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._depth = 0
        self._begun = False
        self._batches: dict[str, dict[object, tuple]] = {}  # statement -> {key: row}
        self._transaction = _Transaction(self)
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> _Transaction:
        """One SQLite transaction; nested calls join the outermost one."""
        return self._transaction

    def _end(self, commit: bool) -> None:
        """End the outermost transaction: write the batched rows and commit, or roll
        everything back (also when the batched rows cannot be written)."""
        if not self._begun:
            return
        self._begun = False
        if commit:
            try:
                self._flush()
                self._db.execute("COMMIT")
                return
            except BaseException:
                self._rollback()
                raise
        self._rollback()

    def _rollback(self) -> None:
        self._batches.clear()
        self._db.execute("ROLLBACK")

    def _begin(self) -> None:
        if self._depth and not self._begun:
            self._db.execute("BEGIN IMMEDIATE")
            self._begun = True

    def _flush(self) -> None:
        batches, self._batches = self._batches, {}
        for sql, rows in batches.items():
            self._db.executemany(sql, rows.values())

    def _execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """Run a statement now, in the open transaction if any, after the batched rows."""
        if self._batches:
            self._flush()
        self._begin()
        return self._db.execute(sql, args)

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self.transaction():
            return self._execute(sql, args)

    def _batch(self, sql: str, args: tuple, key: object = None) -> None:
        """A write kept for one executemany of its statement, run before any other
        statement and at commit. Batched statements run grouped, not interleaved: only
        for writes whose order among themselves does not matter (log rows). A row with
        the key of an earlier one replaces it: for updates that set the whole row."""
        if not self._depth:  # on its own: a transaction of its own
            with self.transaction():
                self._batch(sql, args, key)
            return
        self._begin()
        self._batches.setdefault(sql, {})[object() if key is None else key] = args

    # ------------------------------------------------------------------ devices

    def ensure_device(self, device_id: str, client_nonce: bytes, server_nonce: bytes) -> None:
        """Add a device with its first nonces; a known device keeps the nonces it has."""
        self._write("INSERT OR IGNORE INTO devices (device_id, client_nonce, server_nonce) "
                    "VALUES (?, ?, ?)", (device_id, client_nonce, server_nonce))

    def forget_device(self, device_id: str) -> None:
        """Drop a device's credentials and the jobs it still has queued; its past
        sessions and finished jobs stay on record."""
        with self.transaction():
            queued = "SELECT job_id FROM jobs WHERE device_id = ? AND state = ?"
            args = (device_id, JobState.QUEUED.value)
            self._write(f"DELETE FROM job_commands WHERE job_id IN ({queued})", args)
            self._write("DELETE FROM jobs WHERE device_id = ? AND state = ?", args)
            self._write("DELETE FROM devices WHERE device_id = ?", (device_id,))

    def device(self, device_id: str) -> DeviceRecord | None:
        row = self._execute("SELECT device_id, client_nonce, server_nonce, devinfo "
                            "FROM devices WHERE device_id = ?", (device_id,)).fetchone()
        return None if row is None else DeviceRecord(row[0], row[1], row[2], json.loads(row[3]))

    def devices(self) -> list[DeviceRecord]:
        rows = self._execute("SELECT device_id FROM devices ORDER BY device_id").fetchall()
        return [self.device(r[0]) for r in rows]  # type: ignore[misc]

    def set_client_nonce(self, device_id: str, nonce: bytes) -> None:
        self._write("UPDATE devices SET client_nonce = ? WHERE device_id = ?", (nonce, device_id))

    def set_server_nonce(self, device_id: str, nonce: bytes) -> None:
        self._write("UPDATE devices SET server_nonce = ? WHERE device_id = ?", (nonce, device_id))

    def set_devinfo(self, device_id: str, devinfo: dict[str, str]) -> None:
        self._write("UPDATE devices SET devinfo = ? WHERE device_id = ?",
                    (json.dumps(devinfo, sort_keys=True), device_id))

    # ------------------------------------------------------------------ jobs

    def add_job(self, device_id: str, job: Job, now: float) -> str:
        with self.transaction():
            cursor = self._execute(
                "INSERT INTO jobs (device_id, spec, state, queued_at) VALUES (?, ?, ?, ?)",
                (device_id, dump_job(job), JobState.QUEUED.value, now))
            job_id = cursor.lastrowid
            self._db.executemany(
                "INSERT INTO job_commands (job_id, ordinal, place, cmd, uri) VALUES (?, ?, ?, ?, ?)",
                [(job_id, n, place, type(c).__name__, target_of(c))
                 for n, (place, c) in enumerate(walk(job.commands))])
        return str(job_id)

    def claim_job(self, device_id: str, session: int, now: float) -> tuple[str, Job] | None:
        """The device's oldest queued job, now marked running in `session`."""
        with self.transaction():
            row = self._execute(
                "SELECT job_id, spec FROM jobs WHERE device_id = ? AND state = ? "
                "ORDER BY job_id LIMIT 1", (device_id, JobState.QUEUED.value)).fetchone()
            if row is None:
                return None
            self._execute("UPDATE jobs SET state = ?, started_at = ?, session = ? "
                          "WHERE job_id = ?", (JobState.RUNNING.value, now, session, row[0]))
        return str(row[0]), parse_job(row[1])

    def save_command(self, job_id: str, result: CommandResult) -> None:
        self._batch("UPDATE job_commands SET status = ?, detail = ?, results = ? "
                    "WHERE job_id = ? AND place = ?",
                    (result.status, result.detail, _results_json(result.results),
                     int(job_id), result.place), key=(job_id, result.place))

    def finish_job(self, job_id: str, state: JobState, now: float) -> None:
        self._write("UPDATE jobs SET state = ?, ended_at = ? WHERE job_id = ?",
                    (state.value, now, int(job_id)))

    def requeue_job(self, job_id: str) -> None:
        """Back in the queue, as if never claimed: a session ended before it ran any of it."""
        with self.transaction():
            self._execute("UPDATE jobs SET state = ?, started_at = NULL, session = NULL "
                          "WHERE job_id = ?", (JobState.QUEUED.value, int(job_id)))
            self._execute("UPDATE job_commands SET status = NULL, detail = '', results = '[]'"
                          " WHERE job_id = ?", (int(job_id),))

    def job(self, job_id: str) -> JobRecord:
        try:
            key = int(job_id)
        except ValueError:
            raise UnknownJob(job_id) from None
        row = self._execute("SELECT job_id, device_id, state, queued_at, started_at, "
                            "ended_at, session FROM jobs WHERE job_id = ?", (key,)).fetchone()
        if row is None:
            raise UnknownJob(job_id)
        commands = tuple(
            CommandResult(place, cmd, uri, status, _results(results), detail)
            for place, cmd, uri, status, detail, results in self._execute(
                "SELECT place, cmd, uri, status, detail, results FROM job_commands "
                "WHERE job_id = ? ORDER BY ordinal", (key,)))
        return JobRecord(str(row[0]), row[1], JobState(row[2]), row[3], row[4], row[5], row[6],
                         commands)

    def jobs(self, device_id: str | None = None) -> list[JobRecord]:
        rows = self._execute("SELECT job_id FROM jobs WHERE ? IS NULL OR device_id = ? "
                             "ORDER BY job_id", (device_id, device_id)).fetchall()
        return [self.job(str(r[0])) for r in rows]

    # ------------------------------------------------------------------ sessions

    def open_session(self, device_id: str, session_id: str, initiator: Initiator,
                     now: float) -> int:
        cursor = self._write("INSERT INTO sessions (device_id, session_id, initiator, started_at)"
                             " VALUES (?, ?, ?, ?)", (device_id, session_id, initiator.value, now))
        return cursor.lastrowid  # type: ignore[return-value]

    def log_sent(self, session: int, sent: SentCommand) -> None:
        self._batch("INSERT INTO session_commands (session, msg_id, cmd_id, cmd, uri, status, "
                    "job_id, place) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (session, sent.msg_id, sent.cmd_id, sent.cmd, sent.uri, sent.status,
                     None if sent.job_id is None else int(sent.job_id), sent.place))

    def log_status(self, session: int, msg_id: str, cmd_id: str, status: int) -> None:
        self._batch("UPDATE session_commands SET status = ? "
                    "WHERE session = ? AND msg_id = ? AND cmd_id = ?",
                    (status, session, msg_id, cmd_id), key=(session, msg_id, cmd_id))

    def add_anomaly(self, session: int, text: str) -> None:
        self._write("INSERT INTO anomalies (session, text) VALUES (?, ?)", (session, text))

    def close_session(self, session: int, outcome: Outcome, reason: str, now: float) -> None:
        self._write("UPDATE sessions SET outcome = ?, reason = ?, ended_at = ? WHERE id = ?",
                    (outcome.value, reason, now, session))

    def session(self, session: int) -> SessionRecord:
        row = self._execute("SELECT id, device_id, session_id, initiator, started_at, "
                            "ended_at, outcome, reason FROM sessions WHERE id = ?",
                            (session,)).fetchone()
        if row is None:
            raise LookupError(f"no session {session}")
        commands = tuple(
            SentCommand(msg_id, cmd_id, cmd, uri, status,
                        None if job_id is None else str(job_id), place)
            for msg_id, cmd_id, cmd, uri, status, job_id, place in self._execute(
                "SELECT msg_id, cmd_id, cmd, uri, status, job_id, place FROM session_commands "
                "WHERE session = ? ORDER BY rowid", (session,)))
        anomalies = tuple(r[0] for r in self._execute(
            "SELECT text FROM anomalies WHERE session = ? ORDER BY n", (session,)))
        return SessionRecord(row[0], row[1], row[2], Initiator(row[3]), row[4], row[5],
                             None if row[6] is None else Outcome(row[6]), row[7], commands,
                             anomalies)

    def sessions(self, device_id: str | None = None) -> list[SessionRecord]:
        rows = self._execute("SELECT id FROM sessions WHERE ? IS NULL OR device_id = ? "
                             "ORDER BY id", (device_id, device_id)).fetchall()
        return [self.session(r[0]) for r in rows]

    # ------------------------------------------------------------------ alerts

    def add_generic_alert(self, alert: GenericAlertRecord) -> None:
        self._write("INSERT INTO generic_alerts (device_id, session, received_at, code, "
                    "correlator, source, type, format, mark, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (alert.device_id, alert.session, alert.received_at, alert.code,
                     alert.correlator, alert.source, alert.type, alert.format, alert.mark,
                     alert.data))

    def generic_alerts(self, device_id: str | None = None) -> list[GenericAlertRecord]:
        return [GenericAlertRecord(*row) for row in self._execute(
            "SELECT device_id, session, received_at, code, correlator, source, type, format, "
            "mark, data FROM generic_alerts WHERE ? IS NULL OR device_id = ? ORDER BY n",
            (device_id, device_id))]

    # ------------------------------------------------------------------ package 0

    def add_notification(self, device_id: str, session_id: str, now: float) -> bool:
        """Remember a package 0's SessionID; False if one with that ID is still unused."""
        cursor = self._write("INSERT INTO notifications (device_id, session_id, sent_at) "
                             "VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET sent_at = excluded.sent_at,"
                             " used_at = NULL WHERE used_at IS NOT NULL",
                             (device_id, session_id, now))
        return cursor.rowcount == 1

    def take_notification(self, device_id: str, session_id: str, now: float) -> bool:
        """Mark the package 0 with this SessionID used; False if none is outstanding."""
        cursor = self._write("UPDATE notifications SET used_at = ? WHERE device_id = ? AND "
                             "session_id = ? AND used_at IS NULL", (now, device_id, session_id))
        return cursor.rowcount == 1
