"""OMA DM ACL values: the grammar, an exact round trip, and ServerID edits.

    acl   = "" | entry *("&" entry)
    entry = ("Add"|"Delete"|"Exec"|"Get"|"Replace") "=" ids
    ids   = "*" | id *("+" id)

Entries and ids keep their order so that `str(parse(s)) == s` for every valid `s`:
servers read back exactly the ACL they wrote. Inheritance lives in the tree; this module
only knows one node's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache


class AclCommand(str, Enum):
    ADD = "Add"
    DELETE = "Delete"
    EXEC = "Exec"
    GET = "Get"
    REPLACE = "Replace"


WILDCARD = "*"
ROOT_DEFAULT = "Add=*&Get=*"
_ID_FORBIDDEN = frozenset(" =&*+\t\r\n")


class AclError(ValueError):
    """An ACL string that does not follow the grammar."""


@dataclass(frozen=True, slots=True)
class Acl:
    entries: tuple[tuple[AclCommand, tuple[str, ...]], ...] = ()

    def __str__(self) -> str:
        return "&".join(f"{cmd.value}={'+'.join(ids)}" for cmd, ids in self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def ids_for(self, command: AclCommand) -> tuple[str, ...]:
        out: list[str] = []
        for cmd, ids in self.entries:
            if cmd is command:
                out.extend(ids)
        return tuple(out)

    def allows(self, command: AclCommand, server_id: str) -> bool:
        """`*` matches any (authenticated) server and overrides named ids."""
        for cmd, ids in self.entries:
            if cmd is command and (WILDCARD in ids or server_id in ids):
                return True
        return False

    def servers(self) -> frozenset[str]:
        return frozenset(i for _, ids in self.entries for i in ids if i != WILDCARD)

    def without_server(self, server_id: str, *, is_root: bool = False) -> "Acl":
        """Remove a ServerID; an emptied command is dropped, or becomes `*` on the root."""
        entries = []
        for cmd, ids in self.entries:
            kept = tuple(i for i in ids if i != server_id)
            if kept:
                entries.append((cmd, kept))
            elif is_root:
                entries.append((cmd, (WILDCARD,)))
        return Acl(tuple(entries))

    def with_server(self, commands: "tuple[AclCommand, ...] | list[AclCommand]",
                    server_id: str) -> "Acl":
        """Grant `server_id` each of `commands`, appending to existing entries in place."""
        entries = list(self.entries)
        for command in commands:
            for n, (cmd, ids) in enumerate(entries):
                if cmd is command:
                    if server_id not in ids and WILDCARD not in ids:
                        entries[n] = (cmd, ids + (server_id,))
                    break
            else:
                entries.append((command, (server_id,)))
        return Acl(tuple(entries))

    def commands_for(self, server_id: str) -> tuple[AclCommand, ...]:
        """The commands this value grants `server_id`, by name or by `*`."""
        return tuple(c for c in AclCommand if self.allows(c, server_id))


EMPTY = Acl()


def validate_server_id(server_id: str) -> None:
    if not server_id or any(c in _ID_FORBIDDEN or not c.isprintable() for c in server_id):
        raise AclError(f"invalid ServerID {server_id!r} for an ACL")


@lru_cache(maxsize=2048)
def parse(text: str) -> Acl:
    """Parse an ACL value; raises AclError with the offending part."""
    if text == "":
        return EMPTY
    entries = []
    for part in text.split("&"):
        name, eq, ids_text = part.partition("=")
        if not eq:
            raise AclError(f"ACL entry {part!r} has no '='")
        try:
            command = AclCommand(name)
        except ValueError:
            raise AclError(f"unknown ACL command {name!r}") from None
        if not ids_text:
            raise AclError(f"ACL entry {part!r} names no server")
        ids = tuple(ids_text.split("+"))
        for server_id in ids:
            if server_id == WILDCARD:
                continue
            try:
                validate_server_id(server_id)
            except AclError:
                raise AclError(f"invalid server id {server_id!r} in ACL entry {part!r}") from None
        if WILDCARD in ids and len(ids) > 1:
            raise AclError(f"'*' cannot be combined with named servers in {part!r}")
        entries.append((command, ids))
    return Acl(tuple(entries))
