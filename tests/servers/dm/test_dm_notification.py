"""Package 0 for a queued job, and the server-initiated session it opens."""

from __future__ import annotations

from dm_support import (DEVID, SERVER_NONCE, SERVER_SECRET, Clock, Handset, answer, chal,
                        commands_of, device, header_status, make_server)

from dmclient import notification
from dmclient.wire import AlertCode, Encoding
from servers import dm
from servers.dm import Initiator, Job, JobState, Notify

NOTIFY_URL = "http://127.0.0.1:9000/notify"


def server_with_notify(**changes: object):  # type: ignore[no-untyped-def]
    return make_server(None, device(notify_url=NOTIFY_URL), clock=Clock(), **changes)


def test_queueing_a_job_gives_a_signed_package_0() -> None:
    server = server_with_notify()
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    notify = queued.notification
    assert isinstance(notify, Notify)
    assert (notify.url, notify.content_type) == (NOTIFY_URL, "application/vnd.syncml.notification")
    assert notification.verify(notify.body, SERVER_SECRET, SERVER_NONCE)
    trigger, _ = notification.decode(notify.body)
    assert (trigger.server_id, trigger.session_id, trigger.initiator, trigger.ui_mode) == (
        "dms1", 0x1A2B, notification.Initiator.SERVER, notification.UIMode.BACKGROUND)
    assert trigger.syncml_session_id == "1A2B"


def test_without_a_notify_url_the_job_waits_for_the_device() -> None:
    server = make_server()
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    assert queued.notification is None
    assert server.job(queued.job_id).state is JobState.QUEUED


def test_the_notified_session_id_opens_one_server_initiated_session(encoding: Encoding) -> None:
    server = server_with_notify(encoding=encoding)
    queued = server.queue_job(DEVID, Job([dm.Get("./A")]))
    trigger, _ = notification.decode(queued.notification.body)  # type: ignore[union-attr]
    # The handset speaks XML; the server answers in the encoding it starts sessions with.
    handset = Handset(server, session_id=trigger.syncml_session_id)
    package2 = handset.start(AlertCode.SERVER_INITIATED_MGMT)
    assert handset.replies[-1].content_type == encoding.content_type
    assert [c.items[0].target.loc_uri for c in commands_of(package2)] == ["./A"]
    [session] = server.sessions()
    assert (session.initiator, session.session_id) == (Initiator.SERVER, "1A2B")

    handset.send(answer(package2, results={"./A": "a"}))
    assert server.job(queued.job_id).state is JobState.DONE
    # Used once: the same SessionID cannot start another server-initiated session.
    again = Handset(server, session_id="1A2B", nonce=handset.nonce).start(
        AlertCode.SERVER_INITIATED_MGMT)
    assert header_status(again).code == 403  # type: ignore[union-attr]
    assert [c.code for c in commands_of(again)] == [AlertCode.SESSION_ABORT]
    assert len(server.sessions()) == 1


def test_a_1200_with_a_session_id_we_never_sent_is_refused() -> None:
    server = server_with_notify()
    reply = Handset(server, session_id="BEEF").start(AlertCode.SERVER_INITIATED_MGMT)
    assert header_status(reply).code == 403  # type: ignore[union-attr]
    assert [c.code for c in commands_of(reply)] == [AlertCode.SESSION_ABORT]
    assert server.sessions() == []


def test_package_0_uses_the_server_nonce_the_device_gave_last() -> None:
    server = server_with_notify()
    first = server.queue_job(DEVID, Job([dm.Get("./A")]))
    trigger, _ = notification.decode(first.notification.body)  # type: ignore[union-attr]
    handset = Handset(server, session_id=trigger.syncml_session_id)
    package2 = handset.start(AlertCode.SERVER_INITIATED_MGMT)
    handset.send(answer(package2, chal=chal(b"handset-issued"), results={"./A": "a"}))

    second = server.queue_job(DEVID, Job([dm.Get("./B")]))
    body = second.notification.body  # type: ignore[union-attr]
    assert notification.verify(body, SERVER_SECRET, b"handset-issued")
    assert notification.decode(body)[0].session_id == 0x1A2C


def test_the_ui_mode_is_configurable() -> None:
    server = make_server(None, device(notify_url=NOTIFY_URL, ui_mode="user_interaction"))
    body = server.queue_job(DEVID, Job([dm.Get("./A")])).notification.body  # type: ignore[union-attr]
    assert notification.decode(body)[0].ui_mode is notification.UIMode.USER_INTERACTION
