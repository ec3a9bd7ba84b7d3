from __future__ import annotations

import pytest
from dm_support import Clock, Handset, make_server

from dmclient.wire import Encoding
from servers.dm import DMServer


@pytest.fixture(params=[Encoding.XML, Encoding.WBXML], ids=["xml", "wbxml"])
def encoding(request: pytest.FixtureRequest) -> Encoding:
    return request.param


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> DMServer:
    """The reference server with the lab's default handset, md5 both ways, in memory."""
    return make_server(clock=clock)


@pytest.fixture
def handset(server: DMServer, encoding: Encoding) -> Handset:
    return Handset(server, encoding=encoding)
