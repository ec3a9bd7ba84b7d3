"""Session traces: every message of a session on disk, readable, and a transcript of them.

A server team's first question is "what exactly did the handset get, and what did it
answer?". One directory per session holds each message as XML (WBXML is decoded, so a
trace reads the same in both encodings) and `index.json` with, per message, direction,
time, URL, content type, size and encoding:

    DIR/20250101T120000.123456Z-dms1-1A2B/
        001-out.xml  002-in.xml  ...  index.json

The index is rewritten after every message, so a handset killed mid-session still
leaves a readable trace.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dmclient.wire import (Alert, Atomic, Command, DecodeError, Encoding, Exec, Message,
                           Sequence, Status, decode, detect, encode_xml)

INDEX = "index.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def iso(at: float) -> str:
    """UTC, to the millisecond: the one time format of traces and summaries."""
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class SessionTrace:
    """The trace of one session, written as it happens (a transport Recorder)."""

    path: Path
    index: dict = field(default_factory=dict)

    @classmethod
    def create(cls, root: str | os.PathLike[str], *, server_id: str, session_id: str,
               initiator: str, at: float) -> "SessionTrace":
        stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        base = Path(root) / f"{stamp}-{_UNSAFE.sub('_', server_id)}-{_UNSAFE.sub('_', session_id)}"
        Path(root).mkdir(parents=True, exist_ok=True)
        path, n = base, 1
        while True:
            try:
                path.mkdir()
                break
            except FileExistsError:
                n += 1
                path = base.with_name(f"{base.name}-{n}")
        trace = cls(path, {"server_id": server_id, "session_id": session_id,
                           "initiator": initiator, "started": iso(at), "ended": None,
                           "outcome": None, "reason": "", "messages": []})
        trace._write_index()
        return trace

    def record(self, direction: str, body: bytes, *, url: str, content_type: str,
               at: float) -> None:
        messages = self.index["messages"]
        text, encoding = _as_xml(body)
        name = f"{len(messages) + 1:03d}-{direction}.{'xml' if text is not None else 'bin'}"
        (self.path / name).write_bytes(text if text is not None else body)
        messages.append({"file": name, "direction": direction, "time": iso(at), "url": url,
                         "content_type": content_type, "bytes": len(body),
                         "encoding": encoding})
        self._write_index()

    def close(self, outcome: str, reason: str, at: float) -> None:
        self.index.update(ended=iso(at), outcome=outcome, reason=reason)
        self._write_index()

    def _write_index(self) -> None:
        tmp = self.path / f".{INDEX}.tmp"
        tmp.write_text(json.dumps(self.index, indent=2) + "\n")
        os.replace(tmp, self.path / INDEX)


def _as_xml(body: bytes) -> tuple[bytes | None, str]:
    """(XML to store, the encoding it came in); None if it is neither readable XML
    nor decodable WBXML, in which case the raw bytes are kept."""
    try:
        encoding = detect(body)
    except DecodeError:
        return None, "unknown"
    if encoding is Encoding.XML:
        return body, encoding.value
    try:
        return encode_xml(decode(body)), encoding.value
    except DecodeError:
        return None, encoding.value


# ---------------------------------------------------------------------- reading


class TraceError(ValueError):
    """A directory that holds no trace."""


@dataclass(frozen=True, slots=True)
class Line:
    """One message of a transcript: who sent it to whom, and what it said."""

    time: str
    sender: str
    receiver: str
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    title: str
    lines: list[Line]


def transcripts(directory: str | os.PathLike[str]) -> list[Transcript]:
    """The transcripts of a session directory, or of every session under a trace root."""
    root = Path(directory)
    if (root / INDEX).is_file():
        return [_transcript(root)]
    if not root.is_dir():
        raise TraceError(f"{root} is not a directory")
    sessions = sorted(p for p in root.iterdir() if (p / INDEX).is_file())
    if not sessions:
        raise TraceError(f"no session traces in {root} (no */{INDEX})")
    return [_transcript(p) for p in sessions]


def _transcript(path: Path) -> Transcript:
    try:
        index = json.loads((path / INDEX).read_text())
        server = index["server_id"]
        entries = index["messages"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TraceError(f"{path / INDEX} is not a trace index: {exc}") from None
    outcome = index.get("outcome") or "unfinished"
    reason = f" ({index['reason']})" if index.get("reason") else ""
    title = (f"session {index.get('session_id')} with {server}, "
             f"{index.get('initiator')}-initiated, {index.get('started')}: {outcome}{reason}")
    lines = []
    for entry in entries:
        out = entry.get("direction") == "out"
        sender, receiver = ("handset", server) if out else (server, "handset")
        lines.append(Line(entry.get("time", ""), sender, receiver,
                          _describe_file(path / entry.get("file", ""), entry)))
    return Transcript(title, lines)


def _describe_file(file: Path, entry: dict) -> str:
    try:
        data = file.read_bytes()
    except OSError as exc:
        return f"(missing {file.name}: {exc.strerror})"
    try:
        return describe(decode(data))
    except DecodeError as exc:
        return f"unreadable {entry.get('bytes', len(data))}-byte message: {exc}"


def describe(message: Message) -> str:
    """`MsgID 1: Alert 1201, Replace ./DevInfo (5 items), Final`."""
    header = message.header
    parts = [_command(c) for c in message.body.commands]
    if message.body.final:
        parts.append("Final")
    extras = ""
    if header.cred is not None:
        meta = header.cred.meta
        extras += f" [Cred {meta.type if meta and meta.type else 'untyped'}]"
    if header.resp_uri:
        extras += f" [RespURI {header.resp_uri}]"
    return f"MsgID {header.msg_id}{extras}: " + ", ".join(parts)


def _command(command: Command) -> str:
    name = type(command).__name__
    if isinstance(command, Status):
        target = f" {command.target_refs[0]}" if command.cmd != "SyncHdr" and \
            command.target_refs else ""
        chal = f" Chal {command.chal.type}" if command.chal is not None else ""
        return f"Status {command.cmd}{target} {int(command.code)}{chal}"
    if isinstance(command, (Atomic, Sequence)):
        return f"{name} [" + ", ".join(_command(c) for c in command.commands) + "]"
    if isinstance(command, Alert):
        correlator = f" (Correlator {command.correlator})" if command.correlator else ""
        return f"Alert {int(command.code)}{correlator}"
    if isinstance(command, Exec):
        target = command.item.target.loc_uri if command.item.target else ""
        return f"Exec {target}".rstrip()
    uris = [i.target or i.source for i in command.items]  # package 1's Replace has Source
    return f"{name} {_uris([u.loc_uri for u in uris if u is not None])}".rstrip()


def _uris(uris: list[str]) -> str:
    """One URI as is; several as their common parent and a count."""
    if len(uris) <= 1:
        return "".join(uris)
    split = [u.split("/") for u in uris]
    common: list[str] = []
    for parts in zip(*split):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return f"{'/'.join(common) or '.'} ({len(uris)} items)"

