"""Errors the CLI reports as one line, and the exceptions that become them."""

from __future__ import annotations

from dmclient.handset import HandsetError
from dmclient.session import SessionError
from dmclient.trace import TraceError
from dmclient.transport import TransportError
from dmclient.tree import AclError, ProfileError, StoreError, TndsError, UriError


class UserError(Exception):
    """Something the user can fix: a missing file, a bad document, a bad URI."""


#: Library errors whose message is already a clear one-line reason.
USER_FACING = (ProfileError, StoreError, TndsError, UriError, AclError, OSError, SessionError,
               HandsetError, TransportError, TraceError)
