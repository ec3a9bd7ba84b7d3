"""Tree operations as values, so a batch (an Atomic, a delegation step) is a plain list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dmclient.tree.formats import Value
from dmclient.tree.result import Result

if TYPE_CHECKING:
    from dmclient.tree.tree import Tree


class Operation(Protocol):
    def apply(self, tree: "Tree", server: str | None) -> Result: ...


@dataclass(frozen=True, slots=True)
class Add:
    uri: str
    value: Value = None
    format: str | None = None
    type: str | None = None

    def apply(self, tree: "Tree", server: str | None) -> Result:
        return tree.add(self.uri, server, value=self.value, format=self.format, type=self.type)


@dataclass(frozen=True, slots=True)
class Replace:
    uri: str
    value: Value = None
    format: str | None = None
    type: str | None = None

    def apply(self, tree: "Tree", server: str | None) -> Result:
        return tree.replace(self.uri, server, value=self.value, format=self.format,
                            type=self.type)


@dataclass(frozen=True, slots=True)
class Delete:
    uri: str

    def apply(self, tree: "Tree", server: str | None) -> Result:
        return tree.delete(self.uri, server)


@dataclass(frozen=True, slots=True)
class Get:
    uri: str

    def apply(self, tree: "Tree", server: str | None) -> Result:
        return tree.get(self.uri, server)


@dataclass(frozen=True, slots=True)
class Copy:
    source: str
    target: str

    def apply(self, tree: "Tree", server: str | None) -> Result:
        return tree.copy(self.source, self.target, server)
