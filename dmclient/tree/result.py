"""What a tree operation answers: a status code, the items a Get returns, and why."""

from __future__ import annotations

from dataclasses import dataclass

from dmclient.tree.formats import Value
from dmclient.wire.status import StatusCode


@dataclass(frozen=True, slots=True)
class Item:
    """One returned value, addressed as a server would see it in Results."""

    uri: str
    value: Value
    format: str = "chr"
    type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class Result:
    status: StatusCode
    items: tuple[Item, ...] = ()
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status.is_success

    @property
    def value(self) -> Value:
        """The single returned value (a Get of a leaf, a child list or a property)."""
        return self.items[0].value if self.items else None


@dataclass(frozen=True, slots=True)
class AclDecision:
    """May a server run a command on a node, and whose ACL said so (None: no ACL asked)."""

    allowed: bool
    decided_by: str | None


def fail(status: StatusCode, detail: str) -> Result:
    return Result(status, (), detail)


OK = Result(StatusCode.OK)
