"""The two ways a codec says no: bytes it cannot read, a message it cannot write."""

from __future__ import annotations


class DecodeError(ValueError):
    """Malformed, hostile or unsupported input; the only exception a decoder lets out.

    `offset` is the byte offset in the input where the problem was found, when known,
    so that a tool can point at it.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        if self.offset is None:
            return self.message
        return f"{self.message} (at byte {self.offset})"


class EncodeError(ValueError):
    """A message that the chosen encoding cannot carry (e.g. a NUL character in XML)."""
