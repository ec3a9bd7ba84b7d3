"""DM session benchmark: CPU per session on each side, and sessions per second on loopback.

    python tools/bench/session_bench.py [--handsets 50] [--seconds 10] [--encoding wbxml]

A typical session is packages 1 to 4 with a job of 5 Gets and 2 Replaces, md5 both ways.

1. CPU per session: the handset's engine and the reference server's engine paired in
   memory (no sockets), timing each side's calls separately.
2. Sessions per second: the reference DM server (aiohttp, in-memory SQLite) in its own
   process, and N concurrent handsets in this one, each running back-to-back sessions
   over loopback HTTP. The two processes share the machine's 2 cores; each one's CPU per
   session shows which of them limits the rate, and how much of it HTTP takes.
3. Where the time goes: a profile of the in-memory pairing, top functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import multiprocessing
import os
import pstats
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aiohttp  # noqa: E402

from dmclient.session import ClientSession, Ended  # noqa: E402
from dmclient.tree import Tree, load_profile  # noqa: E402
from dmclient.wire import Encoding  # noqa: E402
from servers.dm import DeviceConfig, DMServer, Get, Job, Registry, Replace, ServerConfig  # noqa: E402

JOB = Job([Get("./DevInfo/Mod"), Get("./DevInfo/Man"), Get("./DevDetail/FwV"),
           Get("./DevDetail/SwV"), Get("./Vendor/DMLab/Settings/Greeting"),
           Replace("./Vendor/DMLab/Settings/Greeting", "benchmark"),
           Replace("./Vendor/DMLab/Settings/PollInterval", "15", format="int")])


def devid(n: int) -> str:
    return f"IMEI:{490000000000000 + n}"


def device(n: int) -> DeviceConfig:
    return DeviceConfig(device_id=devid(n), client_auth="DIGEST", client_secret="handset-secret",
                        client_nonce="Y2xpZW50LW5vbmNlLTE=", server_auth="DIGEST",
                        server_secret="dms1-secret", server_nonce="c2VydmVyLW5vbmNlLTE=")


def server_config(count: int, url: str, encoding: Encoding) -> ServerConfig:
    return ServerConfig(server_id="dms1", url=url, listen=url.split("/")[2],
                        encoding=encoding, jobs_per_session=1,
                        devices=[device(n) for n in range(count)])


def handset(n: int, url: str) -> Tree:
    tree = Tree(load_profile("default"))
    for uri, value in (("./DevInfo/DevId", devid(n)),
                       ("./DMAcc/dms1/AppAuth/ClientSide/AAuthName", devid(n)),
                       ("./DMAcc/dms1/AppAddr/1/Addr", url)):
        tree._overlay[uri] = tree.node(uri).evolve(value=value)  # the handset's identity
    return tree


# ------------------------------------------------------------------ 1. CPU per session

def in_memory(sessions: int, encoding: Encoding) -> tuple[float, float]:
    url = "http://127.0.0.1:1/dm"
    clock = itertools.count(1_700_000_000)
    server = DMServer(server_config(1, url, encoding), Registry(),
                      clock=lambda: float(next(clock)))
    tree = handset(0, url)
    client_time = server_time = 0.0
    for _ in range(sessions):
        server.queue_job(devid(0), JOB)
        session = ClientSession(tree, "dms1", encoding=encoding)
        t0 = time.process_time()
        step = session.start()
        client_time += time.process_time() - t0
        while not isinstance(step, Ended):
            t0 = time.process_time()
            reply = server.handle(step.body, content_type=step.content_type,
                                  headers=step.headers)
            t1 = time.process_time()
            step = session.receive(reply.body, reply.content_type, reply.headers)
            t2 = time.process_time()
            server_time += t1 - t0
            client_time += t2 - t1
        assert step.outcome.value == "completed", step.reason
    return client_time / sessions, server_time / sessions


# ------------------------------------------------------------------ 2. sessions per second

def _serve(port: int, count: int, encoding: str, ready: multiprocessing.Event,
           stop: multiprocessing.Event, jobs_per_device: int, cpu: multiprocessing.Value) -> None:
    """The server process; `cpu` gets the CPU seconds it used between ready and stop."""
    from servers.http import start_dm

    async def main() -> None:
        url = f"http://127.0.0.1:{port}/dm"
        server = DMServer(server_config(count, url, Encoding(encoding)), Registry(),
                          clock=time.time)
        for n in range(count):
            for _ in range(jobs_per_device):
                server.queue_job(devid(n), JOB)
        runner, _ = await start_dm(server)
        started = time.process_time()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        cpu.value = time.process_time() - started
        await runner.cleanup()

    asyncio.run(main())


async def _drive(trees: list[Tree], seconds: float, encoding: Encoding) -> tuple[int, int]:
    done = failed = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def one(tree: Tree) -> None:
            nonlocal done, failed
            while time.monotonic() < deadline:
                session = ClientSession(tree, "dms1", encoding=encoding)
                step = session.start()
                while not isinstance(step, Ended):
                    async with http.post(step.url, data=step.body,
                                         headers={"Content-Type": step.content_type,
                                                  **step.headers}) as response:
                        body = await response.read()
                        step = session.receive(body, response.headers.get("Content-Type", ""),
                                               response.headers)
                if step.outcome.value == "completed":
                    done += 1
                else:
                    failed += 1
        await asyncio.gather(*(one(t) for t in trees))
    return done, failed


def over_loopback(count: int, seconds: float,
                  encoding: Encoding) -> tuple[float, int, float, float]:
    """(sessions/s, failed sessions, CPU seconds per session in the handsets' process,
    and in the server's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    server_cpu = multiprocessing.Value("d", 0.0)
    jobs = int(seconds * 2500 / count) + 10  # more than the server can run in `seconds`
    process = multiprocessing.Process(target=_serve, args=(port, count, encoding.value, ready,
                                                           stop, jobs, server_cpu), daemon=True)
    process.start()
    try:
        if not ready.wait(120):
            raise RuntimeError("the server did not start")
        url = f"http://127.0.0.1:{port}/dm"
        trees = [handset(n, url) for n in range(count)]
        start, cpu = time.monotonic(), time.process_time()
        done, failed = asyncio.run(_drive(trees, seconds, encoding))
        rate = done / (time.monotonic() - start)
        client_cpu = time.process_time() - cpu
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.kill()
    sessions = max(done + failed, 1)
    return rate, failed, client_cpu / sessions, server_cpu.value / sessions


# ------------------------------------------------------------------ 3. where the time goes

def profile(sessions: int, encoding: Encoding, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    in_memory(sessions, encoding)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    print(f"\n3. Where the time goes (in-memory pairing, {sessions} sessions, own time)")
    for (path, line, name), (_, _, own, _, _) in rows:
        where = f"{Path(path).parent.name}/{Path(path).name}:{line}" if path != "~" else "builtin"
        print(f"   {own / total * 100:5.1f}%  {name:<28} {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--handsets", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--encoding", choices=["xml", "wbxml"], default="wbxml")
    args = parser.parse_args()
    encoding = Encoding(args.encoding)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {encoding.value}, "
          "md5 both ways, job of 5 Gets + 2 Replaces")

    for enc in (Encoding.XML, Encoding.WBXML):
        in_memory(20, enc)  # warm up
        client, server = in_memory(300, enc)
        print(f"\n1. CPU per session, in memory ({enc.value}): handset {client * 1e6:,.0f} µs, "
              f"server {server * 1e6:,.0f} µs, both {(client + server) * 1e6:,.0f} µs "
              f"(= {1 / (client + server):,.0f} sessions/s on one core)")

    rate, failed, client_cpu, server_cpu = over_loopback(args.handsets, args.seconds, encoding)
    print(f"\n2. Over loopback HTTP: {args.handsets} concurrent handsets (one process) against "
          f"the reference server (another process), {args.seconds:.0f} s")
    print(f"   {rate:,.0f} sessions/s completed ({failed} failed); target 1,000/s; "
          f"a 100,000-device fleet polling every minute needs 1,670/s "
          f"(ratio {rate / 1000:.2f} of target)")
    print(f"   CPU per session: handsets' process {client_cpu * 1e6:,.0f} µs, server process "
          f"{server_cpu * 1e6:,.0f} µs (their engines as in 1., the rest is HTTP and asyncio); "
          f"the one near {1e6 / rate:,.0f} µs, a session's wall time, is saturated")
    profile(200, encoding, 15)


if __name__ == "__main__":
    main()
