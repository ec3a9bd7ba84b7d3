"""What the wire tests share: where the corpus is, and a driver for the libwbxml tools."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dmclient.wire import Body, Cred, Header, Item, Location, Message, Meta, Replace, Status, StatusCode

CORPUS = Path(__file__).parent / "corpus"
CORPUS_XML = sorted(CORPUS.glob("*.xml"))
TOLERANT_XML = sorted((CORPUS / "tolerant").glob("*.xml"))


class Libwbxml:
    """xml2wbxml / wbxml2xml from Debian's libwbxml2-utils, run on files in tmp_path."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def _run(self, tool: str, options: list[str], data: bytes, suffix: str) -> bytes:
        source = self.workdir / f"in{suffix}"
        target = self.workdir / "out"
        source.write_bytes(data)
        subprocess.run([tool, *options, "-o", str(target), str(source)], check=True, capture_output=True, timeout=30)
        return target.read_bytes()

    def xml2wbxml(self, xml: bytes, string_table: bool = True) -> bytes:
        return self._run("xml2wbxml", [] if string_table else ["-n"], xml, ".xml")

    def wbxml2xml(self, wbxml: bytes) -> bytes:
        return self._run("wbxml2xml", ["-m", "0"], wbxml, ".wbxml")


def small_message() -> Message:
    """A short client message touching header, Cred, Meta, Status, Item and escaping."""
    return Message(
        header=Header(
            session_id="1",
            msg_id="2",
            target=Location(loc_uri="http://s/dm"),
            source=Location(loc_uri="IMEI:1", loc_name="u"),
            cred=Cred(meta=Meta(format="b64", type="syncml:auth-basic"), data="dTpw"),
            meta=Meta(max_msg_size=16384),
        ),
        body=Body(
            commands=[
                Status(cmd_id="1", msg_ref="1", cmd_ref="0", cmd="SyncHdr", code=StatusCode.OK, target_refs=["IMEI:1"]),
                Replace(
                    cmd_id="2",
                    items=[Item(source=Location(loc_uri="./DevInfo/Mod"), meta=Meta(format="chr"), data="a<b&c\r")],
                ),
            ],
            final=True,
        ),
    )
