"""One deadline for a whole answer: every model call, retry and tool round of a question (or a QBR) counts
against it, so a question cannot take per-call timeouts times rounds (about 21 minutes with the defaults).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tally.errors import AnswerDeadlineExceeded


@dataclass(frozen=True)
class Deadline:
    """The moment (``time.monotonic``) an answer must be ready by, and what the answer is, for the 504's message."""

    seconds: float
    ends_at: float
    what: str

    @classmethod
    def start(cls, seconds: float, what: str = "The answer") -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(seconds, time.monotonic() + seconds, what)

    def left(self) -> float:
        """Seconds left; 0 or less once it has passed."""
        return self.ends_at - time.monotonic()

    def exceeded(self) -> AnswerDeadlineExceeded:
        """The error to raise once it has passed (a 504)."""
        return AnswerDeadlineExceeded(self.what, self.seconds)

    def check(self) -> float:
        """The seconds left, or ``AnswerDeadlineExceeded`` when none are."""
        left = self.left()
        if left <= 0:
            raise self.exceeded()
        return left
