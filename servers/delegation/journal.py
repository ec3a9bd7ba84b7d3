"""DMS-1's undo journal: every change a preparation makes to a handset, with what it replaced.

A delegation that fails before "delegation complete" must leave the handset as it was
(design, "Rollback"). The handset's own transaction (Atomic) covers a preparation that
fails half-way; the journal covers a preparation that succeeded and a later step that
failed. It holds plain values and round-trips through JSON, so that a server restarted
mid-delegation can still roll back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from servers.delegation.methods import Action


@dataclass(frozen=True, slots=True)
class AclChange:
    """The ACL of `path` went from `old` to `new` ("" is an ACL that inherits)."""

    path: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class LeafChange:
    """The value of leaf `path` went from `old` to `new`."""

    path: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class AccountAdded:
    """DMS-1 added the DM account ./DMAcc/`name` (DMS-2's, with its whole subtree)."""

    name: str


Change = AclChange | LeafChange | AccountAdded
_KINDS: dict[str, type[Change]] = {cls.__name__: cls
                                   for cls in (AclChange, LeafChange, AccountAdded)}


@dataclass(frozen=True, slots=True)
class Journal:
    """One preparation. `accounts_before` lists the accounts under ./DMAcc before it, so
    an undo can tell an account DMS-2's bootstrap installed (methods 3-4) from one that
    was there already."""

    action: Action
    dms1: str
    dms2: str
    accounts_before: tuple[str, ...]
    changes: tuple[Change, ...]

    def to_json(self) -> str:
        return json.dumps({
            "action": self.action.name, "dms1": self.dms1, "dms2": self.dms2,
            "accounts_before": list(self.accounts_before),
            "changes": [{"kind": type(c).__name__, **asdict(c)} for c in self.changes]})

    @classmethod
    def from_json(cls, text: str) -> "Journal":
        data = json.loads(text)
        changes = tuple(_KINDS[c.pop("kind")](**c) for c in data["changes"])
        return cls(Action[data["action"]], data["dms1"], data["dms2"],
                   tuple(data["accounts_before"]), changes)
