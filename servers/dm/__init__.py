"""The reference DM server, sans-I/O: sessions, device registry, job queue.

Transports (servers.http) turn POSTs into DMServer.handle calls and push the package 0s
that queue_job returns; everything the server learns is in its SQLite Registry.
"""

from servers.dm.config import (ConfigError, DelegationConfig, DeviceConfig, ServerConfig,
                               load_config)
from servers.dm.events import Notify, Queued, Reply
from servers.dm.jobs import (Add, Alert, Atomic, Copy, Delete, Exec, Get, Job, JobError,
                             Replace, Sequence, dump_job, parse_job)
from servers.dm.records import (CommandResult, DeviceRecord, GenericAlertRecord, Initiator,
                                JobRecord, JobState, Outcome, ResultItem, SentCommand,
                                SessionRecord)
from servers.dm.registry import Registry, UnknownJob
from servers.dm.server import MAX_MESSAGE, DMServer, UnknownDevice, new_session_id

__all__ = [
    "MAX_MESSAGE", "Add", "Alert", "Atomic", "CommandResult", "ConfigError", "Copy", "DMServer",
    "DelegationConfig",
    "Delete", "DeviceConfig", "DeviceRecord", "Exec", "GenericAlertRecord", "Get",
    "Initiator", "Job", "JobError", "JobRecord", "JobState", "Notify", "Outcome", "Queued",
    "Registry", "Replace", "Reply", "ResultItem", "SentCommand", "Sequence", "ServerConfig",
    "SessionRecord", "UnknownDevice", "UnknownJob", "dump_job", "load_config", "new_session_id",
    "parse_job",
]
