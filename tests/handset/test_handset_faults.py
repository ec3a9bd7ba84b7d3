"""Servers that misbehave at the HTTP level: the session ends with a clear one-line
reason, the handset never reads a hostile body whole, and the tree is unchanged."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

from aiohttp import web
from handset_support import XML, SpecHttpServer, point_at, raw_server, serving
from lxml import etree

from dmclient.handset import Handset, SessionSummary
from dmclient.transport import MAX_BODY
from dmclient.tree import Tree, load_profile

HUGE = 50 * 1024 * 1024


async def session_with(url: str, **options: object) -> tuple[SessionSummary, Tree, str]:
    """One client-initiated session against `url`; the tree's digest before it."""
    tree = Tree(load_profile("default"))
    point_at(tree, url)
    before = tree.digest()
    summary = await Handset(tree, **options).connect("dms1")
    return summary, tree, before


def assert_failed_cleanly(summary: SessionSummary, tree: Tree, before: str, why: str,
                          outcome: str = "transport_error") -> None:
    assert summary.outcome == outcome and why in summary.reason, summary.reason
    assert "\n" not in summary.reason
    assert tree.digest() == before


def test_a_50_mb_answer_is_not_read_whole(tmp_path: Path) -> None:
    written: list[int] = []

    async def huge(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": XML})
        response.content_length = HUGE
        await response.prepare(request)
        sent, chunk = 0, b"<" + b" " * (64 * 1024 - 1)
        try:
            while sent < HUGE:
                await response.write(chunk)
                sent += len(chunk)
        except ConnectionError:
            pass
        written.append(sent)
        return response

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/dm", huge)
        async with serving(app) as url:
            summary, tree, before = await session_with(url, trace_dir=tmp_path)
            assert_failed_cleanly(summary, tree, before, f"over the {MAX_BODY}-byte limit",
                                  outcome="protocol_error")
        index = json.loads((Path(summary.trace) / "index.json").read_text())
        assert [m["bytes"] for m in index["messages"] if m["direction"] == "in"] == [MAX_BODY + 1]
        # The handset said goodbye (Alert 1223) and hung up long before 50 MB.
        assert [m["direction"] for m in index["messages"]] == ["out", "in", "out"]
        assert written and max(written) < HUGE

    asyncio.run(main())


def test_a_server_that_hangs_up() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.close()

    async def main() -> None:
        async with raw_server(hang_up) as url:
            summary, tree, before = await session_with(url)
            assert_failed_cleanly(summary, tree, before, url)
            assert "closed the connection" in summary.reason or "reset" in summary.reason

    asyncio.run(main())


def test_http_500() -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/dm", broken)
        async with serving(app) as url:
            summary, tree, before = await session_with(url)
            assert_failed_cleanly(summary, tree, before, f"{url} answered HTTP 500")

    asyncio.run(main())


def test_nobody_listening_and_a_silent_server() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the handset gives up and closes

    async def main() -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        url = f"http://127.0.0.1:{closed_port}/dm"
        summary, tree, before = await session_with(url)
        assert_failed_cleanly(summary, tree, before, f"cannot connect to {url}")
        async with raw_server(silent) as url:
            summary, tree, before = await session_with(url, timeout=0.3)
            assert_failed_cleanly(summary, tree, before, f"no answer from {url} within 0.3 s")

    asyncio.run(main())


def test_resp_uri_is_followed() -> None:
    """The server names another URL in RespURI: the handset posts there next."""
    paths: list[str] = []

    async def main() -> None:
        server = SpecHttpServer(commands=[("Get", "./DevInfo/Mod")])
        async def moving(request: web.Request) -> web.Response:
            paths.append(request.path)
            answer = await server.handle(request)
            root = etree.fromstring(answer.body)
            source = root.find("{*}SyncHdr/{*}Source")
            resp_uri = etree.Element(f"{{{etree.QName(root).namespace}}}RespURI")
            resp_uri.text = server.url.replace("/dm", "/next")
            source.addnext(resp_uri)
            return web.Response(body=etree.tostring(root), content_type=XML)

        app = web.Application()
        app.router.add_post("/dm", moving)
        app.router.add_post("/next", moving)
        async with serving(app) as url:
            server.url = url
            summary, _, _ = await session_with(url)
            assert summary.outcome == "completed", summary.reason
        assert paths == ["/dm", "/next"]

    asyncio.run(main())


def test_an_address_that_is_no_url() -> None:
    async def main() -> None:
        summary, tree, before = await session_with("ftp://127.0.0.1:21/dm")
        assert_failed_cleanly(summary, tree, before, "not a usable http(s) URL")

    asyncio.run(main())
