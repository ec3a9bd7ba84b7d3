"""OMA DM 1.2 alert codes: the Data of an Alert command says what the alert asks for."""

from __future__ import annotations

from enum import IntEnum


class AlertCode(IntEnum):
    DISPLAY = 1100
    CONFIRM_OR_REJECT = 1101
    TEXT_INPUT = 1102
    SINGLE_CHOICE = 1103
    MULTIPLE_CHOICE = 1104
    SERVER_INITIATED_MGMT = 1200
    CLIENT_INITIATED_MGMT = 1201
    NEXT_MESSAGE = 1222
    SESSION_ABORT = 1223
    CLIENT_EVENT = 1224
    NO_END_OF_DATA = 1225
    GENERIC = 1226

    @property
    def is_user_interaction(self) -> bool:
        """1100-1104 need a user (or a scripted one) to answer."""
        return 1100 <= self <= 1104
