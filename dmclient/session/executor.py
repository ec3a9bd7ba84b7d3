"""Carrying out a server's commands on the handset's tree, as that server.

Each command becomes Status (one per Item, with TargetRef, as libdmclient answers) and,
for a Get, Results right after its Status. Atomic runs in a tree transaction; Sequence
in order; large objects are gathered chunk by chunk and applied whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from dmclient.session.events import CommandRecord
from dmclient.session.payload import as_text, as_value, result_item
from dmclient.session.ui import UiPolicy
from dmclient.tree import Tree, tnds
from dmclient.tree.result import Result
from dmclient.wire import (Add, Alert, AlertCode, Atomic, Command, Copy, Delete, Exec, Get,
                           Item, Meta, Replace, Results, Sequence, Status, StatusCode as S)

TNDS_TYPES = ("application/vnd.syncml.dmtnds+xml", "application/vnd.syncml.dmtnds+wbxml")


@dataclass(frozen=True, slots=True)
class ExecRequest:
    uri: str
    data: str
    correlator: str | None
    server_id: str


@dataclass(frozen=True, slots=True)
class GenericReport:
    """What a later Generic Alert 1226 says about an asynchronous Exec."""

    uri: str
    correlator: str | None
    data: str = "200"
    type: str = "Reversed-Domain-Name: org.dmlab.exec"
    format: str = "int"
    mark: str | None = None


@dataclass(frozen=True, slots=True)
class ExecResult:
    status: int = S.OK
    report: GenericReport | None = None  # for 202: the alert to send later


ExecHandler = Callable[[ExecRequest], ExecResult]


@dataclass
class _Partial:
    """A large object still arriving: the first chunk's command and Meta, data so far."""

    cmd: str
    target: str
    meta: Meta | None
    size: int | None
    chunks: list[str | bytes] = field(default_factory=list)

    def joined(self) -> str | bytes:
        if all(isinstance(c, bytes) for c in self.chunks):
            return b"".join(self.chunks)  # type: ignore[arg-type]
        return "".join(c.decode("utf-8", "replace") if isinstance(c, bytes) else c
                       for c in self.chunks)


def _length(data: str | bytes) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode())


class Executor:
    """Runs one server's commands for one session; keeps the large-object state."""

    def __init__(self, tree: Tree, server_id: str, *, ui: UiPolicy,
                 exec_handler: ExecHandler | None, max_obj_size: int) -> None:
        self.tree = tree
        self.server_id = server_id
        self.ui = ui
        self.exec_handler = exec_handler
        self.max_obj_size = max_obj_size
        self.records: list[CommandRecord] = []
        self.reports: list[GenericReport] = []
        self._partial: _Partial | None = None

    @property
    def awaiting_chunk(self) -> bool:
        return self._partial is not None

    def run(self, msg_id: str, commands: list[Command]) -> list[Command]:
        out: list[Command] = []
        for command in commands:
            out.extend(self._execute(msg_id, command))
        return out

    def refuse(self, msg_id: str, commands: list[Command], code: S) -> list[Command]:
        """Answer every command with `code`, executing nothing (the server failed auth)."""
        out: list[Command] = []
        for command in commands:
            if isinstance(command, (Status, Results)):
                continue
            out.append(self._status(msg_id, command, code, self._targets(command)))
            self._record(msg_id, command, code, "not executed: server not authenticated")
        return out

    # ------------------------------------------------------------------ dispatch

    def _execute(self, msg_id: str, command: Command) -> list[Command]:
        if isinstance(command, (Status, Results)):
            return []  # statuses for our own commands; the engine reads them
        if self._partial is not None and not self._continues_partial(command):
            # A new command while an object is unfinished: the object is dropped.
            partial, self._partial = self._partial, None
            self._record_text(msg_id, "Alert", partial.target, AlertCode.NO_END_OF_DATA,
                              "large object interrupted")
        if isinstance(command, Atomic):
            return self._atomic(msg_id, command)
        if isinstance(command, Sequence):
            return self._sequence(msg_id, command)
        if isinstance(command, Alert):
            return self._alert(msg_id, command)
        if isinstance(command, Exec):
            return self._exec(msg_id, command)
        out: list[Command] = []
        for item in command.items or [Item()]:
            out.extend(self._item(msg_id, command, item))
        return out

    def _item(self, msg_id: str, command: Command, item: Item) -> list[Command]:
        target = item.target.loc_uri if item.target else ""
        if isinstance(command, Get):
            result = self.tree.get(target, self.server_id)
            out: list[Command] = [self._status(msg_id, command, result.status, [target])]
            self._record(msg_id, command, result.status, result.detail, target)
            if result.ok:
                out.append(Results(cmd_id="", msg_ref=msg_id, cmd_ref=command.cmd_id,
                                   target_refs=[target],
                                   items=[result_item(i.uri, i.value, i.format, i.type)
                                          for i in result.items]))
            return out
        if isinstance(command, Copy):
            source = item.source.loc_uri if item.source else ""
            result = self.tree.copy(source, target, self.server_id)
            self._record(msg_id, command, result.status, result.detail, target)
            return [self._status(msg_id, command, result.status, [target], [source])]
        if isinstance(command, (Add, Replace)) and (item.more_data or self._partial):
            return self._chunk(msg_id, command, item, target)
        result = self._write(command, item, target, as_value(item.data))
        self._record(msg_id, command, result.status, result.detail, target)
        return [self._status(msg_id, command, result.status, [target])]

    def _write(self, command: Command, item: Item, target: str, value: object) -> Result:
        meta = item.meta or getattr(command, "meta", None) or Meta()
        if isinstance(command, Delete):
            return self.tree.delete(target, self.server_id)
        if isinstance(command, Add):
            if meta.type in TNDS_TYPES:
                try:
                    entries = tnds.parse(as_text(value).encode(),  # type: ignore[arg-type]
                                         base=self.tree.parse(target).path)
                except (tnds.TndsError, ValueError) as exc:
                    return Result(S.BAD_REQUEST, (), f"bad TNDS: {exc}")
                return self.tree.apply_tnds(entries, self.server_id)
            return self.tree.add(target, self.server_id, value=value,  # type: ignore[arg-type]
                                 format=meta.format, type=meta.type)
        return self.tree.replace(target, self.server_id, value=value,  # type: ignore[arg-type]
                                 format=meta.format, type=meta.type)

    # ------------------------------------------------------------------ large objects

    def _continues_partial(self, command: Command) -> bool:
        partial = self._partial
        if partial is None or not isinstance(command, (Add, Replace)) or len(command.items) != 1:
            return False
        item = command.items[0]
        return (type(command).__name__ == partial.cmd and item.target is not None
                and item.target.loc_uri == partial.target)

    def _chunk(self, msg_id: str, command: Command, item: Item, target: str) -> list[Command]:
        data = as_value(item.data) or ""
        if self._partial is None:
            meta = item.meta or command.meta  # type: ignore[union-attr]
            size = meta.size if meta else None
            if size is not None and size > self.max_obj_size:
                self._record(msg_id, command, S.REQUEST_ENTITY_TOO_LARGE,
                             f"object of {size} bytes is over MaxObjSize", target)
                return [self._status(msg_id, command, S.REQUEST_ENTITY_TOO_LARGE, [target])]
            self._partial = _Partial(type(command).__name__, target, meta, size)
        partial = self._partial
        partial.chunks.append(data)  # type: ignore[arg-type]
        received = sum(_length(c) for c in partial.chunks)
        if item.more_data:
            if received > self.max_obj_size:
                self._partial = None
                self._record(msg_id, command, S.REQUEST_ENTITY_TOO_LARGE,
                             "object grew over MaxObjSize", target)
                return [self._status(msg_id, command, S.REQUEST_ENTITY_TOO_LARGE, [target])]
            self._record(msg_id, command, S.CHUNK_ACCEPTED, f"{received} bytes so far", target)
            return [self._status(msg_id, command, S.CHUNK_ACCEPTED, [target])]
        self._partial = None
        whole = partial.joined()
        if partial.size is not None and received != partial.size:
            detail = f"got {received} bytes, Meta Size said {partial.size}"
            self._record(msg_id, command, S.SIZE_MISMATCH, detail, target)
            return [self._status(msg_id, command, S.SIZE_MISMATCH, [target])]
        first = Item(target=item.target, meta=partial.meta)
        result = self._write(command, first, target, whole)
        self._record(msg_id, command, result.status, result.detail, target)
        return [self._status(msg_id, command, result.status, [target])]

    # ------------------------------------------------------------------ containers

    def _atomic(self, msg_id: str, atomic: Atomic) -> list[Command]:
        if any(isinstance(c, (Atomic, Get)) for c in atomic.commands):
            self._record(msg_id, atomic, S.COMMAND_FAILED, "nested Atomic or Get in Atomic")
            return [self._status(msg_id, atomic, S.COMMAND_FAILED)] + [
                self._status(msg_id, c, S.NOT_EXECUTED, self._targets(c))
                for c in atomic.commands]
        txn = self.tree.transaction()
        children: list[Command] = []
        failed = False
        mark = len(self.records)
        for child in atomic.commands:
            if failed:
                children.append(self._status(msg_id, child, S.NOT_EXECUTED, self._targets(child)))
                self._record(msg_id, child, S.NOT_EXECUTED, "after a failure in Atomic")
                continue
            answers = self._execute(msg_id, child)
            children.extend(answers)
            failed = any(isinstance(a, Status) and not 200 <= a.code < 300 for a in answers)
        if not failed:
            txn.commit()
            self._record(msg_id, atomic, S.OK)
            return [self._status(msg_id, atomic, S.OK)] + children
        txn.rollback()
        for answer in children:
            if isinstance(answer, Status) and _undone(answer.code):
                answer.code = S.ATOMIC_ROLLBACK_OK
        for n in range(mark, len(self.records)):
            if _undone(self.records[n].status):
                self.records[n] = _with_status(self.records[n], S.ATOMIC_ROLLBACK_OK)
        self._record(msg_id, atomic, S.ATOMIC_FAILED, "rolled back")
        return [self._status(msg_id, atomic, S.ATOMIC_FAILED)] + [
            c for c in children if not isinstance(c, Results)]

    def _sequence(self, msg_id: str, sequence: Sequence) -> list[Command]:
        out: list[Command] = [self._status(msg_id, sequence, S.OK)]
        self._record(msg_id, sequence, S.OK)
        skipping = False
        for child in sequence.commands:
            if skipping:
                out.append(self._status(msg_id, child, S.NOT_EXECUTED, self._targets(child)))
                self._record(msg_id, child, S.NOT_EXECUTED, "the user said no")
                continue
            answers = self._execute(msg_id, child)
            out.extend(answers)
            skipping = any(isinstance(a, Status) and a.code == S.NOT_MODIFIED for a in answers)
        return out

    # ------------------------------------------------------------------ alerts and Exec

    def _alert(self, msg_id: str, alert: Alert) -> list[Command]:
        if AlertCode.DISPLAY <= alert.code <= AlertCode.MULTIPLE_CHOICE:
            code, items = self.ui.answer(alert)
            self._record(msg_id, alert, code, f"UI alert {alert.code}")
            return [self._status(msg_id, alert, code, items=items)]
        # Session alerts the engine handles (1222, 1223) and anything else get a plain 200.
        self._record(msg_id, alert, S.OK, f"alert {alert.code}")
        return [self._status(msg_id, alert, S.OK)]

    def _exec(self, msg_id: str, command: Exec) -> list[Command]:
        target = command.item.target.loc_uri if command.item.target else ""
        check = self.tree.check_exec(target, self.server_id)
        code, detail = check.status, check.detail
        if check.ok and self.exec_handler is not None:
            outcome = self.exec_handler(ExecRequest(target, as_text(command.item.data),
                                                    command.correlator, self.server_id))
            code = outcome.status
            if outcome.report is not None:
                self.reports.append(outcome.report)
        self._record(msg_id, command, code, detail, target)
        return [self._status(msg_id, command, code, [target])]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _targets(command: Command) -> list[str]:
        items = [command.item] if isinstance(command, Exec) else getattr(command, "items", [])
        return [i.target.loc_uri for i in items if i.target is not None]

    @staticmethod
    def _status(msg_id: str, command: Command, code: int, targets: list[str] | None = None,
                sources: list[str] | None = None, items: list[Item] | None = None) -> Status:
        return Status(cmd_id="", msg_ref=msg_id, cmd_ref=command.cmd_id,
                      cmd=type(command).__name__, code=int(code),
                      target_refs=[t for t in targets or [] if t],
                      source_refs=[s for s in sources or [] if s], items=items or [])

    def _record(self, msg_id: str, command: Command, code: int, detail: str = "",
                target: str = "") -> None:
        self._record_text(msg_id, type(command).__name__, target, code, detail,
                          command.cmd_id)

    def _record_text(self, msg_id: str, cmd: str, target: str, code: int, detail: str,
                     cmd_id: str = "") -> None:
        self.records.append(CommandRecord(msg_id, cmd_id, cmd, target, int(code), detail))


def _undone(code: int) -> bool:
    """A child that took effect before its Atomic failed: its change is now rolled back."""
    return 200 <= code < 300 and code != S.NOT_EXECUTED


def _with_status(record: CommandRecord, code: int) -> CommandRecord:
    return CommandRecord(record.msg_id, record.cmd_id, record.cmd, record.target, int(code),
                         record.detail)
