"""The handset's bootstrap fetcher: HTTPS to the bootstrap server, verify, install, report.

The request (this project's own; OMA pushes bootstraps, it does not define a fetch):

    POST <URL>        Content-Type: application/x-www-form-urlencoded
    devid=IMEI%3A358240051111110

is answered 200 with the signed bootstrap as the body (SEC and MAC in its content type),
or 4xx with a one-line text/plain reason. Once it has judged a bootstrap it was sent,
the fetcher tells the server, in a second POST to the same URL, so that the server's
log shows the handset's verdict next to what it served:

    devid=IMEI%3A…&outcome=installed|failed&reason=<text>

That report is not authenticated and changes nothing on the server but its log.

Only https:// is fetched, the server's certificate is verified against the trust store
given, and redirects are not followed (one could lead to http://).

Exec during a session: the session engine is sans-I/O and an Exec handler must not
block, so FetchQueue.exec_handler only records the request and answers 202. After the
session the Handset runs what take() returns through fetch_bootstrap, queues
fetch_report() as a Generic Alert for the server that asked, and opens a session to
each new server for which should_connect_after() is true.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from dmclient.bootstrap.errors import BootstrapError
from dmclient.bootstrap.install import device_id, install
from dmclient.bootstrap.mo import (FETCH, URL, State, ensure_bootstrap_mo, failed, read_url,
                                   set_state, write_url)
from dmclient.bootstrap.security import Secrets
from dmclient.session.executor import ExecHandler, ExecRequest, ExecResult, GenericReport
# The DM sessions' one-line network reasons, shared (a private name in dmclient.transport).
from dmclient.transport import failure_reason as network_reason
from dmclient.tree import Tree, UriError
from dmclient.tree.accounts import find_account
from dmclient.tree.uri import parse as parse_uri
from dmclient.wire import StatusCode

log = logging.getLogger("dmlab.bootstrap")

FORM = "application/x-www-form-urlencoded"
#: A bootstrap is one account: anything bigger is refused unread.
MAX_BOOTSTRAP = 64 * 1024
DEFAULT_TIMEOUT = 30.0
REPORT_TIMEOUT = 5.0
REPORT_TYPE = "Reversed-Domain-Name: org.dmlab.bootstrap.fetch"


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    state: str  # what the State leaf says now
    server_ids: tuple[str, ...] = ()  # the accounts installed

    @property
    def installed(self) -> bool:
        return self.state == State.INSTALLED

    @property
    def reason(self) -> str:
        """Why the fetch failed ("" when it did not)."""
        return "" if self.installed else self.state.partition(": ")[2]


@dataclass(frozen=True, slots=True)
class _Answer:
    body: bytes
    content_type: str


async def fetch_bootstrap(tree: Tree, url: str | None = None, *, http: aiohttp.ClientSession,
                          secrets: Secrets, ssl_context: ssl.SSLContext | None = None,
                          timeout: float = DEFAULT_TIMEOUT) -> FetchResult:
    """Fetch, verify and install the bootstrap at `url` (default: the URL leaf).

    `ssl_context` is the trust store (None: the system's); certificates are always
    verified. Progress goes into the State leaf; nothing else in the tree changes unless
    the bootstrap verifies and applies whole. Every failure is a FetchResult, except a
    tree that cannot hold the Bootstrap MO at all (BootstrapError).
    """
    ensure_bootstrap_mo(tree)
    if url is None:
        url = read_url(tree)
    else:
        write_url(tree, url)
    set_state(tree, State.FETCHING)
    try:
        _check_url(url)
        dev_id = device_id(tree)
        answer = await _request(http, url, dev_id, ssl_context, timeout)
    except BootstrapError as exc:
        return _finish(tree, url, failed(str(exc)))
    try:
        installed = install(tree, answer.body, answer.content_type, secrets)
    except BootstrapError as exc:
        result = _finish(tree, url, failed(str(exc)))
    else:
        result = _finish(tree, url, State.INSTALLED, installed.server_ids)
    await _report(http, url, dev_id, result, ssl_context)
    return result


def _check_url(url: str) -> None:
    if not url:
        raise BootstrapError(f"no bootstrap URL: {URL} is empty")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise BootstrapError(f"refusing {url!r}: not a URL ({exc})") from None
    if parts.scheme.lower() != "https":
        raise BootstrapError(f"refusing {url}: a bootstrap is fetched over HTTPS only")
    if not host:
        raise BootstrapError(f"refusing {url}: no host in the URL")


async def _request(http: aiohttp.ClientSession, url: str, dev_id: str,
                   ssl_context: ssl.SSLContext | None, timeout: float) -> _Answer:
    try:
        async with http.post(url, data={"devid": dev_id}, ssl=ssl_context or True,
                             allow_redirects=False,
                             timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            body = bytearray()
            async for chunk in response.content.iter_chunked(16 * 1024):
                body += chunk
                if len(body) > MAX_BOOTSTRAP:
                    raise BootstrapError(f"the answer from {url} is over {MAX_BOOTSTRAP} bytes")
            if response.status != 200:
                text = " ".join(bytes(body[:200]).decode("utf-8", "replace").split())
                raise BootstrapError(f"{url} answered HTTP {response.status}"
                                     + (f": {text}" if text else ""))
            return _Answer(bytes(body), response.headers.get("Content-Type", ""))
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise BootstrapError(network_reason(exc, url, timeout)) from None


def _finish(tree: Tree, url: str, state: str,
            server_ids: tuple[str, ...] = ()) -> FetchResult:
    set_state(tree, state)
    if state == State.INSTALLED:
        log.info("bootstrap from %s installed: %s", url, ", ".join(server_ids) or "no account")
    else:
        log.warning("bootstrap from %s %s", url or "(no URL)", state)
    return FetchResult(url, str(state), server_ids)


async def _report(http: aiohttp.ClientSession, url: str, dev_id: str, result: FetchResult,
                  ssl_context: ssl.SSLContext | None) -> None:
    """Tell the server what became of what it sent; a report that fails is only logged."""
    outcome = "installed" if result.installed else "failed"
    form = {"devid": dev_id, "outcome": outcome, "reason": result.reason}
    try:
        async with http.post(url, data=form, ssl=ssl_context or True, allow_redirects=False,
                             timeout=aiohttp.ClientTimeout(total=REPORT_TIMEOUT)):
            pass
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        log.info("could not report the outcome to %s: %s", url, exc)


# ---------------------------------------------------------------------- during a session

@dataclass(frozen=True, slots=True)
class FetchRequest:
    """An Exec on Fetch: who asked (the Generic Alert goes back to them) and its Correlator."""

    server_id: str
    correlator: str | None


class FetchQueue:
    """Holds the fetches a session asked for until the Handset runs them after it."""

    def __init__(self, fallback: ExecHandler | None = None) -> None:
        self.fallback = fallback
        self._pending: list[FetchRequest] = []

    def exec_handler(self, request: ExecRequest) -> ExecResult:
        """An ExecHandler: Exec on Fetch is queued (202); any other Exec goes to the fallback."""
        try:
            path = parse_uri(request.uri).path
        except UriError:
            path = None
        if path != FETCH:
            return self.fallback(request) if self.fallback is not None else ExecResult()
        self._pending.append(FetchRequest(request.server_id, request.correlator))
        return ExecResult(status=StatusCode.ACCEPTED)

    def take(self) -> list[FetchRequest]:
        """The queued requests, oldest first; the queue is empty afterwards."""
        taken, self._pending = self._pending, []
        return taken


def fetch_report(request: FetchRequest, result: FetchResult) -> GenericReport:
    """The Generic Alert 1226 that answers a 202'd Exec on Fetch: Data is the State text."""
    return GenericReport(uri=FETCH, correlator=request.correlator, data=result.state,
                         type=REPORT_TYPE, format="chr",
                         mark=None if result.installed else "critical")


def should_connect_after(tree: Tree, server_id: str) -> bool:
    """Open a client-initiated session to a newly installed server? Not if its account
    says Ext/SuppressSession is true (it waits for a package 0)."""
    account = find_account(tree, server_id)
    return account is not None and not account.suppress_session
