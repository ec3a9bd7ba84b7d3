"""Delegations in SQLite, so that a server restarted mid-delegation knows what it was doing.

Each delegation is saved after every input it takes, with the journal of the changes
its preparation made to the handset. A server that comes back finds the delegations
still running and rolls each of them back (`recover`): the peer is told, the handset's
changes are undone, the state is purged. Resuming instead would need the in-flight
handset sessions too, which do not survive a restart; rolling back never leaves a
half-delegated handset.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from servers.delegation.engine import Delegation, Event, Status
from servers.delegation.messages import (BootstrapUrlRequest, BootstrapUrlResponse, Body,
                                         Confirm, DelInfo, DelType, Failure, Kind, Notif,
                                         Prepared, Reason, Res, Start)
from servers.delegation.methods import METHODS, Role

SCHEMA = """
CREATE TABLE IF NOT EXISTS delegations (
    id TEXT NOT NULL,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    journal TEXT NOT NULL DEFAULT 'null',
    PRIMARY KEY (id, role)
)
"""


class DelegationStore:
    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def save(self, delegation: Delegation, journal: Any = None) -> None:
        """Keep a running delegation (and its journal); forget a finished one."""
        if delegation.status is not Status.RUNNING:
            self.purge(delegation.delegation_id, delegation.role)
            return
        self._db.execute("INSERT OR REPLACE INTO delegations VALUES (?, ?, ?, ?)",
                         (delegation.delegation_id, delegation.role.value,
                          json.dumps(state_of(delegation)), json.dumps(journal)))

    def purge(self, delegation_id: str, role: Role) -> None:
        self._db.execute("DELETE FROM delegations WHERE id = ? AND role = ?",
                         (delegation_id, role.value))

    def running(self, **options: Any) -> list[tuple[Delegation, Any]]:
        """The delegations still running; `options` (a clock) as for delegation_from."""
        rows = self._db.execute("SELECT state, journal FROM delegations ORDER BY id, role")
        return [(delegation_from(json.loads(state), **options), json.loads(journal))
                for state, journal in rows]

    def recover(self, **options: Any) -> list[tuple[Delegation, Any, list[Event]]]:
        """Every delegation a restart interrupted, rolled back: the events to carry out
        (tell the peer, undo with the journal) for each, and the state purged."""
        out = []
        for delegation, journal in self.running(**options):
            events = delegation.abort(Reason.INTERNAL, "the server restarted mid-delegation")
            self.purge(delegation.delegation_id, delegation.role)
            out.append((delegation, journal, events))
        return out


# ------------------------------------------------------------------ (de)serialising

_BODIES: dict[str, type] = {
    Kind.NOTIF.value: Notif, Kind.RES.value: Res, Kind.START.value: Start,
    Kind.BOOTSTRAP_URL_REQUEST.value: BootstrapUrlRequest,
    Kind.BOOTSTRAP_URL_RESPONSE.value: BootstrapUrlResponse, Kind.PREPARED.value: Prepared,
    Kind.FAILURE.value: Failure, Kind.CONFIRM.value: Confirm,
}


def _body_state(body: Body) -> dict[str, Any]:
    data = asdict(body)
    if isinstance(body, Notif):
        data["type"] = body.type.value
        data["info"]["paths"] = list(body.info.paths)
    return data


def _body_from(kind: str, data: dict[str, Any]) -> Body:
    if kind == Kind.NOTIF.value:
        return _notif_from(data)
    return _BODIES[kind](**data)


def _notif_from(data: dict[str, Any]) -> Notif:
    info = dict(data["info"], paths=tuple(data["info"]["paths"]))
    return Notif(data["server_id"], DelInfo(**info), DelType(data["type"]), data["method"])


def state_of(d: Delegation) -> dict[str, Any]:
    return {"delegation_id": d.delegation_id, "role": d.role.value, "me": d.me,
            "peer": d.peer, "method": d.method.number,
            "notif": _body_state(d.notif) if d.notif else None, "dmacc": d.dmacc,
            "bootstrap_url": d.bootstrap_url, "step_timeout": d.step_timeout,
            "session_id": d.session_id, "status": d.status.value, "position": d.position,
            "sent": d.sent, "seen": d.seen, "deadline": d.deadline,
            "received": {k: _body_state(b) for k, b in d.received.items()}}


def delegation_from(state: dict[str, Any], **options: Any) -> Delegation:
    """A delegation as saved; callables (clock, accept) come from `options`."""
    return Delegation(
        state["delegation_id"], Role(state["role"]), state["me"], state["peer"],
        METHODS[state["method"]], _notif_from(state["notif"]) if state["notif"] else None,
        dmacc=state["dmacc"], bootstrap_url=state["bootstrap_url"],
        step_timeout=state["step_timeout"], session_id=state["session_id"],
        status=Status(state["status"]), position=state["position"], sent=state["sent"],
        seen=state["seen"], deadline=state["deadline"],
        received={k: _body_from(k, v) for k, v in state["received"].items()}, **options)
