"""The handset a user runs: one tree, its settings, and the network around the engine.

    handset = Handset(tree, trace_dir="traces")
    summary = await handset.connect("dms1")               # a client-initiated session
    port = await handset.listen()                         # package 0 over HTTP on loopback
    await handset.serve_forever()                         # until stop()

The session engine decides everything about a session; this object decides when
sessions happen and keeps what outlives one: pending Generic Alert reports, the
notifications received and their verdicts, the summaries. Sessions run one at a time,
as on a real handset, so two servers never change the tree at once.

Rules kept here:
- `Ext/SuppressSession` true in a server's account: no client-initiated session to it
  (connect refuses, polling skips it); a verified package 0 still opens one.
- A package 0 opens a session only if its digest verifies with the account's SRVCRED
  secret and nonce, or with the resync nonce (four zero bytes), in which case the
  session starts on that nonce and its challenges refresh it. UI mode 3 asks the user
  (the UI policy) first. Anything else is ignored: no session, no tree change.
- Asynchronous Exec results (202) are reported by Generic Alert 1226 in a follow-up
  session to the same server; if a session fails, its reports wait for the next one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Awaitable, Callable, Coroutine

import aiohttp
from aiohttp import web

from dmclient.bootstrap import (FetchQueue, FetchResult, Secrets, ensure_bootstrap_mo,
                                fetch_bootstrap, fetch_report, should_connect_after)
from dmclient.notification import (RESYNC_NONCE, NonceMatch, Notification, NotificationError,
                                   UIMode, decode as decode_notification, verify_with_resync)
from dmclient.session import (ClientSession, CommandRecord, Ended, GenericReport, Outcome,
                              SessionError, UiPolicy)
from dmclient.session.executor import ExecHandler
from dmclient.trace import SessionTrace, iso
from dmclient.transport import DEFAULT_TIMEOUT, run_session, ssl_context
from dmclient.tree import Tree
from dmclient.tree.accounts import accounts, find_account
from dmclient.tree.uri import child_path
from dmclient.wire import Alert, AlertCode, Encoding, Item, StatusCode

logger = logging.getLogger(__name__)

NOTIFICATION_PATH = "/notification"
NOTIFICATION_TYPE = "application/vnd.syncml.notification"
#: How many notifications and session summaries a long-running handset remembers.
HISTORY = 1000
#: A package 0 is 24 bytes, a server ID of up to 255 and a little vendor data.
MAX_NOTIFICATION = 4096


class HandsetError(Exception):
    """A session the handset will not open; the message says why."""


@dataclass
class SessionSummary:
    """One session as a user sees it: who, how it ended, every command and its status."""

    server_id: str
    session_id: str
    initiator: str  # "client" | "server"
    outcome: str
    reason: str
    commands: list[CommandRecord]
    trace: str | None
    started: float
    ended: float
    followup: SessionSummary | None = None  # the session that delivered Generic Alerts

    @property
    def completed(self) -> bool:
        return self.outcome == Outcome.COMPLETED

    def to_json(self) -> dict[str, object]:
        """The `dmlab handset connect --json` document (a dict ready for json.dumps)."""
        return {
            "server_id": self.server_id,
            "session_id": self.session_id,
            "initiator": self.initiator,
            "outcome": self.outcome,
            "reason": self.reason,
            "commands": [asdict(c) for c in self.commands],
            "trace": self.trace,
            "started": iso(self.started),
            "ended": iso(self.ended),
            "followup": self.followup.to_json() if self.followup else None,
        }


class Verdict(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"              # UI mode 3, and the user said no
    FORGED = "forged"                  # the digest matches neither nonce
    UNKNOWN_SERVER = "unknown_server"  # no account (with SRVCRED) for its ServerID
    MALFORMED = "malformed"


_HTTP_STATUS = {Verdict.ACCEPTED: 202, Verdict.DECLINED: 200, Verdict.FORGED: 403,
                Verdict.UNKNOWN_SERVER: 403, Verdict.MALFORMED: 400}


@dataclass
class NotificationRecord:
    """A package 0 received, what the handset made of it, and the session it started."""

    received: float
    via: str
    verdict: Verdict
    detail: str
    notification: Notification | None = None
    nonce: NonceMatch | None = None
    session: asyncio.Task[SessionSummary | None] | None = field(default=None, repr=False)


class Handset:
    """One virtual handset: its tree, how it talks to servers, and what it remembers."""

    def __init__(self, tree: Tree, *, encoding: Encoding = Encoding.XML,
                 ca_file: str | None = None, ui: UiPolicy | None = None,
                 trace_dir: str | os.PathLike[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT, poll_interval: float | None = None,
                 exec_handler: ExecHandler | None = None,
                 bootstrap_secrets: Secrets | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
        self.tree = tree
        self.encoding = encoding
        self.ui = ui or UiPolicy()
        self.trace_dir = trace_dir
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.bootstrap_secrets = bootstrap_secrets or Secrets()
        # An Exec on ./Vendor/DMLab/Bootstrap/Fetch is queued (202) and run between sessions.
        self.fetches = FetchQueue(fallback=exec_handler)
        ensure_bootstrap_mo(tree)
        self.on_event = on_event
        self.notifications: deque[NotificationRecord] = deque(maxlen=HISTORY)
        self.sessions: deque[SessionSummary] = deque(maxlen=HISTORY)
        self.pending_reports: dict[str, list[GenericReport]] = {}  # by ServerID
        self._tls = ssl_context(ca_file)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._runners: list[web.AppRunner] = []
        self._datagrams: list[asyncio.DatagramTransport] = []
        self._stopped = asyncio.Event()

    # ------------------------------------------------------------------ sessions

    async def connect(self, server_id: str, *, session_id: str | None = None) -> SessionSummary:
        """One session with the server of `server_id`'s account: client-initiated, or
        server-initiated with the package-0 `session_id`. Waits for any running session."""
        async with self._lock:
            return await self._connect(server_id, session_id)

    async def _connect(self, server_id: str, session_id: str | None) -> SessionSummary:
        if session_id is None:
            self._refuse_if_suppressed(server_id)
        summary = await self._session(server_id, session_id)
        installed = await self._run_fetches()
        if summary.completed and self.pending_reports.get(server_id):
            try:
                self._refuse_if_suppressed(server_id)
            except HandsetError as refusal:
                self._event(f"reports for {server_id} wait: {refusal}")
            else:
                summary.followup = await self._session(server_id, None)
        await self._greet(installed)
        return summary

    # ------------------------------------------------------------------ bootstrap

    async def bootstrap(self, url: str | None = None) -> FetchResult:
        """Fetch and install a bootstrap now (from `url`, or the Bootstrap/URL leaf), then
        open a session to each new server whose SuppressSession allows it."""
        async with self._lock:
            result = await self._fetch(url)
            await self._greet(result.server_ids)
            return result

    async def _fetch(self, url: str | None = None) -> FetchResult:
        async with aiohttp.ClientSession() as http:
            result = await fetch_bootstrap(self.tree, url, http=http, ssl_context=self._tls,
                                           secrets=self.bootstrap_secrets, timeout=self.timeout)
        self._event(f"bootstrap from {result.url}: {result.state}")
        return result

    async def _run_fetches(self) -> list[str]:
        """Fetches a server asked for with Exec during the last session; each result goes
        back to that server as a Generic Alert in its next session."""
        installed: list[str] = []
        for request in self.fetches.take():
            result = await self._fetch()
            self.pending_reports.setdefault(request.server_id, []).append(
                fetch_report(request, result))
            installed.extend(result.server_ids)
        return installed

    async def _greet(self, server_ids: list[str]) -> None:
        """After a bootstrap: a client-initiated session to each new server (1201),
        unless its Ext/SuppressSession holds it back until a package 0."""
        for new in server_ids:
            if should_connect_after(self.tree, new):
                await self._session(new, None)
            else:
                self._event(f"{new} installed; sessions to it wait for a package 0")

    def _refuse_if_suppressed(self, server_id: str) -> None:
        account = find_account(self.tree, server_id)
        if account is not None and account.suppress_session:
            raise HandsetError(f"client-initiated sessions to {server_id} are suppressed "
                               f"({account.path}/Ext/SuppressSession is true)")

    async def _session(self, server_id: str, session_id: str | None) -> SessionSummary:
        reports = self.pending_reports.get(server_id, [])
        session = ClientSession(self.tree, server_id, encoding=self.encoding,
                                session_id=session_id, ui=self.ui,
                                exec_handler=self.fetches.exec_handler,
                                reports=tuple(reports))
        self.pending_reports.pop(server_id, None)
        initiator = "client" if session_id is None else "server"
        started = time.time()
        trace = None
        if self.trace_dir is not None:
            trace = SessionTrace.create(self.trace_dir, server_id=server_id,
                                        session_id=session.session_id, initiator=initiator,
                                        at=started)
        ended: Ended | None = None
        try:
            async with aiohttp.ClientSession() as http:
                ended = await run_session(session, http, tls=self._tls, timeout=self.timeout,
                                          recorder=trace)
        finally:
            if ended is None or ended.outcome is not Outcome.COMPLETED:
                reports = reports + self.pending_reports.get(server_id, [])
                if reports:  # at least once: they may not have reached the server
                    self.pending_reports[server_id] = reports
            if trace is not None:
                trace.close(ended.outcome if ended else "interrupted",
                            ended.reason if ended else "", time.time())
        if session.pending_reports:
            self.pending_reports.setdefault(server_id, []).extend(session.pending_reports)
        summary = SessionSummary(server_id, session.session_id, initiator, ended.outcome,
                                 ended.reason, list(session.records),
                                 str(trace.path) if trace else None, started, time.time())
        self.sessions.append(summary)
        reason = f" ({summary.reason})" if summary.reason else ""
        self._event(f"session {summary.session_id} with {server_id} ({initiator}-initiated): "
                    f"{summary.outcome}{reason}, {len(summary.commands)} commands")
        return summary

    # ------------------------------------------------------------------ package 0

    def notify(self, data: bytes, via: str = "direct") -> NotificationRecord:
        """Take a package 0; if it verifies (and the user agrees), start its session in
        the background (`record.session`). Call from the running event loop."""
        record = self._judge(data, via)
        self.notifications.append(record)
        self._event(f"package 0 via {via}: {record.verdict} ({record.detail})")
        if record.verdict is Verdict.ACCEPTED:
            record.session = self._spawn(self._notified(record))
        return record

    def _judge(self, data: bytes, via: str) -> NotificationRecord:
        received = time.time()
        try:
            notification, _ = decode_notification(data)
        except NotificationError as exc:
            return NotificationRecord(received, via, Verdict.MALFORMED, str(exc))
        server_id = notification.server_id
        account = find_account(self.tree, server_id)
        credential = account.server_credential if account is not None else None
        if credential is None:
            return NotificationRecord(received, via, Verdict.UNKNOWN_SERVER,
                                      f"no DM account with SRVCRED for {server_id!r}",
                                      notification)
        nonce = verify_with_resync(data, credential.secret, credential.data)
        if not nonce.verified:
            return NotificationRecord(received, via, Verdict.FORGED,
                                      f"the digest does not verify for {server_id}",
                                      notification, nonce)
        if notification.ui_mode is UIMode.USER_INTERACTION and not self._user_agrees(server_id):
            return NotificationRecord(received, via, Verdict.DECLINED,
                                      f"the user declined a session with {server_id}",
                                      notification, nonce)
        return NotificationRecord(received, via, Verdict.ACCEPTED,
                                  f"session {notification.syncml_session_id} with {server_id}"
                                  + (" on the resync nonce" if nonce is NonceMatch.RESYNC else ""),
                                  notification, nonce)

    def _user_agrees(self, server_id: str) -> bool:
        """UI mode 3: the same policy that answers the server's UI alerts answers this."""
        prompt = Alert(cmd_id="0", code=AlertCode.CONFIRM_OR_REJECT,
                       items=[Item(data=""), Item(data=f"Start a session with {server_id}?")])
        code, _ = self.ui.answer(prompt)
        return code == StatusCode.OK

    async def _notified(self, record: NotificationRecord) -> SessionSummary:
        notification = record.notification
        assert notification is not None
        async with self._lock:
            if record.nonce is NonceMatch.RESYNC:
                self._store_srvcred_nonce(notification.server_id, RESYNC_NONCE)
            return await self._connect(notification.server_id, notification.syncml_session_id)

    def _store_srvcred_nonce(self, server_id: str, nonce: bytes) -> None:
        """The server has lost our nonce: its Cred will be built on `nonce`, and the
        session's 212 + Chal gives it a fresh one."""
        account = find_account(self.tree, server_id)
        credential = account.server_credential if account is not None else None
        if credential is not None:
            self.tree.replace(child_path(credential.path, "AAuthData"), None, value=nonce,
                              format="bin")

    # ------------------------------------------------------------------ listeners

    async def listen(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve `POST /notification` (standing in for WAP push); returns the bound port."""
        app = web.Application(client_max_size=MAX_NOTIFICATION)
        app.router.add_post(NOTIFICATION_PATH, self._on_http)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runners.append(runner)
        return runner.addresses[0][1]

    async def listen_udp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Take package 0 as bare UDP datagrams (no WDP/WSP headers); returns the port."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=(host, port))
        self._datagrams.append(transport)
        return transport.get_extra_info("sockname")[1]

    async def _on_http(self, request: web.Request) -> web.Response:
        if request.content_type != NOTIFICATION_TYPE:
            return web.Response(status=415, text=f"expected {NOTIFICATION_TYPE}\n")
        record = self.notify(await request.read(), via="http")
        return web.Response(status=_HTTP_STATUS[record.verdict], text=record.detail + "\n")

    # ------------------------------------------------------------------ running

    async def serve_forever(self) -> None:
        """Poll (if `poll_interval` is set) and serve the listeners until stop()."""
        if self.poll_interval:
            self._spawn(self._poll(self.poll_interval))
        await self._stopped.wait()

    async def stop(self) -> None:
        """Close the listeners and cancel polling and any session under way."""
        for runner in self._runners:
            await runner.cleanup()
        for transport in self._datagrams:
            transport.close()
        self._runners, self._datagrams = [], []
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._stopped.set()

    async def _poll(self, interval: float) -> None:
        """A session with every account not suppressed now, then every `interval` s."""
        while True:
            for account in accounts(self.tree):
                if account.suppress_session:
                    self._event(f"poll: {account.server_id} skipped (SuppressSession is true)")
                else:
                    await self._guarded(self.connect(account.server_id))
            await asyncio.sleep(interval)

    def _spawn(self, coro: Coroutine[object, object, SessionSummary | None]) -> asyncio.Task:
        task = asyncio.create_task(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, coro: Awaitable[SessionSummary | None]) -> SessionSummary | None:
        """A background session's failure is a logged line; the handset keeps running."""
        try:
            return await coro
        except (SessionError, HandsetError) as exc:
            self._event(f"no session: {exc}")
        except Exception:  # noqa: BLE001 - a bug in one session must not stop the handset
            logger.exception("session failed")
            self._event("session failed with an internal error (see the log)")
        return None

    def _event(self, text: str) -> None:
        logger.info(text)
        if self.on_event is not None:
            self.on_event(text)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, handset: Handset) -> None:
        self.handset = handset

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.handset.notify(data, via="udp")
