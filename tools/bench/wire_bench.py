"""Time decode into the model, and encode from it, of a typical DM package in XML and WBXML.

    python tools/bench/wire_bench.py [--rounds N]

The message is a server package 2 of about 2 KB: header Status with a challenge, Status
for the client's Alert, Gets of DevInfo/DevDetail leaves, Replaces, an Exec and Final.
Prints microseconds per message and the WBXML/XML decode ratio measured in this run
(target: 1.0 or less).
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dmclient.wire import (  # noqa: E402
    Body,
    Exec,
    Get,
    Header,
    Item,
    Location,
    Message,
    Meta,
    Replace,
    Status,
    StatusCode,
    decode_wbxml,
    decode_xml,
    encode_wbxml,
    encode_xml,
)


def package2() -> Message:
    """A server's package 2, as a DM server sends it after a client-initiated Alert."""

    def target(uri: str) -> Item:
        return Item(target=Location(loc_uri=uri))

    gets = [
        Get(cmd_id=str(3 + n), items=[target(f"./DevInfo/{leaf}")])
        for n, leaf in enumerate(("DevId", "Man", "Mod"))
    ]
    gets.append(
        Get(
            cmd_id="6",
            items=[target(f"./DevDetail/{leaf}") for leaf in ("FwV", "SwV", "HwV")],
        )
    )
    replaces = [
        Replace(
            cmd_id="7",
            items=[
                Item(
                    target=Location(loc_uri=f"./DMAcc/dms1/{leaf}"),
                    meta=Meta(format="chr", type="text/plain"),
                    data=value,
                )
                for leaf, value in (
                    ("Name", "Lab DM server one"),
                    ("AAuthPref", "syncml:auth-md5"),
                    ("Ext/SuppressSession", "false"),
                )
            ],
        ),
        Replace(
            cmd_id="8",
            items=[
                Item(
                    target=Location(loc_uri="./Vendor/DMLab/Bootstrap/URL"),
                    meta=Meta(format="chr"),
                    data="https://bootstrap.lab.example/bs?token=8f14e45fceea167a5a36dedd4bea2543",
                )
            ],
        ),
    ]
    return Message(
        header=Header(
            session_id="1A2B",
            msg_id="1",
            target=Location(loc_uri="IMEI:493005100592800"),
            source=Location(loc_uri="https://dms1.lab.example:8443/dm", loc_name="dms1"),
            resp_uri="https://dms1.lab.example:8443/dm?sid=1A2B&mid=2",
            meta=Meta(max_msg_size=16384, max_obj_size=262144),
        ),
        body=Body(
            commands=[
                Status(
                    cmd_id="1",
                    msg_ref="1",
                    cmd_ref="0",
                    cmd="SyncHdr",
                    code=StatusCode.AUTHENTICATED,
                    target_refs=["https://dms1.lab.example:8443/dm"],
                    source_refs=["IMEI:493005100592800"],
                    chal=Meta(format="b64", type="syncml:auth-md5", next_nonce="ZG1zMS1uZXh0LW5vbmNl"),
                ),
                Status(cmd_id="2", msg_ref="1", cmd_ref="1", cmd="Alert", code=StatusCode.OK),
                *gets,
                *replaces,
                Exec(
                    cmd_id="9",
                    correlator="corr-0001",
                    item=Item(target=Location(loc_uri="./Vendor/DMLab/Bootstrap/Fetch"), data="now"),
                ),
            ],
            final=True,
        ),
    )


def _per_call_us(function, argument, rounds: int) -> float:
    """Best of five runs, in microseconds per call."""
    timer = timeit.Timer(lambda: function(argument))
    return min(timer.repeat(repeat=5, number=rounds)) / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="calls per timing run")
    rounds = parser.parse_args().rounds

    message = package2()
    xml, wbxml = encode_xml(message), encode_wbxml(message)
    assert decode_xml(xml) == message and decode_wbxml(wbxml) == message

    results = {
        "xml": (len(xml), _per_call_us(decode_xml, xml, rounds), _per_call_us(encode_xml, message, rounds)),
        "wbxml": (len(wbxml), _per_call_us(decode_wbxml, wbxml, rounds), _per_call_us(encode_wbxml, message, rounds)),
    }
    print(f"{'encoding':<8} {'bytes':>6} {'decode µs':>10} {'encode µs':>10}")
    for name, (size, decode_us, encode_us) in results.items():
        print(f"{name:<8} {size:>6} {decode_us:>10.1f} {encode_us:>10.1f}")
    ratio = results["wbxml"][1] / results["xml"][1]
    print(f"WBXML decode / XML decode = {ratio:.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
