"""WBXML tokens for SyncML DM: code page 0 (SyncML 1.2), 1 (MetInf 1.2), 2 (DM DDF 1.2).

The codec is driven by these tables and nothing else, so supporting another token is a
one-line change here. libwbxml and the SyncML RTK agree on every value.

Names on pages 0 and 1 are plain local names (the two pages share none); page 2 names
carry their namespace in Clark notation, because DDF elements only appear inside Data,
where they must not be mistaken for SyncML's own Add, Format, Type...
"""

from __future__ import annotations

SYNCML_NS = {"1.2": "SYNCML:SYNCML1.2", "1.1": "SYNCML:SYNCML1.1"}
METINF_NS = "syncml:metinf"
DDF_NS = "syncml:dmddf1.2"

# Global tokens (WBXML 1.3, section 7.1).
SWITCH_PAGE = 0x00
END = 0x01
ENTITY = 0x02
STR_I = 0x03
LITERAL = 0x04
STR_T = 0x83
OPAQUE = 0xC3
HAS_CONTENT = 0x40
HAS_ATTRIBUTES = 0x80

WBXML_VERSION = 0x02  # WBXML 1.2, what libdmclient sends
CHARSET_UTF8 = 106
CHARSETS = {CHARSET_UTF8: "utf-8", 3: "ascii", 4: "latin-1", 0: "utf-8"}  # 0: unknown

UNKNOWN_PUBLIC_ID = 0x01
# Numeric public id of the message, per VerDTD, for encoding.
SYNCML_PUBLIC_ID = {"1.2": 0x1201, "1.1": 0x0FD3}
# Public ids a DM message may arrive with: SyncML 1.0-1.2 and MetInf 1.2, by number or
# by text in the string table.
SYNCML_PUBLIC_IDS = {
    0x0FD1: "-//SYNCML//DTD SyncML 1.0//EN",
    0x0FD3: "-//SYNCML//DTD SyncML 1.1//EN",
    0x1201: "-//SYNCML//DTD SyncML 1.2//EN",
    0x1202: "-//SYNCML//DTD MetInf 1.2//EN",
}
DDF_PUBLIC_ID = "-//OMA//DTD-DM-DDF 1.2//EN"  # DDF has no numeric public id

_PAGES: dict[int, dict[int, str]] = {
    0: {
        0x05: "Add", 0x06: "Alert", 0x07: "Archive", 0x08: "Atomic", 0x09: "Chal",
        0x0A: "Cmd", 0x0B: "CmdID", 0x0C: "CmdRef", 0x0D: "Copy", 0x0E: "Cred",
        0x0F: "Data", 0x10: "Delete", 0x11: "Exec", 0x12: "Final", 0x13: "Get",
        0x14: "Item", 0x15: "Lang", 0x16: "LocName", 0x17: "LocURI", 0x18: "Map",
        0x19: "MapItem", 0x1A: "Meta", 0x1B: "MsgID", 0x1C: "MsgRef", 0x1D: "NoResp",
        0x1E: "NoResults", 0x1F: "Put", 0x20: "Replace", 0x21: "RespURI", 0x22: "Results",
        0x23: "Search", 0x24: "Sequence", 0x25: "SessionID", 0x26: "SftDel", 0x27: "Source",
        0x28: "SourceRef", 0x29: "Status", 0x2A: "Sync", 0x2B: "SyncBody", 0x2C: "SyncHdr",
        0x2D: "SyncML", 0x2E: "Target", 0x2F: "TargetRef", 0x31: "VerDTD", 0x32: "VerProto",
        0x33: "NumberOfChanges", 0x34: "MoreData", 0x35: "Field", 0x36: "Filter",
        0x37: "Record", 0x38: "FilterType", 0x39: "SourceParent", 0x3A: "TargetParent",
        0x3B: "Move", 0x3C: "Correlator",
    },
    1: {
        0x05: "Anchor", 0x06: "EMI", 0x07: "Format", 0x08: "FreeID", 0x09: "FreeMem",
        0x0A: "Last", 0x0B: "Mark", 0x0C: "MaxMsgSize", 0x0D: "Mem", 0x0E: "MetInf",
        0x0F: "Next", 0x10: "NextNonce", 0x11: "SharedMem", 0x12: "Size", 0x13: "Type",
        0x14: "Version", 0x15: "MaxObjSize", 0x16: "FieldLevel",
    },
    2: {
        token: f"{{{DDF_NS}}}{name}"
        for token, name in {
            0x05: "AccessType", 0x06: "ACL", 0x07: "Add", 0x08: "b64", 0x09: "bin",
            0x0A: "bool", 0x0B: "chr", 0x0C: "CaseSense", 0x0D: "CIS", 0x0E: "Copy",
            0x0F: "CS", 0x10: "date", 0x11: "DDFName", 0x12: "DefaultValue",
            0x13: "Delete", 0x14: "Description", 0x15: "DFFormat", 0x16: "DFProperties",
            0x17: "DFTitle", 0x18: "DFType", 0x19: "Dynamic", 0x1A: "Exec", 0x1B: "float",
            0x1C: "Format", 0x1D: "Get", 0x1E: "int", 0x1F: "Man", 0x20: "MgmtTree",
            0x21: "MIME", 0x22: "Mod", 0x23: "Name", 0x24: "Node", 0x25: "node",
            0x26: "NodeName", 0x27: "null", 0x28: "Occurrence", 0x29: "One",
            0x2A: "OneOrMore", 0x2B: "OneOrN", 0x2C: "Path", 0x2D: "Permanent",
            0x2E: "Replace", 0x2F: "RTProperties", 0x30: "Scope", 0x31: "Size",
            0x32: "time", 0x33: "Title", 0x34: "TStamp", 0x35: "Type", 0x36: "Value",
            0x37: "VerDTD", 0x38: "VerNo", 0x39: "xml", 0x3A: "ZeroOrMore",
            0x3B: "ZeroOrN", 0x3C: "ZeroOrOne",
        }.items()
    },
}

# Decoding: page -> 64 slots indexed by the token's low six bits (None: unassigned).
TAG_NAMES: dict[int, tuple[str | None, ...]] = {
    page: tuple(names.get(token) for token in range(64)) for page, names in _PAGES.items()
}
NO_TAGS: tuple[str | None, ...] = (None,) * 64  # a page we have no table for

# Encoding: element name -> (page, token).
TAG_TOKENS: dict[str, tuple[int, int]] = {
    name: (page, token) for page, names in _PAGES.items() for token, name in names.items()
}

# The namespace of a plain (page 0 or 1) name, for elements found inside Data.
PLAIN_NAMESPACES: dict[str, str] = {
    **{name: SYNCML_NS["1.2"] for name in _PAGES[0].values()},
    **{name: METINF_NS for name in _PAGES[1].values()},
}
