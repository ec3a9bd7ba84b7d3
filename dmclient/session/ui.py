"""How the virtual user answers UI alerts (1100-1104): a policy, not a person.

Server teams test the paths a real user can take: accept, refuse, type a scripted
answer, or never answer at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dmclient.session.payload import as_text
from dmclient.wire import Alert, AlertCode, Item, StatusCode


class UiMode(StrEnum):
    ACCEPT = "accept"    # confirm, take the default or first choice, type the default text
    DENY = "deny"        # refuse a confirmation (304), cancel inputs and choices (214)
    TIMEOUT = "timeout"  # the user never answers (408)
    SCRIPTED = "scripted"  # answers from `script`, in order; then as ACCEPT


@dataclass
class UiPolicy:
    mode: UiMode = UiMode.ACCEPT
    script: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # every text put on the screen

    def answer(self, alert: Alert) -> tuple[StatusCode, list[Item]]:
        """The status for a UI alert and the Items it returns (text or choice indexes)."""
        options = _options(alert)
        text = as_text(alert.items[1].data) if len(alert.items) > 1 else ""
        choices = [as_text(i.data) for i in alert.items[2:]]
        self.shown.append(text)
        code = alert.code
        if code == AlertCode.DISPLAY:
            return StatusCode.OK, []
        if self.mode is UiMode.TIMEOUT:
            return StatusCode.REQUEST_TIMEOUT, []
        if self.mode is UiMode.DENY:
            if code == AlertCode.CONFIRM_OR_REJECT:
                return StatusCode.NOT_MODIFIED, []
            return StatusCode.CANCELLED, []
        scripted = self.script.pop(0) if self.mode is UiMode.SCRIPTED and self.script else None
        if code == AlertCode.CONFIRM_OR_REJECT:
            yes = scripted is None or scripted.lower() in ("yes", "y", "1", "true", "accept")
            return (StatusCode.OK if yes else StatusCode.NOT_MODIFIED), []
        if code == AlertCode.TEXT_INPUT:
            answer = scripted if scripted is not None else options.get("DR", "")
            maxlen = options.get("MAXLEN", "")
            if maxlen.isdigit():
                answer = answer[:int(maxlen)]
            return StatusCode.OK, [Item(data=answer)]
        if code in (AlertCode.SINGLE_CHOICE, AlertCode.MULTIPLE_CHOICE):
            picked = scripted if scripted is not None else options.get("DR", "1")
            indexes = [p for p in picked.replace(",", "-").split("-") if p.isdigit()]
            valid = [i for i in indexes if 1 <= int(i) <= len(choices)] or ["1"]
            if code == AlertCode.SINGLE_CHOICE:
                valid = valid[:1]
            return StatusCode.OK, [Item(data=i) for i in valid]
        return StatusCode.OPTIONAL_FEATURE_NOT_SUPPORTED, []


def _options(alert: Alert) -> dict[str, str]:
    """Item 1's `NAME=value&NAME=value` options; unknown ones are ignored."""
    if not alert.items:
        return {}
    out = {}
    for part in as_text(alert.items[0].data).split("&"):
        name, eq, value = part.partition("=")
        if eq:
            out[name.strip().upper()] = value.strip()
    return out
