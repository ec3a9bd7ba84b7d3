"""The handset's DM session engine, sans-I/O: it takes the server's bytes and returns
the handset's next message, executing commands on the tree as the server's ServerID."""

from dmclient.session.engine import ClientSession, SessionError
from dmclient.session.events import CommandRecord, Ended, Outcome, Send
from dmclient.session.executor import ExecRequest, ExecResult, GenericReport
from dmclient.session.ui import UiMode, UiPolicy

__all__ = ["ClientSession", "CommandRecord", "Ended", "ExecRequest", "ExecResult",
           "GenericReport", "Outcome", "Send", "SessionError", "UiMode", "UiPolicy"]
