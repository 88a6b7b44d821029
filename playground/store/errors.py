"""What the store refuses, with a message written for people."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's refusals; ``message`` says what happened and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VoteRefused(StoreError):
    """A vote that is not counted: an unknown battle, one already voted, one that failed."""


class DocumentRefused(StoreError, ValueError):
    """A saved comparison that cannot be kept: too large, or not a JSON object."""
