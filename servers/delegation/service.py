"""One DM server's delegations, carried out: the I/O around the sans-I/O engines.

A `DelegationService` owns the `Delegation` engines of one server (DMS-1 or DMS-2, by
delegation), the server's `DMServer`, an HTTP client with the lab's TLS, the peers'
delegation endpoints, a `DelegationStore` and, for a delegated server, its bootstrap
server. It feeds the engines their inputs (messages from the link, the outcome of
handset work, the clock) and carries out the events they return:

    SendMessage     link.send; 200 -> delivered(), no answer -> peer_lost(), 4xx -> abort
    PrepareHandset  DMS-1: read the handset, run the preparation job, keep the journal
    NotifyHandset   DMS-2: package 0 and a small job; done when the session ran it
    AwaitHandset    DMS-2: wait for the bootstrapped handset's client-initiated session
    RemoveDms1      DMS-1: read the handset, run the removal job
    Undo            DMS-1: read the handset, run the journal's undo job; DMS-2: nothing
                    is left on the handset that DMS-1's undo does not cover
    Finished        record the outcome, purge the state

Events of one delegation are carried out in order, one at a time. `fail_at` makes a
step fail on purpose (labs, tests, `dmlab demo --fail-at`): the way it would fail for
real where the lab can stage it (a declined notification, a handset refusing a command,
a forged package 0, a bootstrap that is missing or does not verify, a bad credential),
else by this server aborting at that step.
"""

from __future__ import annotations

import asyncio
import logging
import dataclasses
import secrets
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import aiohttp

from dmclient.auth.nonce import encode_nonce, new_nonce
from dmclient.bootstrap import AccountSpec, AppAuth, account_nodes
from dmclient.bootstrap.mo import URL
from dmclient.tree import tnds
from servers.delegation.engine import (AwaitHandset, Delegation, Event, Finished, NotifyHandset,
                                       PrepareHandset, Refused, RemoveDms1, SendMessage, Status,
                                       Undo)
from servers.delegation.journal import AccountAdded, Change, Journal, LeafChange
from servers.delegation.link import Verdict, send
from servers.delegation.messages import DelInfo, DelType, Failure, Kind, Message, Notif, Reason
from servers.delegation.methods import METHODS, Action, Role
from servers.delegation.preparation import (PreparationError, judge, preparation_job, read_job,
                                            removal_job, snapshot, undo_job)
from servers.delegation.store import DelegationStore
from servers.dm import Atomic, DeviceConfig, DMServer, Get, Initiator, Job, JobRecord, JobState
from servers.dm import Outcome as SessionOutcome
from servers.dm import Replace
from servers.http import push

logger = logging.getLogger("dmlab.delegation")
POLL = 0.02
#: A command no server may run on the default handset: what `fail_at` adds to a job.
REFUSED_COMMAND = Replace("./DevInfo/DevId", "forged")


class HandsetUnreachable(Exception):
    """A job the handset did not run: the package 0 was refused, or no session came."""


@dataclass(frozen=True, slots=True)
class BootstrapSite:
    """DMS-2's bootstrap server: where handsets fetch, where to register, and the PIN
    (USERPIN) the handset knows."""

    url: str
    admin_url: str
    pin: str


@dataclass
class Outcome:
    """One delegation as this server saw it."""

    delegation_id: str
    role: Role
    method: int
    type: DelType | None
    device_id: str
    status: Status = Status.RUNNING
    step: int | None = None
    reason: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)  # sent or taken, in order
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_json(self) -> dict[str, object]:
        """As the admin API shows it."""
        return {"delegation_id": self.delegation_id, "role": self.role.value,
                "method": self.method, "type": self.type.value.lower() if self.type else None,
                "device": self.device_id, "status": self.status.value, "step": self.step,
                "reason": self.reason, "messages": self.messages}


class DelegationService:
    def __init__(self, dm: DMServer, *, http: aiohttp.ClientSession, tls: ssl.SSLContext,
                 peers: dict[str, str], store: DelegationStore,
                 bootstrap: BootstrapSite | None = None, step_timeout: float = 30.0,
                 job_timeout: float = 15.0, fail_at: int | None = None,
                 on_message: Callable[[Message], None] | None = None,  # each one taken
                 say: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.dm = dm
        self.me = dm.config.server_id
        self.http = http
        self.tls = tls                  # the lab CA, and this server's certificate
        self.peers = peers              # ServerID -> delegation endpoint URL
        self.store = store
        self.bootstrap = bootstrap
        self.step_timeout = step_timeout
        self.job_timeout = job_timeout
        self.fail_at = fail_at
        self.on_message = on_message or (lambda message: None)
        self.say = say or (lambda text: None)
        self.clock = clock
        self.engines: dict[str, Delegation] = {}
        self.outcomes: dict[str, Outcome] = {}
        self._journals: dict[str, Journal] = {}
        self._enrolled: dict[str, float] = {}  # DMS-2: when it enrolled the device
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task] = set()
        self._ticker: asyncio.Task | None = None

    # ------------------------------------------------------------------ life cycle

    def run(self) -> None:
        """Roll back what a restart interrupted, and start the step-9 clock (call from
        the running loop)."""
        for delegation, journal, events in self.store.recover(clock=self.clock):
            assert delegation.notif is not None
            if journal:
                self._journals[delegation.delegation_id] = Journal.from_json(journal)
            self._adopt(delegation, delegation.notif)
            self.say(f"{self.me} rolls back {delegation.delegation_id}, interrupted by a "
                     "restart")
            self._spawn(delegation, events)
        self._ticker = asyncio.create_task(self._tick())

    async def close(self) -> None:
        for task in (self._ticker, *self._tasks):
            if task is not None:
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            for delegation in list(self.engines.values()):
                events = delegation.tick()
                if events:
                    self._spawn(delegation, events)

    async def finished(self, delegation_id: str) -> Outcome:
        """Wait until this server is done with the delegation (undo included)."""
        outcome = self.outcomes[delegation_id]
        await outcome.finished.wait()
        return outcome

    # ------------------------------------------------------------------ inputs

    async def start(self, device_id: str, peer: str, method: int, del_type: DelType,
                    paths: tuple[str, ...] = (), *,
                    notification_address: str | None = None) -> str:
        """Initiate a delegation of `device_id` with `peer`; its id."""
        role = METHODS[method].initiator
        if peer not in self.peers:
            raise ValueError(f"{peer} is not a peer of {self.me}")
        if role is Role.DMS1:
            device = self.dm.config.device(device_id)
            if device is None:
                raise ValueError(f"method {method} starts at DMS-1, the device's server, "
                                 f"and {self.me} does not manage {device_id}")
            notification_address = device.notify_url
        elif not notification_address:
            raise ValueError(f"method {method} starts at DMS-2, the delegated server, "
                             "which needs the handset's notification address")
        delegation_id = f"d-{secrets.token_hex(8)}"
        notif = Notif(self.me, DelInfo(device_id, paths,
                                       notification_address=notification_address),
                      del_type, method)
        options = self._options()
        if role is Role.DMS2:
            options["dmacc"] = await self._enrol(delegation_id, notif)
            options["bootstrap_url"] = self.bootstrap.url if self.bootstrap else ""
        delegation, events = Delegation.initiate(delegation_id, role, self.me, peer, notif,
                                                 **options)
        self._adopt(delegation, notif)
        self._spawn(delegation, events)
        return delegation_id

    async def sink(self, message: Message) -> Verdict:
        """The link app's sink: give a message to its delegation (a NOTIF starts one)."""
        delegation = self.engines.get(message.delegation_id)
        if delegation is not None:
            events = delegation.receive(message)
        elif message.delegation_id in self.outcomes:
            return Verdict(False, f"delegation {message.delegation_id} is over")
        elif not isinstance(message.body, Notif) or message.sender not in self.peers:
            return Verdict(False, f"no delegation {message.delegation_id} with "
                                  f"{message.sender}")
        else:
            delegation, events = await self._respond(message)
        refused = next((e for e in events if isinstance(e, Refused)), None)
        if refused is not None:
            return Verdict(False, refused.reason)
        self._record(message)
        self.on_message(message)  # here, before anything it leads to: in causal order
        self._spawn(delegation, events)
        return Verdict(True)

    async def _respond(self, message: Message) -> tuple[Delegation, list[Event]]:
        notif = message.body
        assert isinstance(notif, Notif)
        options = self._options()
        role = Role.DMS2 if METHODS[notif.method].initiator is Role.DMS1 else Role.DMS1
        willing = self.fail_at != 1
        if role is Role.DMS1:
            willing = willing and self.dm.config.device(notif.info.dev_id) is not None
        elif willing:
            options["dmacc"] = await self._enrol(message.delegation_id, notif)
            options["bootstrap_url"] = self.bootstrap.url if self.bootstrap else ""
        options["accept"] = lambda _: willing
        delegation, events = Delegation.respond(message, self.me, **options)
        self._adopt(delegation, notif)
        return delegation, events

    def _options(self) -> dict[str, object]:
        return {"clock": self.clock, "step_timeout": self.step_timeout}

    def _adopt(self, delegation: Delegation, notif: Notif) -> None:
        self.engines[delegation.delegation_id] = delegation
        self.outcomes[delegation.delegation_id] = Outcome(
            delegation.delegation_id, delegation.role, notif.method, notif.type,
            notif.info.dev_id)
        self.store.save(delegation)

    def _record(self, message: Message) -> None:
        self.outcomes[message.delegation_id].messages.append(
            {"from": message.sender, "to": message.receiver, "kind": message.kind.value})

    # ------------------------------------------------------------------ carrying events out

    def _spawn(self, delegation: Delegation, events: list[Event]) -> None:
        task = asyncio.create_task(self._carry(delegation, events))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _carry(self, delegation: Delegation, events: list[Event]) -> None:
        """Carry out events in order; an input that ends the delegation replaces what
        was left of the plan."""
        async with self._locks[delegation.delegation_id]:
            pending = list(events)
            while pending:
                try:
                    more = await self._do(delegation, pending.pop(0))
                except Exception as exc:  # noqa: BLE001 - a fault here must end it cleanly
                    logger.exception("delegation %s", delegation.delegation_id)
                    more = delegation.abort(Reason.INTERNAL, f"{self.me} failed: "
                                            f"{type(exc).__name__}: {exc}")
                pending = more if any(isinstance(e, Finished) for e in more) else more + pending
                journal = self._journals.get(delegation.delegation_id)
                if delegation.status is Status.RUNNING:
                    self.store.save(delegation, journal.to_json() if journal else None)

    async def _do(self, d: Delegation, event: Event) -> list[Event]:
        """Carry out one event; the engine's answer to how it went."""
        fault = self._fault(d, event)
        if fault:
            return fault
        match event:
            case SendMessage(message):
                return await self._send(d, message)
            case PrepareHandset():
                return await self._prepare(d, event)
            case NotifyHandset():
                return await self._notify(d)
            case AwaitHandset():
                return await self._await(d)
            case RemoveDms1():
                return await self._remove(d)
            case Undo(reason):
                await self._undo(d, reason)
            case Finished():
                await self._finish(d, event)
        return []

    def _fault(self, d: Delegation, event: Event) -> list[Event]:
        """`fail_at` for a step no natural fault stages: its sender aborts at its first
        event at or after that step."""
        step = self.fail_at
        if step is None or step == 1 or d.status is not Status.RUNNING:
            return []
        table = d.method.step(step)
        staged = isinstance(table.what, Action) and table.what is not Action.MUTUAL_AUTH
        if staged or table.sender is not d.role or _step_of(d, event) < step:
            return []
        return d.abort(Reason.INTERNAL, f"fault injected at step {step}", step=step)

    async def _send(self, d: Delegation, message: Message) -> list[Event]:
        delivery = await send(self.http, self.peers[message.receiver], message, self.tls)
        if delivery.taken:
            self._record(message)
        if isinstance(message.body, Failure):
            return []  # the delegation has ended here, whatever the peer made of it
        if delivery.taken:
            return d.delivered()
        if delivery.status == 0:
            return d.peer_lost(delivery.text)
        return d.abort(Reason.BAD_MESSAGE, f"{message.receiver} refused "
                       f"{message.kind.value}: HTTP {delivery.status} {delivery.text}")

    # ------------------------------------------------------------------ DMS-1's handset work

    async def _prepare(self, d: Delegation, event: PrepareHandset) -> list[Event]:
        assert d.notif is not None
        device = d.notif.info.dev_id
        try:
            leaves = (URL,) if event.action is Action.PREPARE_WITH_URL else ()
            snap = snapshot(await self._run_job(device, read_job(leaves)))
            job, journal = preparation_job(snap, event.action, self.me, d.peer, d.notif.type,
                                           d.notif.info.paths, dmacc_tnds=event.dmacc,
                                           bootstrap_url=event.url)
        except PreparationError as exc:
            return d.abort(Reason.UNSUPPORTED, str(exc))
        except HandsetUnreachable as exc:
            return d.handset_done(False, str(exc))
        self._journals[d.delegation_id] = journal
        self.store.save(d, journal.to_json())
        if self.fail_at == d.step:
            job = _with_refused_command(job)
        self.say(f"{self.me} prepares {device}: {_describe(journal)}")
        return await self._job_done(d, device, job)

    async def _remove(self, d: Delegation) -> list[Event]:
        assert d.notif is not None
        device = d.notif.info.dev_id
        try:
            job = removal_job(snapshot(await self._run_job(device, read_job())), self.me)
        except (PreparationError, HandsetUnreachable) as exc:
            return d.handset_done(False, str(exc))
        if job is None:
            return d.handset_done(True)
        if self.fail_at == d.step:
            job = _with_refused_command(job)
        self.say(f"{self.me} removes its account and its ACL entries from {device}")
        return await self._job_done(d, device, job)

    async def _undo(self, d: Delegation, reason: str) -> None:
        journal = self._journals.pop(d.delegation_id, None)
        self.say(f"{self.me} rolls back ({reason})")
        if journal is None or d.notif is None:
            return  # nothing of ours reached the handset
        device = d.notif.info.dev_id
        leaves = tuple(c.path for c in journal.changes if isinstance(c, LeafChange))
        try:
            current = snapshot(await self._run_job(device, read_job(leaves)))
            job = undo_job(journal, current)
            record = await self._run_job(device, job) if job is not None else None
        except (PreparationError, HandsetUnreachable) as exc:
            self.say(f"{self.me} could not undo on {device}: {exc}")
            return
        verdict = judge(record) if record is not None else None
        if verdict is not None and not verdict.ok:
            self.say(f"{self.me} could not undo on {device}: {verdict.reason}")
        else:
            self.say(f"{self.me} undid its changes on {device}")

    async def _job_done(self, d: Delegation, device: str, job: Job) -> list[Event]:
        try:
            verdict = judge(await self._run_job(device, job))
        except HandsetUnreachable as exc:
            return d.handset_done(False, str(exc))
        return d.handset_done(verdict.ok, verdict.reason)

    # ------------------------------------------------------------------ DMS-2's handset work

    async def _enrol(self, delegation_id: str, notif: Notif) -> str:
        """Make ready for the handset: fresh credentials both ways, the device in our DM
        server, (methods 3-4) its bootstrap registered; our account for it, as TNDS."""
        info, method = notif.info, notif.method
        client = AppAuth("CLCRED", "DIGEST", info.dev_id, secrets.token_urlsafe(12),
                         new_nonce())
        server = AppAuth("SRVCRED", "DIGEST", self.me, secrets.token_urlsafe(12), new_nonce())
        self.dm.add_device(DeviceConfig(
            device_id=info.dev_id, client_secret=client.secret,
            client_nonce=encode_nonce(client.nonce), server_secret=server.secret,
            server_nonce=encode_nonce(server.nonce), notify_url=info.notification_address))
        spec = AccountSpec(server_id=self.me, addr=self.dm.config.url,
                           name=f"{self.me}, delegated", auth_pref="DIGEST",
                           app_auth=(client, server), suppress_session=method in (1, 2))
        self._enrolled[delegation_id] = self.clock()
        if method in (3, 4):
            await self._register_bootstrap(info.dev_id, spec)
        return tnds.export(account_nodes(spec)).decode()

    async def _register_bootstrap(self, dev_id: str, spec: AccountSpec) -> None:
        """At our bootstrap server; `fail_at` 6, 7 or 8 leaves it out, spoils its PIN, or
        spoils the handset's credential."""
        if self.bootstrap is None:
            raise ValueError(f"{self.me} has no bootstrap server")
        if self.fail_at == 6:
            return
        auth = [{"level": a.level, "type": a.type.value, "name": a.name,
                 "secret": "spoilt" if self.fail_at == 8 and a.level == "CLCRED" else a.secret,
                 "nonce": encode_nonce(a.nonce)} for a in spec.app_auth]
        registration = {
            "dev_id": dev_id, "sec": "USERPIN", "once": True,
            "pin": "0000" if self.fail_at == 7 else self.bootstrap.pin,
            "expires_in": self.step_timeout + self.job_timeout,
            "account": {"server_id": spec.server_id, "addr": spec.addr, "name": spec.name,
                        "auth_pref": spec.auth_pref, "suppress_session": False,
                        "app_auth": auth}}
        async with self.http.post(f"{self.bootstrap.admin_url}/admin/bootstraps",
                                  json=registration, ssl=self.tls) as answer:
            if answer.status != 201:
                raise ValueError(f"the bootstrap server refused the registration: "
                                 f"{(await answer.text())[:200]}")

    async def _withdraw_bootstrap(self, dev_id: str) -> None:
        assert self.bootstrap is not None
        try:
            async with self.http.delete(f"{self.bootstrap.admin_url}/admin/bootstraps",
                                        params={"dev_id": dev_id}, ssl=self.tls) as answer:
                if answer.status != 200:
                    self.say(f"{self.me} could not withdraw the bootstrap for {dev_id}: "
                             f"HTTP {answer.status}")
        except (aiohttp.ClientError, OSError) as exc:
            self.say(f"{self.me} could not withdraw the bootstrap for {dev_id}: {exc}")

    async def _notify(self, d: Delegation) -> list[Event]:
        """Methods 1-2, step 6: package 0, and a session that reads the DevId."""
        assert d.notif is not None
        device = d.notif.info.dev_id
        forge = self.fail_at == d.step
        try:
            record = await self._run_job(device, Job([Get("./DevInfo/DevId")]), forge=forge)
        except HandsetUnreachable as exc:
            return d.handset_done(False, str(exc))
        verdict = judge(record)
        return d.handset_done(verdict.ok, verdict.reason,
                              session_id=self._session_id(device, record.session))

    async def _await(self, d: Delegation) -> list[Event]:
        """Methods 3-4, steps 6-8: the bootstrap, then the handset's own session to us.
        The engine's clock (tick) ends the wait; a failure the bootstrap server hears
        of ends it sooner."""
        assert d.notif is not None
        device, since = d.notif.info.dev_id, self._enrolled.get(d.delegation_id, 0.0)
        while d.status is Status.RUNNING:
            for session in self.dm.sessions(device):
                if session.initiator is not Initiator.CLIENT or session.started_at < since \
                        or session.outcome is None:
                    continue
                if session.outcome is SessionOutcome.COMPLETED:
                    return d.handset_done(True, session_id=session.session_id)
                return d.handset_done(False, f"the handset's session to {self.me}: "
                                             f"{session.outcome.value} {session.reason}")
            failure = await self._bootstrap_failure(device, since)
            if failure:
                return d.abort(Reason.BOOTSTRAP_FAILED, failure[1], step=failure[0])
            await asyncio.sleep(POLL * 5)
        return []

    async def _bootstrap_failure(self, device: str, since: float) -> tuple[int, str] | None:
        """(step, why) if the bootstrap server logged the handset's request refused (6)
        or the handset's report that the bootstrap failed (7)."""
        if self.bootstrap is None:
            return None
        async with self.http.get(f"{self.bootstrap.admin_url}/admin/log",
                                 params={"dev_id": device}, ssl=self.tls) as answer:
            log = await answer.json() if answer.status == 200 else []
        for line in log:
            if line["at"] < since:
                continue
            if line["event"] == "request" and line["outcome"] != "served":
                return 6, f"the bootstrap server: {line['outcome']} ({line['detail']})"
            if line["event"] == "report" and line["outcome"] == "failed":
                return 7, f"the handset refused the bootstrap: {line['detail']}"
        return None

    def _session_id(self, device: str, record_id: int | None) -> str:
        return next((s.session_id for s in self.dm.sessions(device) if s.id == record_id), "")

    # ------------------------------------------------------------------ jobs on the handset

    async def _run_job(self, device: str, job: Job, *, forge: bool = False) -> JobRecord:
        """Queue a job, push its package 0 (`forge`: with a broken digest), wait for the
        session that runs it."""
        queued = self.dm.queue_job(device, job)
        notification = queued.notification
        if notification is not None and forge:
            notification = dataclasses.replace(
                notification, body=bytes([notification.body[0] ^ 0xFF]) + notification.body[1:])
        problem = await push(self.http, notification)
        if problem:
            raise HandsetUnreachable(f"package 0 not taken: {problem}")
        deadline = asyncio.get_running_loop().time() + self.job_timeout
        while (record := self.dm.job(queued.job_id)).state in (JobState.QUEUED,
                                                               JobState.RUNNING):
            if asyncio.get_running_loop().time() > deadline:
                raise HandsetUnreachable(f"no session ran job {queued.job_id} within "
                                         f"{self.job_timeout:g} s")
            await asyncio.sleep(POLL)
        return record

    # ------------------------------------------------------------------ the end

    async def _finish(self, d: Delegation, event: Finished) -> None:
        outcome = self.outcomes[d.delegation_id]
        if event.status is Status.ROLLED_BACK and d.delegation_id in self._enrolled:
            # DMS-2 forgets the handset it enrolled for this delegation (its credentials,
            # any job still queued, a bootstrap still held): nothing stays behind.
            self.dm.remove_device(outcome.device_id)
            if self.bootstrap is not None and d.method.number in (3, 4):
                await self._withdraw_bootstrap(outcome.device_id)
        outcome.status, outcome.step, outcome.reason = event.status, event.step, event.reason
        self.store.save(d)  # purges: the delegation is over
        self.engines.pop(d.delegation_id, None)
        self._journals.pop(d.delegation_id, None)
        self._enrolled.pop(d.delegation_id, None)
        self._locks.pop(d.delegation_id, None)
        outcome.finished.set()


def _step_of(d: Delegation, event: Event) -> int:
    """The table step an event belongs to."""
    if isinstance(event, SendMessage) and event.message.kind is not Kind.FAILURE:
        return next(s.number for s in d.method.steps if event.message.kind in s.messages)
    return d.step


def _with_refused_command(job: Job) -> Job:
    """The job's Atomic with one command the handset refuses, first (before any Exec):
    it takes none of it."""
    atomic = job.commands[0]
    assert isinstance(atomic, Atomic)
    return Job([Atomic([REFUSED_COMMAND, *atomic.commands])])


def _describe(journal: Journal) -> str:
    return "; ".join(_change(c) for c in journal.changes) or "nothing to change"


def _change(change: Change) -> str:
    if isinstance(change, AccountAdded):
        return f"add account ./DMAcc/{change.name}"
    if isinstance(change, LeafChange):
        return f"{change.path} = {change.new}"
    return f"ACL {change.path}: {change.old or '(inherited)'} -> {change.new}"
