"""Job commands as SyncML commands, and fitting them into the client's MaxMsgSize.

The server's package is a queue of units (one top-level command each, an Atomic or
Sequence with its children). Messages are filled lazily, one per client request, so a
unit the client refused can go back to the front of the queue, and a large object
whose chunk failed can be dropped before its next chunk leaves.

Rules (digest §1): a command, a whole Atomic or Sequence included, goes in one message;
only the data of a lone Replace or Add is cut, as a large object: MoreData on every
chunk but the last, Meta Size (the total, in bytes as transmitted) in the first only,
and a chunk is always the last command of its message. Objects over the client's
MaxObjSize, and commands that fit in no message, are not sent at all.
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace

from dmclient import wire
from dmclient.wire import Body, Command, Encoding, Header, Item, Location, Message, Meta
from servers.dm import jobs

_MIN_CHUNK = 64
"""A chunk smaller than this is not worth a message: the object is not sent."""


@dataclass(eq=False)  # found in the queue by identity: two units may say the same thing
class Unit:
    """One job command waiting to go out. places[n] is the job place ("2.1") of the
    n-th command of flatten(command)."""

    command: Command
    places: list[str]
    size: int | None = None  # a large object under way: its Meta Size, and command holds the rest

    @property
    def is_chunk(self) -> bool:
        return self.size is not None


@dataclass(frozen=True)
class Sent:
    """What went out for a unit: `command` (for a large object, one chunk of it), the
    unit it came from (to queue again if the client refuses it unexecuted), and `rest`,
    the remainder of a large object left at the front of the queue (None after the
    last chunk, or for a whole command)."""

    unit: Unit
    command: Command
    rest: Unit | None = None

    @property
    def more_data(self) -> bool:
        return self.rest is not None


@dataclass(frozen=True)
class Packed:
    body: bytes
    final: bool
    sent: list[Sent]
    dropped: list[tuple[Unit, str]]  # could not be sent, and why


def flatten(command: Command) -> Iterator[Command]:
    """A command, then the commands inside it (Atomic, Sequence), depth first."""
    yield command
    if isinstance(command, (wire.Atomic, wire.Sequence)):
        for child in command.commands:
            yield from flatten(child)


def number(commands: list[Command]) -> None:
    """CmdIDs 1, 2, ... for one message, children of containers included."""
    n = 0
    for top in commands:
        for command in flatten(top):
            n += 1
            command.cmd_id = str(n)


# ---------------------------------------------------------------------- job -> wire


def _target(uri: str) -> Item:
    return Item(target=Location(loc_uri=uri))


def _payload(command: jobs.Replace | jobs.Add) -> Item:
    """Binary goes as b64 text with Meta Format b64 (the device stores it as bin)."""
    data, fmt = command.data, command.format
    if isinstance(data, bytes):
        data = base64.b64encode(data).decode("ascii")
        fmt = "b64"
    meta = Meta(format=fmt, type=command.type) if fmt or command.type else None
    return Item(target=Location(loc_uri=command.uri), meta=meta, data=data)


def to_wire(command: jobs.JobCommand) -> Command:
    """The SyncML command for a job command (CmdIDs are set when a message is packed)."""
    match command:
        case jobs.Get(uri=uri):
            return wire.Get(cmd_id="", items=[_target(uri)])
        case jobs.Replace():
            return wire.Replace(cmd_id="", items=[_payload(command)])
        case jobs.Add():
            return wire.Add(cmd_id="", items=[_payload(command)])
        case jobs.Delete(uri=uri):
            return wire.Delete(cmd_id="", items=[_target(uri)])
        case jobs.Copy(source=source, target=target):
            return wire.Copy(cmd_id="", items=[Item(target=Location(loc_uri=target),
                                                    source=Location(loc_uri=source))])
        case jobs.Exec(uri=uri, data=data, correlator=correlator):
            item = Item(target=Location(loc_uri=uri), data=data)
            return wire.Exec(cmd_id="", item=item, correlator=correlator)
        case jobs.Alert(code=code, text=text, options=options, choices=choices):
            items = [Item(data=options or ""), Item(data=text)] + [Item(data=c) for c in choices]
            return wire.Alert(cmd_id="", code=code, items=items)
        case jobs.Atomic(commands=children):
            return wire.Atomic(cmd_id="", commands=[to_wire(c) for c in children])
        case jobs.Sequence(commands=children):
            return wire.Sequence(cmd_id="", commands=[to_wire(c) for c in children])
    raise TypeError(f"not a job command: {command!r}")


def units(job: jobs.Job) -> list[Unit]:
    """The job's top-level commands as units, each knowing the places of its commands."""
    out = []
    places = iter(place for place, _ in jobs.walk(job.commands))
    for command in job.commands:
        converted = to_wire(command)
        out.append(Unit(converted, [next(places) for _ in flatten(converted)]))
    return out


# ---------------------------------------------------------------------- packing


def _payload_size(command: Command) -> int:
    """Bytes of the biggest item data a command carries (what MaxObjSize limits); job
    commands carry text (binary goes as b64)."""
    items = [command.item] if isinstance(command, wire.Exec) else getattr(command, "items", [])
    return max((len(i.data.encode()) for i in items if isinstance(i.data, str)), default=0)


def _chunkable(unit: Unit) -> bool:
    command = unit.command
    return (isinstance(command, (wire.Replace, wire.Add)) and len(command.items) == 1
            and isinstance(command.items[0].data, str))


class Packer:
    def __init__(self, encoding: Encoding, max_msg_size: int, max_obj_size: int | None) -> None:
        self.encoding = encoding
        self.max_msg_size = max_msg_size
        self.max_obj_size = max_obj_size

    def encode(self, header: Header, commands: list[Command], final: bool) -> bytes:
        number(commands)
        return wire.encode(Message(header=header, body=Body(commands=commands, final=final)),
                           self.encoding)

    def _fits(self, header: Header, commands: list[Command]) -> bool:
        return len(self.encode(header, commands, True)) <= self.max_msg_size

    def pack(self, header: Header, head: list[Command], queue: deque[Unit]) -> Packed:
        """One message: `head` (Statuses, session alerts) and as many queued units as fit,
        taken off the queue; final when the queue is empty afterwards."""
        sent: list[Sent] = []
        dropped: list[tuple[Unit, str]] = []
        taken: list[Command] = []
        if not any(u.is_chunk for u in queue) and not self._oversized(queue):
            body = self.encode(header, [*head, *(u.command for u in queue)], True)
            if len(body) <= self.max_msg_size:  # the common case: one encode, all of it
                sent = [Sent(u, u.command) for u in queue]
                queue.clear()
                return Packed(body, True, sent, dropped)
        while queue:
            unit = queue[0]
            if self.max_obj_size is not None and not unit.is_chunk \
                    and _payload_size(unit.command) > self.max_obj_size:
                queue.popleft()
                dropped.append((unit, f"object of {_payload_size(unit.command)} bytes is over "
                                      f"the device's MaxObjSize {self.max_obj_size}"))
                continue
            if not unit.is_chunk and self._fits(header, [*head, *taken, unit.command]):
                taken.append(queue.popleft().command)
                sent.append(Sent(unit, unit.command))
                continue
            if taken:
                break  # the next message has room for it
            queue.popleft()
            if unit.is_chunk or _chunkable(unit):
                chunk, rest = self._cut(header, head, unit)
                if chunk is not None:
                    taken.append(chunk)
                    sent.append(Sent(unit, chunk, rest))
                    if rest is None:
                        continue  # the object's last chunk: room may be left
                    queue.appendleft(rest)
                    break
            dropped.append((unit, f"too big for the device's MaxMsgSize {self.max_msg_size}"))
        final = not queue
        return Packed(self.encode(header, [*head, *taken], final), final, sent, dropped)

    def _oversized(self, queue: deque[Unit]) -> bool:
        return self.max_obj_size is not None and any(
            _payload_size(u.command) > self.max_obj_size for u in queue)

    def _cut(self, header: Header, head: list[Command],
             unit: Unit) -> tuple[Command | None, Unit | None]:
        """The next chunk of a large object, filling this message, and the unit for the
        rest (None after the last chunk); (None, None) if not even a small chunk fits."""
        command = unit.command
        item = command.items[0]  # type: ignore[union-attr]
        data: str = item.data  # type: ignore[assignment]
        first = not unit.is_chunk
        size = len(data.encode()) if first else unit.size
        meta = replace(item.meta or Meta(), size=size) if first else None

        def piece(text: str, more: bool) -> Command:
            return replace(command, items=[replace(item, data=text, meta=meta,  # type: ignore[type-var]
                                                   more_data=more)])

        if not first and self._fits(header, [*head, piece(data, False)]):
            return piece(data, False), None
        room = self.max_msg_size - len(self.encode(header, [*head, piece("", True)], True))
        n = min(room, len(data))
        while n >= _MIN_CHUNK:
            chunk = piece(data[:n], True)
            over = len(self.encode(header, [*head, chunk], True)) - self.max_msg_size
            if over <= 0:
                rest = replace(command, items=[replace(item, data=data[n:], meta=None)])  # type: ignore[type-var]
                return chunk, Unit(rest, unit.places, size)
            n -= over  # escaping and multi-byte characters cost more than a byte each
        return None, None
