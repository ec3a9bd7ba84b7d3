"""Whatever arrives, handle answers cleanly: an HTTP refusal or a SyncML abort, never
an exception, never a 500."""

from __future__ import annotations

from dm_support import DEVID, Clock, Handset, commands_of, config, header_status, make_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmclient.wire import (Alert, AlertCode, Body, Encoding, Header, Item, Location, Message,
                           Meta, Replace, Results, Status, decode, encode)
from servers import dm
from servers.dm import MAX_MESSAGE, DMServer, Job, Outcome, Registry

XML = Encoding.XML.content_type


def post(server: DMServer, body: bytes, content_type: str = XML) -> dm.Reply:
    return server.handle(body, content_type=content_type, headers={})


def package1(encoding: Encoding = Encoding.XML, device_id: str = DEVID) -> bytes:
    """A package 1 without Cred (the server would challenge it)."""
    commands = Handset(make_server()).package1()
    for n, command in enumerate(commands, 1):
        command.cmd_id = str(n)
    header = Header(session_id="5E", msg_id="1", target=Location(loc_uri="x"),
                    source=Location(loc_uri=device_id, loc_name=device_id))
    return encode(Message(header=header, body=Body(commands=commands, final=True)), encoding)


def test_a_foreign_content_type_gets_415(server: DMServer) -> None:
    reply = post(server, b"<SyncML/>", "text/plain")
    assert (reply.http_status, reply.body) == (415, b"")


def test_a_body_over_1_mib_gets_413_unparsed(server: DMServer) -> None:
    reply = post(server, b"<" + b"x" * MAX_MESSAGE)
    assert (reply.http_status, reply.body) == (413, b"")


def test_bad_xml_gets_400(server: DMServer) -> None:
    reply = post(server, b"<SyncML><SyncHdr>")
    assert (reply.http_status, reply.body) == (400, b"") and "unreadable" in reply.reason


def test_a_body_not_in_the_encoding_its_content_type_names_gets_400(server: DMServer) -> None:
    reply = post(server, b"\x02\xa4\x01\x6a\x00\x6d\x01", XML)
    assert reply.http_status == 400 and "not xml" in reply.reason


def test_an_unknown_device_gets_403_and_leaves_no_trace(server: DMServer) -> None:
    reply = post(server, package1(device_id="IMEI:999"))
    assert (reply.http_status, reply.body) == (403, b"")
    assert server.sessions() == []


def test_a_message_for_no_session_gets_a_syncml_abort(server: DMServer) -> None:
    handset = Handset(server, session_id="99")
    reply = decode(handset.post([]).body)
    assert header_status(reply).code == 400  # type: ignore[union-attr]
    assert [c.code for c in commands_of(reply)] == [AlertCode.SESSION_ABORT]
    assert server.sessions() == []


def _mutations(body: bytes) -> st.SearchStrategy[bytes]:
    """Valid messages cut short, with bytes flipped, or with junk spliced in."""
    cut = st.integers(0, len(body)).map(lambda n: body[:n])
    flip = st.tuples(st.integers(0, len(body) - 1), st.integers(0, 255)).map(
        lambda p: body[:p[0]] + bytes([p[1]]) + body[p[0] + 1:])
    splice = st.tuples(st.integers(0, len(body)), st.binary(max_size=40)).map(
        lambda p: body[:p[0]] + p[1] + body[p[0]:])
    return st.one_of(cut, flip, splice, st.binary(max_size=200))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hostile_bodies_never_raise_and_never_500(data: st.DataObject) -> None:
    encoding = data.draw(st.sampled_from(list(Encoding)))
    server = make_server()
    server.queue_job(DEVID, Job([dm.Get("./A")]))
    body = data.draw(_mutations(package1(encoding)))
    reply = server.handle(body, content_type=encoding.content_type, headers={})
    assert reply.http_status in (200, 400, 403), reply.reason
    if reply.http_status == 200:
        decode(reply.body)


_REFS = st.sampled_from(["0", "1", "2", "3", "4", "9", "x", ""])
_CODES = st.sampled_from([200, 212, 213, 215, 401, 407, 424, 500, 1223, 99999])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
_ITEMS = st.lists(st.builds(
    Item, source=st.none() | st.builds(Location, loc_uri=st.sampled_from(["./A", "./DevInfo/Man", "x"])),
    data=st.none() | _TEXT, more_data=st.booleans(),
    meta=st.none() | st.builds(Meta, size=st.none() | st.integers(0, 10_000),
                               type=st.none() | _TEXT, next_nonce=st.none() | _TEXT)),
    max_size=3)
_COMMANDS = st.lists(st.one_of(
    st.builds(Status, cmd_id=st.just(""), msg_ref=_REFS, cmd_ref=_REFS, cmd=_TEXT, code=_CODES,
              chal=st.none() | st.builds(Meta, type=_TEXT, next_nonce=st.none() | _TEXT),
              items=_ITEMS),
    st.builds(Results, cmd_id=st.just(""), msg_ref=st.none() | _REFS, cmd_ref=_REFS,
              items=_ITEMS),
    st.builds(Alert, cmd_id=st.just(""), code=st.sampled_from([1100, 1200, 1201, 1222, 1223,
                                                               1224, 1225, 1226]),
              items=_ITEMS),
    st.builds(Replace, cmd_id=st.just(""), items=_ITEMS),
), max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_COMMANDS, st.lists(_COMMANDS, max_size=3), st.booleans())
def test_hostile_answers_inside_a_session_never_raise(first: list, later: list,
                                                      final: bool) -> None:
    server = make_server()
    server.queue_job(DEVID, Job([dm.Get("./A"), dm.Replace("./B", "b" * 30_000)]))
    handset = Handset(server, max_msg_size=4096)
    handset.start()
    for commands in [first, *later]:
        reply = handset.post(commands, final=final, cred=False)
        assert reply.http_status == 200, reply.reason
        decode(reply.body)


def test_a_fault_of_ours_ends_that_session_with_500_and_the_server_goes_on() -> None:
    def no_entropy() -> bytes:
        raise OSError("no entropy")

    server = DMServer(config(), Registry(), clock=Clock(), make_nonce=no_entropy)
    reply = Handset(server).post(Handset(server).package1(), cred=False)  # 407 needs a nonce
    assert (reply.http_status, reply.body) == (500, b"")
    assert "no entropy" in reply.reason
    assert server.sessions()[0].outcome is Outcome.INTERNAL_ERROR
    server.make_nonce = lambda: b"n"
    assert Handset(server).start().body.final  # a new session runs
