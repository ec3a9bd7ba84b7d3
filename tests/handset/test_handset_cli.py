"""`dmlab handset` and `dmlab trace` as a new user runs them: real processes, real
sockets, against a DM server written only from the spec."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
from handset_support import (GREETING, SUPPRESS, SpecHttpServer, dmlab, make_pki,
                             one_line_error, point_store_at, serving)

from dmclient.notification import Notification, encode
from dmclient.tree import TreeStore


async def new_store(tmp_path: Path, url: str) -> Path:
    store = tmp_path / "handset.sqlite"
    code, _, err = await dmlab("tree", "init", "--store", str(store))
    assert code == 0, err
    point_store_at(store, url)
    return store


def test_connect_completes_a_session_and_traces_it(tmp_path: Path) -> None:
    traces = tmp_path / "traces"

    async def main() -> None:
        server = SpecHttpServer(commands=[("Get", "./DevInfo/Mod"),
                                          ("Replace", GREETING, "set by a stranger"),
                                          ("Get", "./No/Such/Node")])
        async with serving(server.app()) as url:
            server.url = url
            store = await new_store(tmp_path, url)
            code, out, err = await dmlab("handset", "connect", "--store", str(store),
                                         "--server-id", "dms1", "--json", "--trace", str(traces))
            assert code == 0, err
            summary = json.loads(out)
            assert summary["outcome"] == "completed" and summary["initiator"] == "client"
            assert [(c["cmd"], c["target"], c["status"]) for c in summary["commands"]] == [
                ("Get", "./DevInfo/Mod", 200), ("Replace", GREETING, 200),
                ("Get", "./No/Such/Node", 404)]
            assert Path(summary["trace"]).parent == traces
            with TreeStore(store) as s:  # the change persisted in the store
                assert s.open_handset().get(GREETING).value == "set by a stranger"

            files = sorted(p.name for p in Path(summary["trace"]).iterdir())
            assert files == ["001-out.xml", "002-in.xml", "003-out.xml", "004-in.xml",
                             "index.json"]
            code, shown, err = await dmlab("trace", "show", str(traces))
            assert code == 0, err
            assert f"session {summary['session_id']} with dms1, client-initiated" in shown
            assert "handset → dms1  MsgID 1 [Cred syncml:auth-md5]: Alert 1201, " \
                   "Replace ./DevInfo (" in shown
            assert "dms1 → handset  MsgID 1 [Cred syncml:auth-md5]: Status SyncHdr 212, " \
                   "Status Alert 200, Status Replace 200, Get ./DevInfo/Mod, Replace " \
                   f"{GREETING}, Get ./No/Such/Node, Final" in shown
            assert "Status Get ./No/Such/Node 404" in shown and "Results ./DevInfo/Mod" in shown

    asyncio.run(main())


def test_https_needs_a_trusted_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)

    async def main() -> None:
        server = SpecHttpServer(commands=[("Get", "./DevInfo/Man")])
        async with serving(server.app(), tls=pki.server_tls) as url:
            server.url = url
            store = await new_store(tmp_path, url)
            args = ("handset", "connect", "--store", str(store), "--server-id", "dms1")
            code, _, err = await dmlab(*args)
            assert code == 1
            assert "TLS: the certificate of https://127.0.0.1:" in one_line_error(err)
            assert not server.requests
            code, out, err = await dmlab(*args, "--ca", str(pki.ca_file))
            assert code == 0, err
            assert "completed" in out.splitlines()[0] and "Get" in out

    asyncio.run(main())


def test_refusals_are_one_line(tmp_path: Path) -> None:
    async def main() -> None:
        server = SpecHttpServer()
        async with serving(server.app()) as url:
            store = await new_store(tmp_path, url)
            with TreeStore(store) as s:
                s.open_handset().replace(SUPPRESS, None, value="true")
            code, _, err = await dmlab("handset", "connect", "--store", str(store),
                                       "--server-id", "dms1")
            assert code == 1 and "suppressed" in one_line_error(err)
            code, _, err = await dmlab("handset", "connect", "--server-id", "nobody")
            assert code == 1 and "no DM account for ServerID 'nobody'" in one_line_error(err)
            code, _, err = await dmlab("trace", "show", str(tmp_path))
            assert code == 1 and "no session traces" in one_line_error(err)
            assert not server.requests

    asyncio.run(main())


def test_run_serves_package0_until_sigterm(tmp_path: Path) -> None:
    async def main() -> None:
        server = SpecHttpServer(commands=[("Replace", GREETING, "pushed")])
        async with serving(server.app()) as url:
            server.url = url
            store = await new_store(tmp_path, url)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "dmclient.cli", "handset", "run", "--store", str(store),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            try:
                first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
                assert first.startswith("listening for package 0 on http://127.0.0.1:")
                listener = first.split()[-1]
                package0 = encode(Notification(session_id=0xBEEF, server_id="dms1"),
                                  "dms1-secret", b"server-nonce-1")
                async with aiohttp.ClientSession() as http:
                    async with http.post(listener, data=package0, headers={
                            "Content-Type": "application/vnd.syncml.notification"}) as answer:
                        assert answer.status == 202
                lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
                         for _ in range(2)]
                assert "accepted" in lines[0]
                assert lines[1].startswith("session BEEF with dms1 (server-initiated): completed")
            finally:
                proc.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(proc.communicate(), 30)
            assert proc.returncode == 0, err.decode()
            assert out.decode().strip().endswith("stopped")
            with TreeStore(store) as s:
                assert s.open_handset().get(GREETING).value == "pushed"

    asyncio.run(main())
