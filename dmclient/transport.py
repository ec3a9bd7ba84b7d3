"""HTTP(S) for the client session engine: post what it says, hand back what comes in.

The engine is sans-I/O; this is the only place the handset's DM sessions touch the
network. Every way the network can fail (refused, reset, timed out, an untrusted
certificate, a non-2xx answer) ends the session with a one-line reason instead of an
exception, and no response is read past `max_body` + 1 bytes, so a hostile server
cannot make the handset buffer 50 MB: the engine sees an over-limit body and refuses it.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import aiohttp

from dmclient.session import ClientSession, Ended, Send
from dmclient.session.engine import MAX_INBOUND

#: Responses are read up to this size (plus one byte, so the engine can tell "over").
MAX_BODY = MAX_INBOUND
DEFAULT_TIMEOUT = 30.0
FAREWELL_TIMEOUT = 5.0
_CHUNK = 64 * 1024


class TransportError(Exception):
    """The network failed the session, or the trust store cannot be used; one line."""


class Recorder(Protocol):
    """Who keeps a copy of every message (a trace)."""

    def record(self, direction: str, body: bytes, *, url: str, content_type: str,
               at: float) -> None: ...


@dataclass(frozen=True, slots=True)
class _Reply:
    body: bytes
    content_type: str
    headers: dict[str, str]


@lru_cache(maxsize=16)
def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system trust store, or only the CAs in `ca_file`.
    Shared by every handset with the same trust store (a fleet loads it once)."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError:
        raise TransportError(f"cannot load trust store {ca_file}: no PEM CA certificate "
                             "in it") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise TransportError(f"cannot load trust store {ca_file}: {reason}") from None


async def run_session(session: ClientSession, http: aiohttp.ClientSession, *,
                      tls: ssl.SSLContext | None = None, timeout: float = DEFAULT_TIMEOUT,
                      max_body: int = MAX_BODY, recorder: Recorder | None = None) -> Ended:
    """Drive `session` from package 1 to its end over HTTP(S).

    The engine moves `Send.url` to the server's RespURI itself, so following it is just
    posting where told. Redirects are not followed: a DM server uses RespURI.
    """
    step: Send | Ended = session.start()
    while isinstance(step, Send):
        _record(recorder, "out", step.body, step.url, step.content_type)
        try:
            reply = await _post(http, step, tls=tls, timeout=timeout, max_body=max_body)
        except TransportError as exc:
            return session.fail(str(exc))
        _record(recorder, "in", reply.body, step.url, reply.content_type)
        step = session.receive(reply.body, reply.content_type, reply.headers)
    if step.farewell is not None:
        farewell = step.farewell
        _record(recorder, "out", farewell.body, farewell.url, farewell.content_type)
        try:
            await _post(http, farewell, tls=tls, timeout=min(timeout, FAREWELL_TIMEOUT),
                       max_body=0)
        except TransportError:
            pass  # the session is over either way; the abort is a courtesy
    return step


async def _post(http: aiohttp.ClientSession, send: Send, *, tls: ssl.SSLContext | None,
               timeout: float, max_body: int) -> _Reply:
    """One request and its answer, read up to `max_body` + 1 bytes; TransportError else."""
    headers = {"Content-Type": send.content_type, **send.headers}
    try:
        async with http.post(send.url, data=send.body, headers=headers,
                             ssl=tls if tls is not None else True, allow_redirects=False,
                             timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if not 200 <= response.status < 300:
                raise TransportError(f"{send.url} answered HTTP {response.status} "
                                     f"{response.reason or ''}".rstrip())
            body = await _read_capped(response.content, max_body)
            if len(body) > max_body:
                response.close()  # drop the connection rather than drain the rest
            return _Reply(body, response.headers.get("Content-Type", ""), dict(response.headers))
    except TransportError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise TransportError(failure_reason(exc, send.url, timeout)) from None


def _record(recorder: Recorder | None, direction: str, body: bytes, url: str,
            content_type: str) -> None:
    if recorder is not None:
        recorder.record(direction, body, url=url, content_type=content_type, at=time.time())


async def _read_capped(content: aiohttp.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while len(body) <= limit:
        chunk = await content.read(min(_CHUNK, limit + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    return bytes(body)


def failure_reason(exc: BaseException, url: str, timeout: float) -> str:
    """What went wrong, in one line a user can act on."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        why = getattr(cert, "verify_message", None) or getattr(cert, "reason", None) or cert
        return f"TLS: the certificate of {url} is not trusted: {why}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS handshake with {url} failed: {_one_line(exc)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = exc.os_error.errno
        return f"cannot connect to {url}: {os.strerror(errno) if errno else exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{url} closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"the answer from {url} was cut off: {_one_line(exc)}"
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer from {url} within {timeout:g} s"
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return f"cannot post to {url!r}: not a usable http(s) URL"
    return f"HTTP exchange with {url} failed: {_one_line(exc) or type(exc).__name__}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
