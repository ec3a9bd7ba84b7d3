"""The delegation lab on loopback, in one asyncio loop: what `dmlab demo` runs.

A bootstrap server, DMS-1 (`dms1`) and DMS-2 (`dms2`), each with a DM endpoint over
HTTPS and a delegation endpoint with mutual TLS, all with certificates from one lab CA,
and one handset from the default profile that listens for package 0 and knows the
bootstrap PIN. `Lab.delegate` runs one delegation and reports it as the design's
`dmlab demo --json` contract.

    ca = lab_ca(directory)
    async with Lab(ca) as lab:
        run = await lab.delegate(1, DelType.FULL)
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp
from aiohttp import web

from dmclient.bootstrap import Secrets
from dmclient.handset import NOTIFICATION_PATH, Handset
from dmclient.tree import Tree, load_profile
from dmclient.tree.accounts import accounts
from dmclient.wire import Encoding
from servers.bootstrap import SERVER_KEY as BOOTSTRAP_KEY
from servers.bootstrap import BootstrapConfig, start_bootstrap
from servers.delegation.engine import Status
from servers.delegation.link import DELEGATION_PATH, link_app
from servers.delegation.messages import DelType, Failure, Message
from servers.delegation.methods import METHODS, Role
from servers.delegation.service import BootstrapSite, DelegationService, Outcome
from servers.delegation.store import DelegationStore
from servers.dm import DeviceConfig, DMServer, Registry, ServerConfig
from servers.http import listen_address, start_dm
from servers.pki import Issued, LabCA, client_context, server_context

SERVERS = ("dms1", "dms2", "bootstrap")
PIN = "1234"
PATHS = ("./Vendor/DMLab",)
#: The default profile's account for dms1, as dms1 knows the handset.
DMS1_DEVICE = {"client_secret": "handset-secret", "client_nonce": "Y2xpZW50LW5vbmNlLTE=",
               "server_secret": "dms1-secret", "server_nonce": "c2VydmVyLW5vbmNlLTE="}
_SESSION = re.compile(r"session \S+ with (\S+) \((client|server)-initiated\): (\w+)")
_BOOTSTRAP = re.compile(r"bootstrap from (\S+): (.*)")


def lab_ca(directory: str | Path) -> LabCA:
    """A lab CA in `directory` with a certificate for each lab server."""
    ca = LabCA.create(directory)
    for server_id in SERVERS:
        ca.issue(server_id)
    return ca


async def start_link(service: DelegationService, issued: Issued, ca_file: Path,
                     listen: str = "127.0.0.1:0") -> tuple[web.AppRunner, str]:
    """The server's delegation endpoint (mutual TLS) feeding `service`; the runner and
    the endpoint's URL."""
    runner = web.AppRunner(link_app(service.me, service.sink), access_log=None)
    await runner.setup()
    host, port = listen_address(listen)
    site = web.TCPSite(runner, host, port,
                       ssl_context=server_context(issued, client_ca=ca_file))
    await site.start()
    shown = f"[{host}]" if ":" in host else host
    return runner, f"https://{shown}:{runner.addresses[-1][1]}{DELEGATION_PATH}"


def describe(message: Message) -> str:
    """One server-to-server message, as the lab says it."""
    body = message.body
    detail = f" (step {body.step}: {body.text})" if isinstance(body, Failure) else ""
    return f"{message.sender} -> {message.receiver}: {message.kind.value}{detail}"


def _issued(ca: LabCA, server_id: str) -> Issued:
    return Issued(server_id, ca.directory / f"{server_id}.pem",
                  ca.directory / f"{server_id}.key")


@dataclass
class Run:
    """One delegation, as `dmlab demo --json` reports it."""

    method: int
    type: DelType
    outcome: str
    failure: dict[str, Any] | None
    messages: list[dict[str, str]]
    sessions: list[dict[str, str]]
    accounts_before: list[str]
    accounts_after: list[str]
    tree_before: str
    tree_after: str
    acls_before: dict[str, str] = field(repr=False)
    acls_after: dict[str, str] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "type": self.type.value.lower(),
                "outcome": self.outcome, "failure": self.failure,
                "messages": self.messages, "sessions": self.sessions,
                "accounts_before": self.accounts_before,
                "accounts_after": self.accounts_after,
                "tree_before": self.tree_before, "tree_after": self.tree_after}


@dataclass
class LabHandset:
    """One handset of the lab: its tree, the running Handset, what it did."""

    tree: Tree
    handset: Handset
    device_id: str
    notify_url: str = ""
    sessions: list[dict[str, str]] = field(default_factory=list)


class Lab:
    """Every lab server and the handsets, started on entry and stopped on exit."""

    def __init__(self, ca: LabCA, *, encoding: Encoding = Encoding.XML,
                 fail_at: int | None = None, step_timeout: float = 5.0,
                 say: Callable[[str], None] | None = None, handsets: int = 1) -> None:
        self.ca = ca
        self.encoding = encoding
        self.fail_at = fail_at
        self.step_timeout = step_timeout
        self.say = say or (lambda text: None)
        self.handsets = [self._make_handset(n) for n in range(handsets)]
        self.services: dict[str, DelegationService] = {}
        self.messages: list[Message] = []
        self._runners: list[web.AppRunner] = []
        self._http: aiohttp.ClientSession | None = None
        self.notify_url = ""

    def _make_handset(self, number: int) -> LabHandset:
        """Handset 0 is the default profile's; the others get their own DevId."""
        tree = Tree(load_profile("default"))
        device_id = str(tree.get("./DevInfo/DevId").value)
        if number:
            device_id = f"IMEI:35824005{number:07d}"
            for uri in ("./DevInfo/DevId", "./DMAcc/dms1/AppAuth/ClientSide/AAuthName"):
                tree.replace(uri, None, value=device_id)  # the handset's own identity
        lab_handset = LabHandset(tree, Handset(tree, encoding=self.encoding,
                                               ca_file=str(self.ca.ca_file),
                                               bootstrap_secrets=Secrets(pin=PIN)), device_id)
        lab_handset.handset.on_event = lambda text: self._handset(lab_handset, text)
        return lab_handset

    @property
    def tree(self) -> Tree:
        return self.handsets[0].tree

    @property
    def handset(self) -> Handset:
        return self.handsets[0].handset

    @property
    def device_id(self) -> str:
        return self.handsets[0].device_id

    # ------------------------------------------------------------------ up and down

    async def __aenter__(self) -> "Lab":
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        for lab_handset in self.handsets:
            port = await lab_handset.handset.listen()
            lab_handset.notify_url = f"http://127.0.0.1:{port}{NOTIFICATION_PATH}"
        boot = _issued(self.ca, "bootstrap")
        runner, port = await start_bootstrap(BootstrapConfig(
            url="https://127.0.0.1:0/bootstrap", listen="127.0.0.1:0",
            tls_cert=str(boot.cert), tls_key=str(boot.key)))
        self._runners.append(runner)
        self.bootstrap_server = runner.app[BOOTSTRAP_KEY]
        site = BootstrapSite(f"https://127.0.0.1:{port}/bootstrap", f"https://127.0.0.1:{port}",
                             PIN)
        self._http = aiohttp.ClientSession()
        dms1 = await self._dm("dms1", [DeviceConfig(device_id=h.device_id,
                                                    notify_url=h.notify_url, **DMS1_DEVICE)
                                       for h in self.handsets], None)
        await self._dm("dms2", [], site)
        for lab_handset in self.handsets:
            lab_handset.tree.replace("./DMAcc/dms1/AppAddr/1/Addr", None, value=dms1.config.url)
        links = {}
        for server_id, service in self.services.items():
            runner, links[server_id] = await start_link(service, _issued(self.ca, server_id),
                                                        self.ca.ca_file)
            self._runners.append(runner)
        for server_id, service in self.services.items():
            service.peers.update({peer: url for peer, url in links.items() if peer != server_id})
            service.run()

    async def _dm(self, server_id: str, devices: list[DeviceConfig],
                  bootstrap: BootstrapSite | None) -> DMServer:
        """A DM server with its delegation service (peers to come)."""
        assert self._http is not None
        issued = _issued(self.ca, server_id)
        config = ServerConfig(server_id=server_id, url="https://127.0.0.1:0/dm",
                              listen="127.0.0.1:0", tls_cert=str(issued.cert),
                              tls_key=str(issued.key), encoding=self.encoding, devices=devices)
        server = DMServer(config, Registry(), clock=time.time)
        self.services[server_id] = DelegationService(
            server, http=self._http, tls=client_context(self.ca.ca_file, issued), peers={},
            store=DelegationStore(), bootstrap=bootstrap, step_timeout=self.step_timeout,
            fail_at=self.fail_at, on_message=self._message, say=self.say)
        runner, port = await start_dm(server, self.services[server_id])
        self._runners.append(runner)
        config.url = f"https://127.0.0.1:{port}/dm"
        return server

    async def __aexit__(self, *exc_info: object) -> None:
        for service in self.services.values():
            await service.close()
            service.store.close()
        for lab_handset in self.handsets:
            await lab_handset.handset.stop()
        if self._http is not None:
            await self._http.close()
        for runner in reversed(self._runners):
            await runner.cleanup()

    # ------------------------------------------------------------------ what happens

    def _message(self, message: Message) -> None:
        self.messages.append(message)
        self.say(describe(message))

    def _handset(self, lab_handset: LabHandset, text: str) -> None:
        session, bootstrap = _SESSION.search(text), _BOOTSTRAP.match(text)
        if session:
            lab_handset.sessions.append({"server": session[1], "initiator": session[2],
                                         "outcome": session[3]})
        elif bootstrap:
            lab_handset.sessions.append({"bootstrap": bootstrap[1], "outcome": bootstrap[2]})
        if session or bootstrap or text.startswith("package 0"):
            self.say(f"handset: {text}")

    @staticmethod
    def acls(tree: Tree) -> dict[str, str]:
        return {path: node.acl for path, node in tree.walk() if node.acl}

    @staticmethod
    def accounts(tree: Tree) -> list[str]:
        return sorted(account.server_id for account in accounts(tree))

    # ------------------------------------------------------------------ one delegation

    async def delegate(self, method: int, del_type: DelType, *, timeout: float = 30.0,
                       handset: int = 0) -> Run:
        """One delegation of a handset, started by the method's initiator."""
        lab_handset = self.handsets[handset]
        tree = lab_handset.tree
        before = (tree.digest(), self.accounts(tree), self.acls(tree))
        lab_handset.sessions.clear()
        first = "dms1" if METHODS[method].initiator is Role.DMS1 else "dms2"
        second = "dms2" if first == "dms1" else "dms1"
        delegation_id = await self.services[first].start(
            lab_handset.device_id, second, method, del_type, PATHS,
            notification_address=lab_handset.notify_url)
        outcomes = [await asyncio.wait_for(self.services[first].finished(delegation_id), timeout)]
        if delegation_id in self.services[second].outcomes:
            outcomes.append(await asyncio.wait_for(
                self.services[second].finished(delegation_id), timeout))
        sessions = [r.session for r in lab_handset.handset.notifications if r.session]
        await asyncio.gather(*sessions, return_exceptions=True)  # the handset is idle
        messages = [m for m in self.messages if m.delegation_id == delegation_id]
        rolled_back = any(o.status is Status.ROLLED_BACK for o in outcomes)
        return Run(method, del_type, "rolled_back" if rolled_back else "confirmed",
                   self._failure(messages, outcomes),
                   [{"from": m.sender, "to": m.receiver, "kind": m.kind.value}
                    for m in messages],
                   list(lab_handset.sessions), before[1], self.accounts(tree), before[0],
                   tree.digest(), before[2], self.acls(tree))

    @staticmethod
    def _failure(messages: list[Message], outcomes: list[Outcome]) -> dict[str, Any] | None:
        """The first DELEGATION_FAILURE sent says where and why; else (a nack, a lost
        peer, a failure past completion) the first side that recorded one."""
        for message in messages:
            if isinstance(message.body, Failure):
                return {"step": message.body.step, "reason": message.body.text}
        failed = next((o for o in outcomes if o.step is not None), None)
        return {"step": failed.step, "reason": failed.reason} if failed else None
