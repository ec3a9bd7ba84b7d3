"""Regenerate the SyncML DM message corpus of the wire tests: `python tools/wire_corpus.py`.

Writes, under tests/wire/corpus/:
- `<name>.xml`: DM messages that between them hold every command and every MetInf
  field, written the way real peers write them (DOCTYPE, indentation, `syncml:metinf`
  declared on each Meta child). Written by hand here, not by dmclient.wire, so that
  the codec is checked against something it did not produce.
- `<name>.libwbxml.wbxml` and `<name>.libwbxml-nostrtbl.wbxml`: the same messages
  encoded by libwbxml's `xml2wbxml`, with and without a string table.
- `tolerant/<variant>.xml`: one message written in the other ways peers write XML
  (prefixes, inherited or missing metinf namespace, CDATA, comments...). Each must
  decode to the same model as `pkg2_server.xml`.

The corpus avoids what libwbxml changes on the way (leading or trailing blanks in text,
line breaks in Add/Replace data), so that its output can be compared exactly.
Output is deterministic: running the script twice gives the same files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "wire" / "corpus"
METINF = "syncml:metinf"
DDF = "syncml:dmddf1.2"
DOCTYPES = {
    "1.2": '<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.2//EN" '
    '"http://www.openmobilealliance.org/tech/DTD/OMA-TS-SyncML_RepPro_DTD-V1_2.dtd">',
    "1.1": '<!DOCTYPE SyncML PUBLIC "-//SYNCML//DTD SyncML 1.1//EN" '
    '"http://www.syncml.org/docs/syncml_represent_v11_20020213.dtd">',
}


class CData(str):
    """Text to write as a CDATA section."""


def E(name: str, *content: object, xmlns: str | None = None) -> tuple:
    return (name, xmlns, content)


def write(node: tuple, out: list[str], depth: int, indent: str) -> None:
    name, xmlns, content = node
    pad = indent * depth
    start = f"{name} xmlns=\"{xmlns}\"" if xmlns else name
    if not content:
        out.append(f"{pad}<{start}/>")
    elif all(isinstance(part, str) for part in content):
        text = "".join(f"<![CDATA[{part}]]>" if isinstance(part, CData) else escape(part) for part in content)
        out.append(f"{pad}<{start}>{text}</{name}>")
    else:
        out.append(f"{pad}<{start}>")
        for part in content:
            write(part, out, depth + 1, indent)
        out.append(f"{pad}</{name}>")


def document(root: tuple, version: str = "1.2", indent: str = "  ", doctype: bool = True) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    if doctype:
        out.append(DOCTYPES[version])
    write(root, out, 0, indent)
    separator = "\n" if indent else ""
    return (separator.join(out) + "\n").encode("utf-8")


# Building blocks.


def meta(*fields: tuple) -> tuple:
    """Meta from (name, *content) pairs, each child declaring syncml:metinf, the form
    most peers send."""
    return E("Meta", *(E(name, *content, xmlns=METINF) for name, *content in fields))


def loc(kind: str, uri: str, name: str | None = None) -> tuple:
    return E(kind, E("LocURI", uri), *([E("LocName", name)] if name else []))


def item(target: str | None = None, source: str | None = None, meta: tuple | None = None, data: object = None, extra: tuple = ()) -> tuple:
    parts: list = []
    if target:
        parts.append(loc("Target", target))
    if source:
        parts.append(loc("Source", source))
    if meta:
        parts.append(meta)
    if data is not None:
        parts.append(E("Data", data))
    return E("Item", *parts, *extra)


def text_item(data: str) -> tuple:
    return item(data=data)


def header(version: str, session: str, msg: str, target: str, source: str, *rest: tuple, loc_name: str | None = None) -> tuple:
    return E(
        "SyncHdr",
        E("VerDTD", version),
        E("VerProto", f"DM/{version}"),
        E("SessionID", session),
        E("MsgID", msg),
        loc("Target", target),
        loc("Source", source, loc_name),
        *rest,
    )


def status(cmd_id: int, msg_ref: str, cmd_ref: str, cmd: str, code: int, *, target_refs=(), source_refs=(), chal=None, items=()) -> tuple:
    return E(
        "Status",
        E("CmdID", str(cmd_id)),
        E("MsgRef", msg_ref),
        E("CmdRef", cmd_ref),
        E("Cmd", cmd),
        *(E("TargetRef", ref) for ref in target_refs),
        *(E("SourceRef", ref) for ref in source_refs),
        *([E("Chal", chal)] if chal else []),
        E("Data", str(code)),
        *items,
    )


def alert(cmd_id: int, code: int, *items: tuple) -> tuple:
    return E("Alert", E("CmdID", str(cmd_id)), E("Data", str(code)), *items)


def syncml(version: str, hdr: tuple, *commands: tuple, final: bool = True) -> tuple:
    return E("SyncML", hdr, E("SyncBody", *commands, *([E("Final")] if final else [])), xmlns=f"SYNCML:SYNCML{version}")


SERVER = "https://dms1.lab.example:8443/dm"
DEVICE = "IMEI:493005100592800"


def pkg1_client() -> tuple:
    """Client package 1: credentials, session alert, DevInfo, a Generic Alert."""
    devinfo = [("DevId", DEVICE), ("Man", "DMLab"), ("Mod", "Virtual Handset"), ("DmV", "1.2"), ("Lang", "en-US")]
    plain = meta(("Format", "chr"), ("Type", "text/plain"))
    return syncml(
        "1.2",
        header(
            "1.2", "1A2B", "1", SERVER, DEVICE,
            E("Cred", meta(("Format", "b64"), ("Type", "syncml:auth-md5")), E("Data", "Zz6EivR3yeaaENcRN6lpAQ==")),
            meta(("MaxMsgSize", "16384"), ("MaxObjSize", "262144")),
            loc_name="dmlab-handset",
        ),
        alert(1, 1201),
        E("Replace", E("CmdID", "2"), *(item(source=f"./DevInfo/{leaf}", meta=plain, data=value) for leaf, value in devinfo)),
        E(
            "Alert",
            E("CmdID", "3"),
            E("Data", "1226"),
            E("Correlator", "corr-0001"),
            item(
                source="./FUMO/Update",
                meta=meta(
                    ("Type", "org.openmobilealliance.dm.firmwareupdate.devicerequest"),
                    ("Format", "int"),
                    ("Mark", "critical"),
                ),
                data="200",
            ),
        ),
    )


def pkg2_server() -> tuple:
    """Server package 2: a challenge, every command a server sends, the UI alerts."""
    text = meta(("Format", "chr"))
    return syncml(
        "1.2",
        header("1.2", "1A2B", "1", DEVICE, SERVER, E("RespURI", f"{SERVER}?sid=1A2B&mid=2"), meta(("MaxMsgSize", "16384"))),
        status(
            1, "1", "0", "SyncHdr", 212,
            target_refs=[DEVICE],
            source_refs=[SERVER],
            chal=meta(("Type", "syncml:auth-md5"), ("Format", "b64"), ("NextNonce", "ZG1zMS1uZXh0LW5vbmNl")),
        ),
        status(2, "1", "1", "Alert", 200),
        E("Get", E("CmdID", "3"), E("Lang", "en"), item("./DevDetail/FwV"), item("./DevDetail/SwV"), item("./DMAcc?list=TNDS+ACL")),
        E("Replace", E("CmdID", "4"), E("NoResp"), item("./DMAcc/dms1/Name", meta=text, data="Lab DM server one")),
        E("Add", E("CmdID", "5"), meta(("Format", "node")), item("./Vendor/DMLab")),
        E("Delete", E("CmdID", "6"), E("Archive"), E("SftDel"), item("./Vendor/Old")),
        E("Copy", E("CmdID", "7"), item("./Vendor/DMLab/B", "./Vendor/DMLab/A")),
        E(
            "Exec",
            E("CmdID", "8"),
            meta(("Format", "chr"), ("Type", "text/plain")),
            E("Correlator", "exec-42"),
            item("./Vendor/DMLab/Bootstrap/Fetch", data="now"),
        ),
        E(
            "Atomic",
            E("CmdID", "9"),
            E("Add", E("CmdID", "10"), item("./Vendor/DMLab/X", meta=text, data="x")),
            E("Replace", E("CmdID", "11"), item("./Vendor/DMLab/Y", meta=text, data="y")),
            E("Delete", E("CmdID", "12"), item("./Vendor/DMLab/Z")),
        ),
        E(
            "Sequence",
            E("CmdID", "13"),
            alert(14, 1101, text_item("MINDT=10&MAXDT=30"), text_item("Apply the new settings?")),
            E("Get", E("CmdID", "15"), item("./DevInfo/DevId")),
            E("Exec", E("CmdID", "16"), item("./Vendor/DMLab/Reboot")),
        ),
        alert(17, 1100, text_item("MINDT=5"), text_item("Géré par le labo")),
        alert(18, 1102, text_item("MAXLEN=8&IT=N&ET=P"), text_item("PIN?")),
        alert(19, 1103, text_item("DR=1"), text_item("Pick a server"), text_item("dms1"), text_item("dms2")),
        alert(20, 1104, text_item("DR=2-3"), text_item("Pick features"), *(text_item(choice) for choice in "ABC")),
    )


def tnds() -> tuple:
    """A TNDS MgmtTree, as the Results of Get ?list=TNDS+ACL carries it."""

    def node(name: str, *rest: tuple) -> tuple:
        return E("Node", E("NodeName", name), *rest)

    def properties(*rest: tuple) -> tuple:
        return E("RTProperties", *rest)

    return E(
        "MgmtTree",
        E("VerDTD", "1.2"),
        E("Man", "DMLab"),
        E("Mod", "Virtual Handset"),
        node(
            "DMAcc",
            E("Path", "."),
            properties(E("ACL", "Get=dms1&Replace=dms1"), E("Format", E("node")), E("Type", E("DDFName", "urn:oma:mo:oma-dm-dmacc:1.0"))),
            node(
                "dms1",
                properties(E("Format", E("node"))),
                node("ServerID", properties(E("Format", E("chr")), E("Type", E("MIME", "text/plain"))), E("Value", "dms1")),
                node("Name", properties(E("Format", E("chr"))), E("Value", "Lab DM server one & co")),
            ),
        ),
        xmlns=DDF,
    )


def pkg3_client() -> tuple:
    """Client package 3, not final: statuses, Results (one a TNDS tree), a chunk, alerts."""
    return syncml(
        "1.2",
        header(
            "1.2", "1A2B", "2", SERVER, DEVICE,
            E("Cred", meta(("Format", "b64"), ("Type", "syncml:auth-basic")), E("Data", "ZG1sYWI6c2VjcmV0")),
        ),
        status(1, "1", "0", "SyncHdr", 200, target_refs=[DEVICE], source_refs=[SERVER]),
        status(2, "1", "3", "Get", 200, target_refs=["./DevDetail/FwV"]),
        E(
            "Results",
            E("CmdID", "3"),
            E("MsgRef", "1"),
            E("CmdRef", "3"),
            meta(("Format", "chr")),
            E("TargetRef", "./DevDetail/FwV"),
            item(source="./DevDetail/FwV", meta=meta(("Format", "chr"), ("Type", "text/plain"), ("Size", "5")), data="1.0.3"),
        ),
        E(
            "Results",
            E("CmdID", "4"),
            E("CmdRef", "3"),
            E("SourceRef", "./DMAcc"),
            item(source="./DMAcc", meta=meta(("Format", "xml"), ("Type", "application/vnd.syncml.dmtnds+xml")), data=tnds()),
        ),
        status(5, "1", "4", "Replace", 425, target_refs=["./DMAcc/dms1/Name"]),
        status(6, "1", "14", "Alert", 304, items=[text_item("No")]),
        status(7, "1", "19", "Alert", 200, items=[text_item("2")]),
        status(8, "1", "8", "Exec", 202, target_refs=["./Vendor/DMLab/Bootstrap/Fetch"]),
        status(9, "2", "1", "SyncHdr", 401, chal=meta(("Type", "syncml:auth-md5"), ("Format", "b64"), ("NextNonce", "bm9uY2U="))),
        E(
            "Replace",
            E("CmdID", "10"),
            item("./Vendor/DMLab/Blob", meta=meta(("Format", "b64"), ("Size", "4096")), data="QUJDREVGR0g=", extra=(E("MoreData"),)),
        ),
        alert(11, 1222),
        alert(12, 1224, item(source="./Vendor/DMLab/Event", data="battery-low")),
        final=False,
    )


def every_meta_field() -> tuple:
    """Every MetInf field once (EMI twice), SourceParent/TargetParent, NoResp, abort."""
    everything = meta(
        ("Format", "bin"),
        ("Type", "application/octet-stream"),
        ("Mark", "high"),
        ("Size", "1024"),
        ("Anchor", E("Last", "20240101T000000Z"), E("Next", "20240102T000000Z")),
        ("Version", "2.1"),
        ("NextNonce", "bmV4dA=="),
        ("MaxMsgSize", "65536"),
        ("MaxObjSize", "1048576"),
        ("EMI", "vendor-a"),
        ("EMI", "vendor-b"),
        ("Mem", E("SharedMem"), E("FreeMem", "8192"), E("FreeID", "12")),
        ("FieldLevel",),
    )
    parents = (E("SourceParent", E("LocURI", "./Vendor/DMLab")), E("TargetParent", E("LocURI", "./Vendor")))
    return syncml(
        "1.2",
        header("1.2", "FF", "7", DEVICE, SERVER, E("NoResp")),
        E("Replace", E("CmdID", "1"), everything, item("./Vendor/DMLab/Moved", "./Vendor/DMLab/Old", data="payload", extra=parents)),
        alert(2, 1223),
    )


def dm11_session() -> tuple:
    """A DM 1.1 message (VerDTD 1.1, DM/1.1, the SyncML 1.1 namespace and public id)."""
    return syncml(
        "1.1",
        header(
            "1.1", "3F", "1", SERVER, DEVICE,
            E("Cred", meta(("Format", "b64"), ("Type", "syncml:auth-basic")), E("Data", "dXNlcjpwd2Q=")),
            loc_name="user",
        ),
        alert(1, 1200),
        E("Replace", E("CmdID", "2"), item(source="./DevInfo/DmV", data="1.1.2")),
    )


MESSAGES = {
    "pkg1_client": pkg1_client,
    "pkg2_server": pkg2_server,
    "pkg3_client": pkg3_client,
    "every_meta_field": every_meta_field,
    "dm11_session": dm11_session,
}


# The tolerant variants of pkg2_server: same message, other spellings.


def _prefixed_names(node: tuple, prefix: str = "s:") -> tuple:
    name, xmlns, content = node
    if xmlns == METINF:
        prefix = "m:"
    return (prefix + name, None, tuple(part if isinstance(part, str) else _prefixed_names(part, prefix) for part in content))


def _prefixed(root: tuple) -> bytes:
    """`s:` for SyncML and `m:` for MetInf, both declared once on the root."""
    text = document(_prefixed_names(root)).decode()
    return text.replace("<s:SyncML>", '<s:SyncML xmlns:s="SYNCML:SYNCML1.2" xmlns:m="syncml:metinf">', 1).encode()


def _map_meta(node: tuple, how: str) -> tuple:
    name, xmlns, content = node
    if name == "Meta":
        children = tuple((child[0], None, child[2]) for child in content)
        return (name, METINF if how == "on-meta" else None, children)
    return (name, xmlns, tuple(part if isinstance(part, str) else _map_meta(part, how) for part in content))


def _cdata(node: tuple) -> tuple:
    name, xmlns, content = node
    if name in ("Data", "LocURI") and len(content) == 1 and isinstance(content[0], str):
        return (name, xmlns, (CData(content[0]),))
    return (name, xmlns, tuple(part if isinstance(part, str) else _cdata(part) for part in content))


def tolerant_variants() -> dict[str, bytes]:
    root = pkg2_server()
    commented = document(root).replace(b"<SyncBody>", b"<!-- body follows --><?pi ignored?><SyncBody>", 1)
    return {
        "prefixed": _prefixed(root),
        "metinf_on_meta": document(_map_meta(root, "on-meta")),
        "metinf_absent": document(_map_meta(root, "absent")),
        "cdata": document(_cdata(root)),
        "compact_no_doctype": document(root, indent="", doctype=False),
        "tabs_and_comments": commented.replace(b"  ", b"\t"),
        "latin1": document(root).decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin-1"),
    }


def libwbxml(xml_path: Path, out_path: Path, string_table: bool) -> None:
    options = [] if string_table else ["-n"]
    subprocess.run(
        ["xml2wbxml", *options, "-o", str(out_path), str(xml_path)],
        check=True,
        capture_output=True,
    )


def main() -> None:
    if shutil.which("xml2wbxml") is None:
        sys.exit("xml2wbxml not found: install libwbxml2-utils")
    (CORPUS / "tolerant").mkdir(parents=True, exist_ok=True)
    for name, build in MESSAGES.items():
        xml_path = CORPUS / f"{name}.xml"
        xml_path.write_bytes(document(build(), version="1.1" if name == "dm11_session" else "1.2"))
        libwbxml(xml_path, CORPUS / f"{name}.libwbxml.wbxml", string_table=True)
        libwbxml(xml_path, CORPUS / f"{name}.libwbxml-nostrtbl.wbxml", string_table=False)
    for name, data in tolerant_variants().items():
        (CORPUS / "tolerant" / f"{name}.xml").write_bytes(data)
    print(f"corpus written to {CORPUS}")


if __name__ == "__main__":
    main()
