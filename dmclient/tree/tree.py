"""A handset's DM Tree: a shared profile plus this handset's differences.

Reads look in the handset's overlay first, then in the profile; a deleted profile node is
a tombstone (None) in the overlay. Every change goes through `_set`, which records the
previous overlay entry in the open transaction's undo log, so rollback is exact and commit
hands the store precisely the paths that changed.

Operations never raise on bad input from a peer: they answer an OMA DM status code.
`server=None` acts with device authority (the handset itself, a local admin, a verified
bootstrap): no ACL is consulted, and no DDF AccessType either, which says what servers
may do (the handset writes its own DevId, nonces and bootstrap State).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Protocol

from dmclient.tree import acl as aclmod
from dmclient.tree import tnds
from dmclient.tree.acl import AclCommand, AclError
from dmclient.tree.formats import NODE, FormatError, Value, normalize, xml_unsafe
from dmclient.tree.node import DEFAULT_LEAF_TYPE, Node
from dmclient.tree.result import OK, AclDecision, Item, Result, fail
from dmclient.tree.uri import (ROOT, Uri, UriError, UriLimits, child_path, name_of,
                               parent_path, parse, to_uri, validate_name)
from dmclient.wire.status import StatusCode as S

if TYPE_CHECKING:
    from dmclient.tree.ops import Operation

#: Overlay entry meaning "no entry: the profile's node shows through".
ABSENT = object()
TITLE_MAX = 255
TNDS_TYPE = "application/vnd.syncml.dmtnds+xml"
_URI_LIMIT_NODES = "./DevDetail/URI"

Changes = Mapping[str, "Node | None | object"]
Sink = Callable[[Changes], None]


class Refused(Exception):
    """Inside the tree: a command answered with a failure status. Never leaves the class."""

    def __init__(self, status: S, detail: str) -> None:
        super().__init__(detail)
        self.result = fail(status, detail)


class CommitError(RuntimeError):
    """The store could not persist a committed batch; the batch was rolled back."""


def stamp(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


class Tree:
    __slots__ = ("profile", "_overlay", "_sink", "_undo", "_depth", "_limits", "clock")

    def __init__(self, profile: "ProfileLike", *, overlay: dict | None = None,
                 sink: Sink | None = None, clock: Callable[[], float] = time.time) -> None:
        self.profile = profile
        self._overlay: dict[str, Node | None] = overlay if overlay is not None else {}
        self._sink = sink
        self._undo: list[tuple[str, object]] | None = None
        self._depth = 0
        self._limits: UriLimits | None = None
        self.clock = clock

    # ------------------------------------------------------------------ reading

    def node(self, path: str) -> Node | None:
        """The node at a canonical path, or None."""
        entry = self._overlay.get(path, ABSENT)
        if entry is ABSENT:
            return self.profile.nodes.get(path)
        return entry  # type: ignore[return-value]

    def walk(self, path: str = ROOT) -> Iterator[tuple[str, Node]]:
        """The subtree at `path`, parents before children, in child order."""
        node = self.node(path)
        if node is None:
            return
        overlay, profile = self._overlay, self.profile.nodes
        stack = [(path, node)]
        while stack:
            p, n = stack.pop()
            yield p, n
            if not n.children:
                continue
            # child_path() and node(), inlined: every session's account lookup walks the tree.
            prefix = "./" if p == ROOT else p + "/"
            for name in reversed(n.children):
                cp = prefix + name
                child = overlay.get(cp, ABSENT)
                if child is ABSENT:
                    child = profile.get(cp)
                if child is not None:
                    stack.append((cp, child))

    @property
    def changed_paths(self) -> tuple[str, ...]:
        """Paths where this handset differs from its profile, sorted."""
        return tuple(sorted(self._overlay))

    def uri_limits(self) -> UriLimits:
        if self._limits is None:
            def read(name: str) -> int:
                leaf = self.node(f"{_URI_LIMIT_NODES}/{name}")
                try:
                    return max(0, int(leaf.value)) if leaf and leaf.value else 0  # type: ignore[arg-type]
                except ValueError:
                    return 0
            self._limits = UriLimits(read("MaxDepth"), read("MaxTotLen"), read("MaxSegLen"))
        return self._limits

    def parse(self, text: str) -> Uri:
        """Parse a URI against this handset's advertised limits (raises UriError)."""
        return parse(text, self.uri_limits())

    def export(self, path: str = ROOT, *, canonical: bool = False) -> bytes:
        """The subtree at `path` as a TNDS document (canonical: no TStamp, VerNo or
        runtime values such as nonces: the form the digest is taken of)."""
        return tnds.export(self.walk(path), path, tnds.CANONICAL if canonical else tnds.FULL)

    def digest(self) -> str:
        """SHA-256 of the canonical export of the whole tree."""
        return tnds.digest(self.walk())

    # ------------------------------------------------------------------ ACLs

    def effective_acl(self, path: str) -> tuple[aclmod.Acl, str]:
        """The nearest non-empty ACL at or above `path`, and the node it came from."""
        p: str | None = path
        while p is not None:
            n = self.node(p)
            if n is not None and n.acl:
                return aclmod.parse(n.acl), p
            p = parent_path(p)
        return aclmod.parse(aclmod.ROOT_DEFAULT), ROOT

    def _allowed(self, server: str | None, command: AclCommand, path: str) -> AclDecision:
        if server is None:
            return AclDecision(True, None)
        acl, decider = self.effective_acl(path)
        return AclDecision(acl.allows(command, server), decider)

    def _may_change_acl(self, server: str | None, path: str) -> AclDecision:
        """Replace in the parent's effective ACL, or, on an interior node, in its own.

        A leaf's own Replace covers its value and other properties but not its ACL
        (OMA DM TND 1.2 §7.7.1.2).
        """
        parent = parent_path(path)
        by_parent = None
        if parent is not None:
            by_parent = self._allowed(server, AclCommand.REPLACE, parent)
            if by_parent.allowed:
                return by_parent
        node = self.node(path)
        if node is not None and node.interior:
            own = self._allowed(server, AclCommand.REPLACE, path)
            if own.allowed or by_parent is None:
                return own
        assert by_parent is not None
        return by_parent

    def _nearest_existing(self, path: str) -> str:
        p: str | None = path
        while p is not None and self.node(p) is None:
            p = parent_path(p)
        return p if p is not None else ROOT

    def can(self, server: str, command: str, uri: str) -> AclDecision:
        """The ACL question alone: may `server` run `command` on `uri`?

        Add is decided on the nearest existing ancestor (where the node would go);
        Replace of `?prop=ACL` follows the rule for changing an ACL. Raises UriError or
        ValueError (unknown command) on bad input.
        """
        cmd = AclCommand(command)
        parsed = self.parse(uri)
        path = parsed.path
        if cmd is AclCommand.ADD:
            target = parent_path(path) if self.node(path) is not None else path
            return self._allowed(server, cmd, self._nearest_existing(target or ROOT))
        existing = self._nearest_existing(path)
        if parsed.prop == "ACL" and cmd is AclCommand.REPLACE and existing == path:
            return self._may_change_acl(server, path)
        return self._allowed(server, cmd, existing)

    # ------------------------------------------------------------------ transactions

    def transaction(self) -> "Transaction":
        """A batch that commits or rolls back as a whole; transactions nest."""
        return Transaction(self)

    def _begin(self) -> int:
        if self._depth == 0:
            self._undo = []
        self._depth += 1
        return len(self._undo)  # type: ignore[arg-type]

    def _rollback_to(self, mark: int) -> None:
        undo = self._undo
        assert undo is not None
        while len(undo) > mark:
            path, previous = undo.pop()
            if previous is ABSENT:
                self._overlay.pop(path, None)
            else:
                self._overlay[path] = previous  # type: ignore[assignment]
            if path.startswith(_URI_LIMIT_NODES):
                self._limits = None
        self._end()

    def _commit(self) -> None:
        if self._depth == 1 and self._undo and self._sink is not None:
            changes = {p: self._overlay.get(p, ABSENT) for p, _ in self._undo}
            try:
                self._sink(changes)
            except Exception as exc:
                self._rollback_to(0)
                raise CommitError(f"store write failed: {exc}") from exc
        self._end()

    def _end(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._undo = None

    def _set(self, path: str, entry: object) -> None:
        if self._undo is None:
            raise RuntimeError("tree changes must happen inside a transaction")
        self._undo.append((path, self._overlay.get(path, ABSENT)))
        if entry is ABSENT:
            self._overlay.pop(path, None)
        else:
            self._overlay[path] = entry  # type: ignore[assignment]
        if path.startswith(_URI_LIMIT_NODES):
            self._limits = None

    def _erase(self, path: str) -> None:
        self._set(path, None if path in self.profile.nodes else ABSENT)

    def _touch(self, node: Node, **changes: object) -> Node:
        """A changed record: TStamp now, VerNo + 1 (uint16, wraps)."""
        stamped = {"tstamp": stamp(self.clock()), "verno": (node.verno + 1) & 0xFFFF}
        return node.evolve(**(stamped | changes))

    def _atomic(self, operation: Callable[[], Result]) -> Result:
        """Run one operation as its own transaction: all of it, or none of it."""
        txn = self.transaction()
        try:
            result = operation()
        except Refused as refusal:
            txn.rollback()
            return refusal.result
        except BaseException:
            txn.rollback()
            raise
        try:
            txn.commit()
        except CommitError as exc:
            return fail(S.DATA_STORE_FAILURE, str(exc))
        return result

    # ------------------------------------------------------------------ checks

    def _uri(self, text: str, *, node_only: str = "") -> Uri:
        """Parse a command's target; `node_only` names a command that cannot take a suffix."""
        try:
            parsed = self.parse(text)
        except UriError as exc:
            raise Refused(exc.status, str(exc)) from None
        if node_only and (parsed.prop is not None or parsed.list_form is not None):
            raise Refused(S.COMMAND_NOT_ALLOWED,
                          f"{node_only} cannot target a property or a ?list")
        return parsed

    def _existing(self, path: str) -> Node:
        node = self.node(path)
        if node is None:
            raise Refused(S.NOT_FOUND, f"{path} does not exist")
        return node

    def _require(self, server: str | None, command: AclCommand, path: str) -> None:
        decision = self._allowed(server, command, path)
        if not decision.allowed:
            raise Refused(S.PERMISSION_DENIED, f"{server} has no {command.value} on {path} "
                          f"(ACL of {decision.decided_by})")

    @staticmethod
    def _normalize(value: Value, fmt: str) -> tuple[Value, str]:
        try:
            return normalize(value, fmt)
        except FormatError as exc:
            raise Refused(exc.status, str(exc)) from None

    # ------------------------------------------------------------------ commands

    def get(self, uri: str, server: str | None = None) -> Result:
        try:
            return self._get(uri, server)
        except Refused as refusal:
            return refusal.result

    def _get(self, uri: str, server: str | None) -> Result:
        parsed = self._uri(uri)
        path = parsed.path
        node = self._existing(path)
        self._require(server, AclCommand.GET, path)
        if parsed.prop is not None:
            return self._get_prop(parsed, node)
        if parsed.list_form is not None:
            return self._get_list(parsed, server)
        if server is not None and not node.allows("Get"):
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} does not allow Get")
        if node.interior:
            return Result(S.OK, (Item(str(parsed), "/".join(node.children), NODE, node.type),))
        return Result(S.OK, (Item(str(parsed), node.value, node.format,
                                  node.type or DEFAULT_LEAF_TYPE),))

    def _get_prop(self, parsed: Uri, node: Node) -> Result:
        prop = parsed.prop
        if prop == "Size" and node.interior:
            raise Refused(S.OPTIONAL_FEATURE_NOT_SUPPORTED, "interior nodes have no Size")
        values = {
            "ACL": node.acl,
            "Format": node.format,
            "Name": name_of(parsed.path),
            "Type": node.type or ("" if node.interior else DEFAULT_LEAF_TYPE),
            "Size": str(node.size),
            "Title": node.title or "",
            "TStamp": node.tstamp or "",
            "VerNo": str(node.verno),
        }
        if prop not in values:
            raise Refused(S.OPTIONAL_FEATURE_NOT_SUPPORTED, f"unknown property {prop!r}")
        return Result(S.OK, (Item(str(parsed), values[prop]),))

    def _get_list(self, parsed: Uri, server: str | None) -> Result:
        visible = [(p, n if server is None or n.allows("Get") else n.evolve(value=None))
                   for p, n in self.walk(parsed.path)
                   if self._allowed(server, AclCommand.GET, p).allowed]
        if parsed.list_form == "TNDS":
            props = tnds.list_properties(parsed.list_props)
            doc = tnds.export(visible, parsed.path, props=props)
            return Result(S.OK, (Item(str(parsed), doc.decode(), "xml", TNDS_TYPE),))
        with_data = parsed.list_form == "StructData"
        items = []
        for p, n in visible:
            value = n.value if with_data and not n.interior else None
            items.append(Item(to_uri(p), value, n.format,
                              n.type or ("" if n.interior else DEFAULT_LEAF_TYPE)))
        return Result(S.OK, tuple(items))

    def add(self, uri: str, server: str | None = None, *, value: Value = None,
            format: str | None = None, type: str | None = None) -> Result:
        """Add a node; missing interior parents are created (with inheriting ACLs)."""
        return self._atomic(lambda: self._add(uri, server, value, format, type))

    def _add(self, uri: str, server: str | None, value: Value, fmt: str | None,
             mime: str | None, acl: str = "", title: str | None = None) -> Result:
        path = self._uri(uri, node_only="Add").path
        if self.node(path) is not None:
            raise Refused(S.ALREADY_EXISTS, f"{path} already exists")
        anchor = self._nearest_existing(parent_path(path) or ROOT)
        if not self._existing(anchor).interior:
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{anchor} is a leaf and cannot have children")
        self._require(server, AclCommand.ADD, anchor)
        stored, stored_fmt = self._normalize(value, fmt or "chr")
        if acl:
            self._check_acl_value(acl)
        self._check_title(title)
        self._check_text("Type", mime)
        # Create the missing interior parents, then the node, top down.
        missing = []
        p = parent_path(path)
        while p is not None and p != anchor:
            missing.append(p)
            p = parent_path(p)
        for parent in reversed(missing):
            self._create(parent, Node(format=NODE), server)
        self._create(path, Node(format=stored_fmt, value=stored, type=mime or "", acl=acl,
                                title=title), server)
        return OK

    def _create(self, path: str, node: Node, server: str | None) -> None:
        """Write a new node under an existing interior parent.

        A server that adds an interior node without Replace on the parent is granted
        Add, Delete and Replace on it (OMA DM TND 1.2 §7.7.1.1), so it can go on to
        manage what it created and set the ACL it wants.
        """
        parent = parent_path(path)
        assert parent is not None
        if (server is not None and node.interior and not node.acl
                and not self._allowed(server, AclCommand.REPLACE, parent).allowed):
            grant = aclmod.EMPTY.with_server(
                (AclCommand.ADD, AclCommand.DELETE, AclCommand.REPLACE), server)
            node = node.evolve(acl=str(grant))
        self._set(path, self._touch(node, verno=0))
        parent_node = self._existing(parent)
        self._set(parent, self._touch(parent_node,
                                      children=parent_node.children + (name_of(path),)))

    def replace(self, uri: str, server: str | None = None, *, value: Value = None,
                format: str | None = None, type: str | None = None) -> Result:
        """Replace a leaf's value (with its Format/Type from Meta) or a property."""
        return self._atomic(lambda: self._replace(uri, server, value, format, type))

    def _replace(self, uri: str, server: str | None, value: Value, fmt: str | None,
                 mime: str | None) -> Result:
        parsed = self._uri(uri)
        path = parsed.path
        node = self._existing(path)
        if parsed.list_form is not None:
            raise Refused(S.COMMAND_NOT_ALLOWED, "Replace cannot target a ?list")
        if parsed.prop is not None:
            return self._replace_prop(parsed, node, server, value)
        self._require(server, AclCommand.REPLACE, path)
        if node.interior:
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} is an interior node")
        if server is not None and not node.allows("Replace"):
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} does not allow Replace")
        stored, stored_fmt = self._normalize(value, fmt or node.format)
        self._check_text("Type", mime)
        if stored_fmt == NODE:
            raise Refused(S.COMMAND_NOT_ALLOWED, "Replace cannot turn a leaf into a node")
        self._set(path, self._touch(node, value=stored, format=stored_fmt,
                                    type=mime if mime is not None else node.type))
        return OK

    def _replace_prop(self, parsed: Uri, node: Node, server: str | None,
                      value: Value) -> Result:
        path, prop = parsed.path, parsed.prop
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")
        if prop == "ACL":
            decision = self._may_change_acl(server, path)
            if not decision.allowed:
                raise Refused(S.PERMISSION_DENIED, f"{server} may not change the ACL of "
                              f"{path} (ACL of {decision.decided_by})")
            self._check_new_acl(path, text)
            self._set(path, self._touch(node, acl=text))
            return OK
        if prop == "Title":
            self._require(server, AclCommand.REPLACE, path)
            self._check_title(text)
            self._set(path, self._touch(node, title=text))
            return OK
        if prop == "Name":
            self._require(server, AclCommand.REPLACE, path)
            return self._rename(path, node, text)
        if prop in ("Format", "Type", "Size", "TStamp", "VerNo"):
            raise Refused(S.COMMAND_NOT_ALLOWED, f"property {prop} cannot be replaced")
        raise Refused(S.OPTIONAL_FEATURE_NOT_SUPPORTED, f"unknown property {prop!r}")

    @staticmethod
    def _check_acl_value(text: str) -> aclmod.Acl:
        try:
            return aclmod.parse(text)
        except AclError as exc:
            raise Refused(S.BAD_REQUEST, str(exc)) from None

    @staticmethod
    def _check_title(title: str | None) -> None:
        if title is None:
            return
        Tree._check_text("Title", title)
        if len(title.encode()) > TITLE_MAX:
            raise Refused(S.REQUEST_ENTITY_TOO_LARGE, f"Title is over {TITLE_MAX} bytes")

    @staticmethod
    def _check_text(what: str, text: str | None) -> None:
        """Property text must survive a TNDS export: XML-safe characters only."""
        bad = xml_unsafe(text) if text else None
        if bad is not None:
            raise Refused(S.BAD_REQUEST, f"{what} holds {bad!r}, which XML cannot carry")

    def _check_new_acl(self, path: str, text: str) -> None:
        acl = self._check_acl_value(text)
        if path == ROOT and "*" not in acl.ids_for(AclCommand.ADD):
            raise Refused(S.COMMAND_NOT_ALLOWED, "the root ACL must keep Add=*")

    def _rename(self, path: str, node: Node, new_name: str) -> Result:
        if path == ROOT or node.permanent:
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} is permanent and cannot be renamed")
        try:
            validate_name(new_name)
        except UriError as exc:
            raise Refused(S.BAD_REQUEST, str(exc)) from None
        parent = parent_path(path)
        assert parent is not None
        old_name = name_of(path)
        if new_name == old_name:
            return OK
        new_path = child_path(parent, new_name)
        if self.node(new_path) is not None:
            raise Refused(S.ALREADY_EXISTS, f"{parent} already has a child {new_name!r}")
        subtree = list(self.walk(path))
        if any(n.permanent for _, n in subtree):
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} holds permanent nodes")
        for p, n in subtree:
            self._set(new_path + p[len(path):], self._touch(n) if p == path else n)
            self._erase(p)
        parent_node = self._existing(parent)
        children = tuple(new_name if c == old_name else c for c in parent_node.children)
        self._set(parent, self._touch(parent_node, children=children))
        return OK

    def delete(self, uri: str, server: str | None = None) -> Result:
        """Delete a node and its whole subtree; permanent nodes give 405."""
        return self._atomic(lambda: self._delete(uri, server))

    def _delete(self, uri: str, server: str | None) -> Result:
        path = self._uri(uri, node_only="Delete").path
        node = self._existing(path)
        self._require(server, AclCommand.DELETE, path)
        if path == ROOT:
            raise Refused(S.COMMAND_NOT_ALLOWED, "the root cannot be deleted")
        subtree = list(self.walk(path))
        if any(n.permanent for _, n in subtree):
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} is or holds a permanent node")
        if server is not None and not node.allows("Delete"):
            raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} does not allow Delete")
        for p, _ in subtree:
            self._erase(p)
        parent = parent_path(path)
        assert parent is not None
        parent_node = self._existing(parent)
        name = name_of(path)
        self._set(parent, self._touch(
            parent_node, children=tuple(c for c in parent_node.children if c != name)))
        return OK

    def check_exec(self, uri: str, server: str | None = None) -> Result:
        """May `server` Exec the node at `uri`? What Exec does is the handset's business."""
        try:
            path = self._uri(uri, node_only="Exec").path
            node = self._existing(path)
            self._require(server, AclCommand.EXEC, path)
            if server is not None and not node.allows("Exec"):
                raise Refused(S.COMMAND_NOT_ALLOWED, f"{path} does not allow Exec")
        except Refused as refusal:
            return refusal.result
        return OK

    def copy(self, source: str, target: str, server: str | None = None) -> Result:
        """Copy a leaf onto a new or existing leaf (Get on the source, Add or Replace)."""
        return self._atomic(lambda: self._copy(source, target, server))

    def _copy(self, source: str, target: str, server: str | None) -> Result:
        item = self._get(source, server).items[0]
        existing = self.node(self._uri(target).path)
        if item.format == NODE or (existing is not None and existing.interior):
            raise Refused(S.FORBIDDEN, "Copy works on leaves only")
        if existing is None:
            return self._add(target, server, item.value, item.format, item.type)
        return self._replace(target, server, item.value, item.format, item.type)

    # ------------------------------------------------------------------ batches

    def run(self, operations: "list[Operation]", server: str | None = None) -> list[Result]:
        """Run operations as one batch: if any fails, none of them takes effect.

        The failing operation keeps its own status; the ones before it are reported as
        rolled back (216) and the ones after as not executed (215), as in an Atomic.
        """
        results: list[Result] = []
        txn = self.transaction()
        try:
            for op in operations:
                result = op.apply(self, server)
                results.append(result)
                if not result.ok:
                    break
        except BaseException:
            txn.rollback()
            raise
        if len(results) == len(operations) and all(r.ok for r in results):
            try:
                txn.commit()
                return results
            except CommitError as exc:
                return [fail(S.DATA_STORE_FAILURE, str(exc)) for _ in operations]
        txn.rollback()
        rolled = [Result(S.ATOMIC_ROLLBACK_OK, (), r.detail) for r in results[:-1]]
        skipped = [Result(S.NOT_EXECUTED) for _ in operations[len(results):]]
        return rolled + [results[-1]] + skipped

    def apply_tnds(self, entries: "list[tnds.TndsEntry]", server: str | None = None, *,
                   merge: bool = False) -> Result:
        """Add the nodes of a TNDS document as one command: all of them, or none.

        Existing interior nodes are containers and are passed through. With `merge`
        (device authority only), existing leaves take the document's value and existing
        nodes its ACL, Title and Type; otherwise an existing leaf is a 418. Scope,
        AccessType, TStamp and VerNo belong to the device and are not taken from a
        document applied at run time.
        """
        if merge and server is not None:
            raise ValueError("merge is a device-authority operation")

        def run() -> Result:
            created: set[str] = set()
            for entry in entries:
                new, uri = entry.node, to_uri(entry.path)
                existing = self.node(entry.path)
                if existing is None:
                    # One Add: the ACL is checked where each new subtree is attached;
                    # inside it, the document's own ACLs apply once it is in place.
                    actor = None if parent_path(entry.path) in created else server
                    self._add(uri, actor, new.value, new.format, new.type or None,
                              acl=new.acl, title=new.title)
                    created.add(entry.path)
                elif existing.interior != new.interior:
                    raise Refused(S.ALREADY_EXISTS, f"{entry.path} exists as another kind")
                elif merge:
                    self._merge(entry.path, existing, entry)
                elif not existing.interior:
                    raise Refused(S.ALREADY_EXISTS, f"{entry.path} already exists")
            return OK
        return self._atomic(run)

    def _merge(self, path: str, existing: Node, entry: tnds.TndsEntry) -> None:
        changes: dict[str, object] = {}
        new = entry.node
        if "ACL" in entry.given:
            self._check_new_acl(path, new.acl)
            changes["acl"] = new.acl
        if "Title" in entry.given:
            self._check_title(new.title)
            changes["title"] = new.title
        if "Type" in entry.given:
            self._check_text("Type", new.type)
            changes["type"] = new.type
        if not existing.interior and ("Value" in entry.given or "Format" in entry.given):
            changes["value"], changes["format"] = new.value, new.format
        if changes:
            self._set(path, self._touch(existing, **changes))

    # ------------------------------------------------------------------ ACL admin

    def remove_server(self, server_id: str) -> Result:
        """Remove a ServerID from every ACL (the DM 1.2 rule for a deleted account)."""
        def run() -> Result:
            for path, node in list(self.walk()):
                acl = aclmod.parse(node.acl)
                if server_id not in acl.servers():
                    continue
                new = acl.without_server(server_id, is_root=path == ROOT)
                self._set(path, self._touch(node, acl=str(new)))
            return OK
        return self._atomic(run)

    def grant(self, path: str, commands: tuple[AclCommand, ...], server_id: str) -> Result:
        """Add `server_id` to `commands` in the ACL of `path` (device authority)."""
        def run() -> Result:
            node = self._existing(path)
            new = aclmod.parse(node.acl).with_server(commands, server_id)
            self._set(path, self._touch(node, acl=str(new)))
            return OK
        return self._atomic(run)


class Transaction:
    """A savepoint on a tree. The outermost commit persists every change in one go."""

    __slots__ = ("_tree", "_mark", "_open")

    def __init__(self, tree: Tree) -> None:
        self._tree = tree
        self._mark = tree._begin()
        self._open = True

    def commit(self) -> None:
        self._close()
        self._tree._commit()

    def rollback(self) -> None:
        self._close()
        self._tree._rollback_to(self._mark)

    def _close(self) -> None:
        if not self._open:
            raise RuntimeError("transaction already finished")
        self._open = False

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._open:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()


class ProfileLike(Protocol):
    """What a Tree needs from its profile: shared, read-only node records by path."""

    nodes: Mapping[str, Node]
