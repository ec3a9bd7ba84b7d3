"""The bootstrap server, sans-I/O: bootstraps registered per device, served to that device.

    server = BootstrapServer(BootstrapStore(path), url="https://…/bootstrap", clock=time.time)
    held = server.register(parse_registration(json_object), peer="127.0.0.1")
    answer = server.request("IMEI:358240051111110", peer="10.0.0.7")   # Served | Refused

Rules kept here:
- one bootstrap per device at a time: registering a new one supersedes the one held;
- a bootstrap is built and signed when it is registered and served as those exact bytes,
  only to a request naming its DevId; `once` bootstraps are served a single time, and
  none is served at or after its expiry (the clock is injected);
- every registration, request and device report is logged with who, when and outcome.

The DevId in a request names the device; it does not prove it. The MAC protects the
bootstrap from being altered, not from being read: `once` (the default) limits how long
it is exposed, and a bootstrap fetched by someone else shows as `already_served` in the
log when the real device comes.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable

from dmclient.bootstrap import (CP_WBXML, DM_WBXML, AccountSpec, AppAuth, BootstrapError,
                                Profile, SecType, Secrets, build_cp_document, build_message,
                                sign)
from dmclient.bootstrap.cp_wbxml import encode as encode_cp
from servers.bootstrap.store import BootstrapRecord, BootstrapState, BootstrapStore, LogRecord


class RegistrationError(ValueError):
    """A registration that cannot be used; one line naming the field."""


class Event(StrEnum):
    REGISTER = "register"
    REQUEST = "request"
    REPORT = "report"  # the device's verdict on what it was served
    WITHDRAW = "withdraw"  # the registering server takes it back


class Outcome(StrEnum):
    REGISTERED = "registered"
    SERVED = "served"
    NO_BOOTSTRAP = "no_bootstrap"
    ALREADY_SERVED = "already_served"
    EXPIRED = "expired"
    BAD_REQUEST = "bad_request"
    INSTALLED = "installed"  # reported by the device
    FAILED = "failed"        # reported by the device
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Registration:
    """What a DM server asks for: this account, for this device, signed this way."""

    dev_id: str
    account: AccountSpec
    sec: SecType = SecType.USERPIN
    secrets: Secrets = Secrets()
    expires_in: float | None = None  # seconds from registration; None: never
    once: bool = True
    profile: Profile = Profile.DM


@dataclass(frozen=True, slots=True)
class Held:
    """A registered bootstrap; `user_code` is what the user must enter for USERPINMAC."""

    record: BootstrapRecord
    user_code: str | None
    superseded: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Served:
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Refused:
    status: int  # the HTTP status to answer with
    reason: str


class BootstrapServer:
    def __init__(self, store: BootstrapStore, *, url: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.url = url
        self.clock = clock

    def register(self, registration: Registration, peer: str = "") -> Held:
        """Build, sign and hold a bootstrap; RegistrationError if it cannot be built."""
        account = registration.account
        try:
            if registration.profile is Profile.DM:
                body, media_type = build_message(account, dev_id=registration.dev_id,
                                                 source=self.url), DM_WBXML
            else:
                body, media_type = encode_cp(build_cp_document(account)), CP_WBXML
            signature = sign(body, media_type, registration.sec, registration.secrets)
        except (BootstrapError, ValueError) as exc:
            raise RegistrationError(str(exc)) from None
        now = self.clock()
        expires = None if registration.expires_in is None else now + registration.expires_in
        with self.store.transaction():
            bootstrap_id, superseded = self.store.add(
                dev_id=registration.dev_id, server_id=account.server_id,
                profile=registration.profile.value, sec=int(registration.sec),
                once=registration.once, body=body, content_type=str(signature.content_type),
                created_at=now, expires_at=expires)
            detail = f"#{bootstrap_id}: {registration.profile.value} profile, account " \
                     f"{account.server_id}, SEC={registration.sec.name}"
            if superseded:
                detail += f"; supersedes {', '.join(f'#{n}' for n in superseded)}"
            self._log(peer, registration.dev_id, Event.REGISTER, Outcome.REGISTERED, detail)
        record = self.store.latest(registration.dev_id)
        assert record is not None
        return Held(record, signature.user_code, tuple(superseded))

    def request(self, dev_id: str, peer: str) -> Served | Refused:
        """A device asks for its bootstrap."""
        if not dev_id:
            self._log(peer, "", Event.REQUEST, Outcome.BAD_REQUEST, "no devid in the request")
            return Refused(400, "the request names no devid")
        now = self.clock()
        with self.store.transaction():
            record = self.store.latest(dev_id)
            if record is None:
                outcome, answer = Outcome.NO_BOOTSTRAP, Refused(
                    404, f"no bootstrap is held for {dev_id}")
            elif record.state is BootstrapState.SERVED:
                outcome, answer = Outcome.ALREADY_SERVED, Refused(
                    410, f"the bootstrap for {dev_id} was served at "
                         f"{iso(record.last_served_at)} and is served once")
            elif record.expires_at is not None and now >= record.expires_at:
                outcome, answer = Outcome.EXPIRED, Refused(
                    410, f"the bootstrap for {dev_id} expired at {iso(record.expires_at)}")
            else:
                self.store.mark_served(record.id, now, once=record.once)
                outcome = Outcome.SERVED
                answer = Served(self.store.body(record.id), record.content_type)
            detail = f"#{record.id}" if isinstance(answer, Served) else answer.reason
            self._log(peer, dev_id, Event.REQUEST, outcome, detail)
        return answer

    def withdraw(self, dev_id: str, peer: str) -> list[int]:
        """Take back what is held for a device (a delegation rolled back); its ids."""
        ids = self.store.withdraw(dev_id)
        self._log(peer, dev_id, Event.WITHDRAW, Outcome.WITHDRAWN,
                  ", ".join(f"#{n}" for n in ids) or "nothing was held")
        return ids

    def report(self, dev_id: str, outcome: str, reason: str, peer: str) -> None:
        """A device says what became of its bootstrap (not authenticated: log only)."""
        verdict = Outcome.INSTALLED if outcome == Outcome.INSTALLED else Outcome.FAILED
        self._log(peer, dev_id, Event.REPORT, verdict, " ".join(reason.split())[:500])

    def log(self, dev_id: str | None = None) -> list[LogRecord]:
        return self.store.log(dev_id)

    def bootstraps(self, dev_id: str | None = None) -> list[BootstrapRecord]:
        return self.store.bootstraps(dev_id)

    def _log(self, peer: str, dev_id: str, event: Event, outcome: Outcome, detail: str) -> None:
        self.store.append_log(at=self.clock(), peer=peer, dev_id=dev_id, event=event.value,
                              outcome=outcome.value, detail=detail)


def iso(at: float | None) -> str:
    return "never" if at is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


# ---------------------------------------------------------------------- the admin API's JSON

def parse_registration(payload: Any) -> Registration:
    """A registration from the admin API's JSON object:

        {"dev_id": "IMEI:…", "sec": "USERPIN" | 1, "pin": "1234", "imsi": "…",
         "expires_in": 3600, "once": true, "profile": "dm" | "cp",
         "account": {"server_id": "dms2", "addr": "https://…/dm", "name": "…", "port": 8445,
                     "addr_type": "URI", "auth_pref": "DIGEST", "suppress_session": false,
                     "acl": "", "app_auth": [{"level": "CLCRED", "type": "DIGEST",
                     "name": "…", "secret": "…", "nonce": "<base64>"}, …]}}
    """
    top = _object(payload, "registration")
    account = _object(top.get("account"), "account")
    try:
        spec = AccountSpec(
            server_id=_field(account, "server_id", str, ""), addr=_field(account, "addr", str, ""),
            name=_field(account, "name", str, ""),
            addr_type=_field(account, "addr_type", str, "URI"),
            port=_field(account, "port", int, None),
            auth_pref=_field(account, "auth_pref", str, ""),
            suppress_session=_field(account, "suppress_session", bool, False),
            acl=_field(account, "acl", str, ""),
            app_auth=tuple(_app_auth(_object(a, f"account.app_auth[{n}]"), n)
                           for n, a in enumerate(_field(account, "app_auth", list, []))))
        sec = SecType.parse(_field(top, "sec", (str, int), "USERPIN"))
        profile = Profile(_field(top, "profile", str, "dm"))
    except (ValueError, BootstrapError) as exc:
        raise RegistrationError(str(exc)) from None
    expires_in = _field(top, "expires_in", (int, float), None)
    if expires_in is not None and expires_in <= 0:
        raise RegistrationError("expires_in must be a positive number of seconds")
    dev_id = _field(top, "dev_id", str, "")
    if not dev_id:
        raise RegistrationError("dev_id is missing")
    return Registration(dev_id=dev_id, account=spec, sec=sec,
                        secrets=Secrets(_field(top, "imsi", str, None),
                                        _field(top, "pin", str, None)),
                        expires_in=expires_in, once=_field(top, "once", bool, True),
                        profile=profile)


def _app_auth(entry: dict[str, Any], n: int) -> AppAuth:
    nonce = _field(entry, "nonce", str, "")
    try:
        data = base64.b64decode(nonce, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"account.app_auth[{n}].nonce is not base64") from None
    return AppAuth(level=_field(entry, "level", str, ""), type=_field(entry, "type", str, ""),
                   name=_field(entry, "name", str, ""), secret=_field(entry, "secret", str, ""),
                   nonce=data)


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RegistrationError(f"{name} must be a JSON object")
    return value


def _field(obj: dict[str, Any], key: str, kinds: type | tuple[type, ...], default: Any) -> Any:
    value = obj.get(key, default)
    if value is default:
        return value
    wanted = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
        names = " or ".join(k.__name__ for k in wanted)
        raise RegistrationError(f"{key} must be {names}, not {type(value).__name__}")
    return value
