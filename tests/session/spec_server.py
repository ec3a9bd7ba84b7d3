"""A DM server written only from the OMA DM 1.2 text, on bare lxml and hashlib.

It shares no code with dmlab (not the codec, not the auth helpers), so a handset that
completes a session with it speaks the protocol, not just dmlab's idea of it. It is
deliberately plain: XML only, syncml:auth-md5 both ways, one package of commands.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from lxml import etree

NS = "SYNCML:SYNCML1.2"
META = "syncml:metinf"


def md5_digest(user: str, secret: str, nonce: bytes) -> str:
    """B64(H(B64(H(user:secret)):nonce)), DM Security 1.2 §5.1.3.2."""
    inner = base64.b64encode(hashlib.md5(f"{user}:{secret}".encode()).digest())
    return base64.b64encode(hashlib.md5(inner + b":" + nonce).digest()).decode()


@dataclass
class SpecServer:
    url: str
    client_user: str
    client_secret: str
    client_nonce: bytes
    server_user: str
    server_secret: str
    server_nonce: bytes
    commands: list[tuple] = field(default_factory=list)  # ("Get", uri) / ("Replace", uri, data)
    statuses: dict[str, str] = field(default_factory=dict)   # our CmdID -> code from client
    results: dict[str, str] = field(default_factory=dict)    # Get target -> value
    devinfo: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    msg_id: int = 0
    session_id: str = ""
    done: bool = False
    _authenticated: bool = False
    _sent_commands: bool = False

    def handle(self, body: bytes) -> bytes:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        hdr = root.find(f"{{{NS}}}SyncHdr")
        self.session_id = hdr.findtext(f"{{{NS}}}SessionID")
        client_msg = hdr.findtext(f"{{{NS}}}MsgID")
        client_uri = hdr.findtext(f"{{{NS}}}Source/{{{NS}}}LocURI")
        loc_name = hdr.findtext(f"{{{NS}}}Source/{{{NS}}}LocName")
        body_el = root.find(f"{{{NS}}}SyncBody")
        out = []
        cmd_id = iter(range(1, 1000))

        cred = hdr.findtext(f"{{{NS}}}Cred/{{{NS}}}Data")
        if not self._authenticated:
            if cred is None or loc_name != self.client_user or cred != md5_digest(
                    self.client_user, self.client_secret, self.client_nonce):
                self.client_nonce = b"spec-nonce-2"
                self.log.append("challenge")
                out.append(self._status(next(cmd_id), client_msg, "0", "SyncHdr",
                                        "407" if cred is None else "401", chal=True))
                return self._message(client_uri, out, final=True)
            self._authenticated = True
            self.log.append("client authenticated")
        out.append(self._status(next(cmd_id), client_msg, "0", "SyncHdr", "212"))

        for el in body_el:
            name = etree.QName(el).localname
            if name == "Status":
                ref = el.findtext(f"{{{NS}}}CmdRef")
                if el.findtext(f"{{{NS}}}Cmd") != "SyncHdr":
                    self.statuses[ref] = el.findtext(f"{{{NS}}}Data")
            elif name == "Results":
                for item in el.findall(f"{{{NS}}}Item"):
                    self.results[item.findtext(f"{{{NS}}}Source/{{{NS}}}LocURI")] = \
                        item.findtext(f"{{{NS}}}Data") or ""
            elif name in ("Alert", "Replace"):
                ref = el.findtext(f"{{{NS}}}CmdID")
                for item in el.findall(f"{{{NS}}}Item"):
                    source = item.findtext(f"{{{NS}}}Source/{{{NS}}}LocURI")
                    if source:
                        self.devinfo[source] = item.findtext(f"{{{NS}}}Data") or ""
                out.append(self._status(next(cmd_id), client_msg, ref, name, "200"))
        if not self._sent_commands:
            self._sent_commands = True
            for command in self.commands:
                out.append(self._command(next(cmd_id), command))
        else:
            self.done = True
        return self._message(client_uri, out, final=True)

    # --------------------------------------------------------------- building XML

    def _message(self, client_uri: str, commands: list, final: bool) -> bytes:
        self.msg_id += 1
        root = etree.Element(f"{{{NS}}}SyncML", nsmap={None: NS})
        hdr = etree.SubElement(root, f"{{{NS}}}SyncHdr")
        for tag, text in (("VerDTD", "1.2"), ("VerProto", "DM/1.2"),
                          ("SessionID", self.session_id), ("MsgID", str(self.msg_id))):
            etree.SubElement(hdr, f"{{{NS}}}{tag}").text = text
        etree.SubElement(etree.SubElement(hdr, f"{{{NS}}}Target"), f"{{{NS}}}LocURI").text = \
            client_uri
        source = etree.SubElement(hdr, f"{{{NS}}}Source")
        etree.SubElement(source, f"{{{NS}}}LocURI").text = self.url
        etree.SubElement(source, f"{{{NS}}}LocName").text = self.server_user
        cred = etree.SubElement(hdr, f"{{{NS}}}Cred")
        meta = etree.SubElement(cred, f"{{{NS}}}Meta")
        etree.SubElement(meta, f"{{{META}}}Type", nsmap={None: META}).text = "syncml:auth-md5"
        etree.SubElement(meta, f"{{{META}}}Format", nsmap={None: META}).text = "b64"
        etree.SubElement(cred, f"{{{NS}}}Data").text = md5_digest(
            self.server_user, self.server_secret, self.server_nonce)
        body = etree.SubElement(root, f"{{{NS}}}SyncBody")
        body.extend(commands)
        if final:
            etree.SubElement(body, f"{{{NS}}}Final")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _status(self, cmd_id: int, msg_ref: str, cmd_ref: str, cmd: str, code: str,
                chal: bool = False) -> etree._Element:
        el = etree.Element(f"{{{NS}}}Status")
        for tag, text in (("CmdID", str(cmd_id)), ("MsgRef", msg_ref), ("CmdRef", cmd_ref),
                          ("Cmd", cmd)):
            etree.SubElement(el, f"{{{NS}}}{tag}").text = text
        if chal:
            meta = etree.SubElement(etree.SubElement(el, f"{{{NS}}}Chal"), f"{{{NS}}}Meta")
            for tag, text in (("Type", "syncml:auth-md5"), ("Format", "b64"),
                              ("NextNonce", base64.b64encode(self.client_nonce).decode())):
                etree.SubElement(meta, f"{{{META}}}{tag}", nsmap={None: META}).text = text
        etree.SubElement(el, f"{{{NS}}}Data").text = code
        return el

    def _command(self, cmd_id: int, command: tuple) -> etree._Element:
        name, uri, *rest = command
        el = etree.Element(f"{{{NS}}}{name}")
        etree.SubElement(el, f"{{{NS}}}CmdID").text = str(cmd_id)
        item = etree.SubElement(el, f"{{{NS}}}Item")
        etree.SubElement(etree.SubElement(item, f"{{{NS}}}Target"), f"{{{NS}}}LocURI").text = uri
        if rest:
            etree.SubElement(item, f"{{{NS}}}Data").text = rest[0]
        return el
