"""A DM server starts a fetch with ordinary commands (Replace URL, Exec Fetch), learns the
outcome from State and a Generic Alert, and the new server then sees the handset.

The DM sessions run the real engines (handset and reference server) through bytes in
memory; the fetch runs over real HTTPS. What the Handset will do after a session is
done here by hand, in the order the fetcher's docstring gives.
"""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest
from bootstrap_support import (DEV_ID, IMSI, PIN, Pki, b64, dms2_account, handset_tree,
                               make_pki, registration, serving, state)

from dmclient.bootstrap import (FETCH, STATE, URL, FetchQueue, Secrets, fetch_bootstrap,
                                fetch_report, should_connect_after)
from dmclient.session import ClientSession, Ended, ExecRequest, ExecResult, Outcome
from dmclient.tree.accounts import find_account
from servers.dm import DeviceConfig, DMServer, Exec, Get, Job, Registry, Replace, ServerConfig


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("exec"))


def dm_server(server_id: str, secret: str, client_secret: str, client_nonce: bytes,
              server_nonce: bytes) -> DMServer:
    device = DeviceConfig(device_id=DEV_ID, client_secret=client_secret,
                          client_nonce=b64(client_nonce), server_secret=secret,
                          server_nonce=b64(server_nonce))
    config = ServerConfig(server_id=server_id, url=f"https://127.0.0.1/{server_id}",
                          devices=[device])
    ticks = itertools.count(1_700_000_000)
    return DMServer(config, Registry(), clock=lambda: float(next(ticks)))


def converse(session: ClientSession, server: DMServer) -> Ended:
    step = session.start()
    while not isinstance(step, Ended):
        reply = server.handle(step.body, content_type=step.content_type, headers=step.headers)
        step = session.receive(reply.body, reply.content_type, reply.headers)
    return step


@pytest.mark.parametrize("suppress", [False, True], ids=["connect", "suppressed"])
def test_exec_fetch_installs_reports_and_hands_over(pki: Pki, suppress: bool) -> None:
    async def scenario() -> None:
        async with serving(pki) as bootstrap:
            bootstrap.server.register(registration(
                account=dms2_account(suppress_session=suppress), secrets=Secrets(pin=PIN)))
            tree = handset_tree()
            dms1 = dm_server("dms1", "dms1-secret", "handset-secret", b"client-nonce-1",
                             b"server-nonce-1")
            queue = FetchQueue()

            # dms1 writes the URL and Execs Fetch: 202, nothing fetched during the session.
            job = dms1.queue_job(DEV_ID, Job([Replace(URL, bootstrap.url),
                                              Exec(FETCH, correlator="fetch-1"), Get(STATE)]))
            ended = converse(ClientSession(tree, "dms1", exec_handler=queue.exec_handler), dms1)
            assert ended.outcome is Outcome.COMPLETED, ended.reason
            record = dms1.job(job.job_id)
            assert [c.status for c in record.commands] == [200, 202, 200]
            assert record.commands[2].data == "idle"
            assert find_account(tree, "dms2") is None

            # After the session: the fetch.
            [request] = queue.take()
            assert (request.server_id, request.correlator) == ("dms1", "fetch-1")
            async with aiohttp.ClientSession() as http:
                result = await fetch_bootstrap(tree, http=http, secrets=Secrets(IMSI, PIN),
                                               ssl_context=pki.trust())
            assert result.installed and state(tree) == "installed"

            # The outcome goes back to dms1 as a Generic Alert echoing the Correlator.
            report = fetch_report(request, result)
            ended = converse(ClientSession(tree, "dms1", reports=(report,)), dms1)
            assert ended.outcome is Outcome.COMPLETED, ended.reason
            [alert] = dms1.generic_alerts(DEV_ID)
            assert (alert.code, alert.correlator, alert.source, alert.data) == \
                (1226, "fetch-1", FETCH, "installed")

            # Then a client-initiated session to the new server, unless suppressed.
            assert should_connect_after(tree, "dms2") is not suppress
            if not suppress:
                dms2 = dm_server("dms2", "dms2-secret", "handset-secret-2", b"client-nonce-2",
                                 b"server-nonce-2")
                ended = converse(ClientSession(tree, "dms2"), dms2)
                assert ended.outcome is Outcome.COMPLETED, ended.reason
                [session] = dms2.sessions(DEV_ID)
                assert session.initiator.value == "client"
    asyncio.run(scenario())


def test_other_execs_go_to_the_fallback() -> None:
    seen: list[str] = []

    def fallback(request: ExecRequest) -> ExecResult:
        seen.append(request.uri)
        return ExecResult(status=200)

    queue = FetchQueue(fallback)
    assert queue.exec_handler(ExecRequest("./Vendor/DMLab/Apps/x/Run", "", None, "dms1")) \
        == ExecResult(200)
    assert queue.exec_handler(ExecRequest("Vendor/DMLab/Bootstrap/Fetch", "", "c", "dms1")) \
        == ExecResult(202)
    assert seen == ["./Vendor/DMLab/Apps/x/Run"]
    assert len(queue.take()) == 1 and queue.take() == []


def test_the_mo_is_made_with_device_authority_and_inherits_dms1s_rights() -> None:
    tree = handset_tree()
    assert tree.can("dms1", "Replace", URL).allowed
    assert tree.can("dms1", "Exec", FETCH).allowed
    assert tree.can("dms1", "Get", STATE).allowed
    assert not tree.can("dms1", "Replace", STATE).allowed  # only the handset writes State
    assert not tree.can("dms2", "Exec", FETCH).allowed
    assert state(tree) == "idle"
