"""One DM Tree node as an immutable record.

Records are never changed in place: a change makes a new record. That is what lets
thousands of handsets share one profile's records, and lets a transaction undo a change by
putting the old record back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dmclient.tree.formats import NODE, Value, size_of

DEFAULT_LEAF_TYPE = "text/plain"
#: Commands a DDF AccessType may list (OMA DM TND 1.2 §8); None on a node means all.
ACCESS_TYPES = ("Add", "Copy", "Delete", "Exec", "Get", "Replace")


@dataclass(frozen=True, slots=True)
class Node:
    format: str = "chr"
    value: Value = None
    type: str = ""
    acl: str = ""
    title: str | None = None
    tstamp: str | None = None
    verno: int = 0
    permanent: bool = False
    access: frozenset[str] | None = None
    children: tuple[str, ...] = ()

    @property
    def interior(self) -> bool:
        return self.format == NODE

    @property
    def size(self) -> int:
        return size_of(self.value)

    def allows(self, command: str) -> bool:
        """Whether the node's DDF AccessType permits `command` (405 otherwise)."""
        return self.access is None or command in self.access

    def evolve(self, **changes: object) -> "Node":
        return replace(self, **changes)
