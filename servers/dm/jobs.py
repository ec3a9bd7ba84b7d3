"""Management jobs: what a server operator asks a device to do, as an ordered command list.

A job file is JSON:

    {"commands": [
        {"cmd": "Get", "uri": "./DevInfo/Mod"},
        {"cmd": "Replace", "uri": "./Vendor/DMLab/Settings/Greeting", "data": "hi"},
        {"cmd": "Add", "uri": "./Vendor/DMLab/Apps/x", "format": "node"},
        {"cmd": "Replace", "uri": "./X/Blob", "data_b64": "AAEC", "format": "bin"},
        {"cmd": "Exec", "uri": "./X/Run", "data": "now", "correlator": "c1"},
        {"cmd": "Alert", "code": 1101, "text": "Update now?", "options": "MAXDT=30"},
        {"cmd": "Atomic", "commands": [...]}, {"cmd": "Sequence", "commands": [...]},
        {"cmd": "Copy", "source": "./A", "target": "./B"},
        {"cmd": "Delete", "uri": "./X"}]}

The spec's rules on shape (DM Protocol 1.2 §6.6; digest §2) are checked when a command
is built, from a file or in Python, so a job the server accepts is one a conforming
device can run: no Get and no nested Atomic inside an Atomic, UI alerts only 1100-1104
with choices only for 1103/1104.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dmclient.wire import AlertCode

UI_ALERTS = range(AlertCode.DISPLAY, AlertCode.MULTIPLE_CHOICE + 1)
CHOICE_ALERTS = (AlertCode.SINGLE_CHOICE, AlertCode.MULTIPLE_CHOICE)


class JobError(ValueError):
    """A job that cannot be run; the message says where (e.g. `commands[2].commands[0]`)."""


@dataclass
class Get:
    uri: str


@dataclass
class Replace:
    uri: str
    data: str | bytes
    format: str | None = None
    type: str | None = None


@dataclass
class Add:
    """data None adds an interior node (give format "node") or an empty leaf."""

    uri: str
    data: str | bytes | None = None
    format: str | None = None
    type: str | None = None


@dataclass
class Delete:
    uri: str


@dataclass
class Copy:
    source: str
    target: str


@dataclass
class Exec:
    uri: str
    data: str | None = None
    correlator: str | None = None


@dataclass
class Alert:
    """A UI alert. options is Item 1 (`MINDT=10&DR=1`), text Item 2, choices Items 3 on."""

    code: int
    text: str
    options: str | None = None
    choices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.code not in UI_ALERTS:
            raise JobError(f"Alert code {self.code} is not a UI alert (1100-1104)")
        if self.code in CHOICE_ALERTS and not self.choices:
            raise JobError(f"Alert {self.code} needs choices")
        if self.code not in CHOICE_ALERTS and self.choices:
            raise JobError(f"Alert {self.code} takes no choices (only 1103 and 1104 do)")


@dataclass
class Atomic:
    commands: list[JobCommand]

    def __post_init__(self) -> None:
        for n, command in enumerate(self.commands):
            if isinstance(command, (Get, Atomic)):
                raise JobError(f"commands[{n}]: {type(command).__name__} is not allowed "
                               "inside Atomic (the device would answer 500)")


@dataclass
class Sequence:
    commands: list[JobCommand]


JobCommand = Get | Replace | Add | Delete | Copy | Exec | Alert | Atomic | Sequence
CONTAINERS = (Atomic, Sequence)


@dataclass
class Job:
    commands: list[JobCommand]

    def __post_init__(self) -> None:
        if not self.commands:
            raise JobError("a job needs at least one command")


def walk(commands: list[JobCommand], prefix: str = "") -> Iterator[tuple[str, JobCommand]]:
    """Every command with its place ("1", "2", "2.1"...), a container before its children.

    The order is the job's ordinal order: the registry numbers results by it.
    """
    for n, command in enumerate(commands, 1):
        place = f"{prefix}{n}"
        yield place, command
        if isinstance(command, CONTAINERS):
            yield from walk(command.commands, place + ".")


def target_of(command: JobCommand) -> str:
    """The URI a command is about, for records ("" for Alert and containers)."""
    if isinstance(command, Copy):
        return command.target
    return getattr(command, "uri", "")


# ---------------------------------------------------------------------- the file format

_FIELDS: dict[str, tuple[type, set[str], set[str]]] = {
    # cmd: (class, required keys, optional keys)
    "Get": (Get, {"uri"}, set()),
    "Replace": (Replace, {"uri"}, {"data", "data_b64", "format", "type"}),
    "Add": (Add, {"uri"}, {"data", "data_b64", "format", "type"}),
    "Delete": (Delete, {"uri"}, set()),
    "Copy": (Copy, {"source", "target"}, set()),
    "Exec": (Exec, {"uri"}, {"data", "correlator"}),
    "Alert": (Alert, {"code", "text"}, {"options", "choices"}),
    "Atomic": (Atomic, {"commands"}, set()),
    "Sequence": (Sequence, {"commands"}, set()),
}


def _command(raw: Any, where: str) -> JobCommand:
    if not isinstance(raw, dict):
        raise JobError(f"{where}: a command must be an object")
    name = raw.get("cmd")
    if name not in _FIELDS:
        known = ", ".join(_FIELDS)
        raise JobError(f"{where}: unknown cmd {name!r} (one of {known})")
    cls, required, optional = _FIELDS[name]
    keys = set(raw) - {"cmd"}
    for key in sorted(required - keys):
        raise JobError(f"{where}: {name} needs {key!r}")
    for key in sorted(keys - required - optional):
        raise JobError(f"{where}: {name} takes no {key!r}")
    args = {k: raw[k] for k in keys}
    for key, value in args.items():
        if not _TYPES.get(key, _is_str)(value):
            raise JobError(f"{where}: {name} {key} has the wrong type ({type(value).__name__})")
    if "commands" in args:
        args["commands"] = _commands(args["commands"], f"{where}.")
    try:
        if "data_b64" in args:
            if "data" in args:
                raise JobError("give data or data_b64, not both")
            args["data"] = _unb64(args.pop("data_b64"))
            args.setdefault("format", "bin")
        if name == "Replace" and "data" not in args:
            raise JobError("Replace needs data or data_b64")
        return cls(**args)
    except JobError as exc:
        message = str(exc)
        # Atomic names the child it refuses: "commands[0]: ...".
        raise JobError(f"{where}.{message}" if message.startswith("commands[")
                       else f"{where}: {message}") from None


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


_TYPES = {
    "code": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "commands": lambda v: isinstance(v, list),
    "choices": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
}


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise JobError("data_b64 is not base64") from None


def _commands(raw: Any, prefix: str) -> list[JobCommand]:
    if not isinstance(raw, list):
        raise JobError(f"{prefix}commands must be a list")
    return [_command(c, f"{prefix}commands[{n}]") for n, c in enumerate(raw)]


def parse_job(data: bytes | str) -> Job:
    """A job from its JSON file; JobError with a one-line reason if it is not a valid job."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JobError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or set(document) != {"commands"}:
        raise JobError('a job is an object with one key, "commands"')
    return Job(_commands(document["commands"], ""))


def _json(command: JobCommand) -> dict[str, Any]:
    out: dict[str, Any] = {"cmd": type(command).__name__}
    for key, value in vars(command).items():
        if value is None or (key == "choices" and not value):
            continue
        if key == "commands":
            out[key] = [_json(c) for c in value]
        elif isinstance(value, bytes):
            out["data_b64"] = base64.b64encode(value).decode("ascii")
        else:
            out[key] = value
    return out


def dump_job(job: Job) -> bytes:
    """The job as its JSON file: parse_job(dump_job(job)) == job."""
    return json.dumps({"commands": [_json(c) for c in job.commands]}).encode()
