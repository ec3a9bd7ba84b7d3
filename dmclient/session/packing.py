"""Fitting a package into the peer's MaxMsgSize: messages, CmdIDs, and chunked Results.

A command, a whole Atomic or Sequence included, is never split across messages; only the
data of a single Results item is, as a large object (MoreData, Meta Size in the first
chunk).
"""

from __future__ import annotations

from dataclasses import replace

from dmclient.wire import Body, Command, Encoding, Header, Item, Message, Meta, Results, encode

#: Room left in each chunk for MoreData, Meta Size and escaping.
_CHUNK_SLACK = 96
_MIN_CHUNK = 64


class Packer:
    def __init__(self, encoding: Encoding, limit: int | None = None) -> None:
        self.encoding = encoding
        self.limit = limit

    def encode(self, header: Header, commands: list[Command], final: bool) -> bytes:
        """The message's bytes; CmdIDs are numbered 1, 2, ... afresh in each message."""
        for number, command in enumerate(commands, 1):
            command.cmd_id = str(number)
        return encode(Message(header=header, body=Body(commands=commands, final=final)),
                      self.encoding)

    def split(self, header: Header, first: Command,
              commands: list[Command]) -> tuple[list[list[Command]], bytes | None]:
        """Messages for a package: `first` (the Status for the peer's header) opens the
        first; each later one gets its own header Status when it is sent. With them, the
        bytes of the first message under `header` when the package fits in it whole (the
        common case), so that it is not encoded twice."""
        whole = [first, *commands]
        if not self.limit:
            return [whole], None
        body = self.encode(header, whole, True)
        if len(body) <= self.limit:
            return [whole], body
        messages: list[list[Command]] = []
        current: list[Command] = []
        for command in commands:
            if self._size(header, first, current + [command]) <= self.limit:
                current.append(command)
                continue
            pieces = self._chunks(header, first, current, command)
            head, rest = pieces[0], pieces[1:]
            if self._size(header, first, current + [head]) <= self.limit:
                current.append(head)
            else:
                if current:
                    messages.append(current)
                current = [head]
            for piece in rest:
                messages.append(current)
                current = [piece]
        messages.append(current)
        messages[0] = [first, *messages[0]]
        return messages, None

    def _size(self, header: Header, first: Command, commands: list[Command]) -> int:
        return len(self.encode(header, [first, *commands], True))

    def _chunks(self, header: Header, first: Command, current: list[Command],
                command: Command) -> list[Command]:
        """A Results with one big text item as chunks, the first sized to fill the room
        left in the current message; anything else goes whole."""
        if not (isinstance(command, Results) and len(command.items) == 1
                and isinstance(command.items[0].data, str)):
            return [command]
        item = command.items[0]
        data: str = item.data  # type: ignore[assignment]
        empty = replace(command, items=[replace(item, data="")])
        limit = self.limit or 0

        def room(context: list[Command]) -> int:
            return limit - self._size(header, first, context + [empty]) - _CHUNK_SLACK

        step = room([])
        if step < _MIN_CHUNK:
            return [command]
        head = room(current)
        meta = replace(item.meta) if item.meta else Meta()
        meta.size = len(data.encode())
        bounds = [0, head if head >= _MIN_CHUNK else step]
        while bounds[-1] < len(data):
            bounds.append(bounds[-1] + step)
        pieces: list[Command] = []
        for n, (start, stop) in enumerate(zip(bounds, bounds[1:])):
            chunk = Item(target=item.target, source=item.source, data=data[start:stop],
                         meta=meta if n == 0 else None, more_data=stop < len(data))
            pieces.append(replace(command, items=[chunk]))
        return pieces
