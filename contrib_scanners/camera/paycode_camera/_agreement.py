"""Which codes seen by a camera become scans: frame agreement and repeat suppression.

A camera sees a code on many consecutive frames, and a misread (a Code 128 misread can
pass its checksum) on one. So a code is accepted only when ``agree`` frames within
``agree_window`` seconds show it, and once accepted it is not accepted again until it
has been out of sight for ``repeat_window`` seconds: a code held in front of the lens
for a minute is one scan.

Codes are keyed by their text alone: the Code 128 barcode and the QR code of one
payment-code screen agree with each other and make one scan.

Time is whatever clock the caller passes (``time.monotonic()`` for a live camera, the
frame's timestamp for a video file), so the decision does not depend on decode speed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

__all__ = ["Agreement"]


class Agreement:
    """Feed it the codes of each frame with :meth:`observe`; it answers the codes accepted by that frame."""

    __slots__ = ("_last_seen", "_sightings", "agree", "agree_window", "repeat_window")

    def __init__(self, *, agree: int = 2, agree_window: float = 1.0, repeat_window: float = 1.5) -> None:
        if agree < 1:
            raise ValueError("agree must be at least 1")
        if agree_window < 0 or repeat_window < 0:
            raise ValueError("windows must not be negative")
        self.agree = agree
        self.agree_window = agree_window
        self.repeat_window = repeat_window
        self._sightings: dict[str, deque[float]] = {}
        self._last_seen: dict[str, float] = {}  # accepted codes still suppressed -> last frame time seen

    def observe(self, now: float, texts: Iterable[str]) -> list[str]:
        """Record one frame taken at ``now`` showing ``texts``; return those accepted now, in order.

        ``now`` must not decrease from one call to the next.
        """
        self._expire(now)
        accepted: list[str] = []
        for text in dict.fromkeys(texts):  # one vote per frame, order kept
            if text in self._last_seen:
                self._last_seen[text] = now  # still in view: the suppression goes on
                continue
            times = self._sightings.get(text)
            if times is None:
                times = self._sightings[text] = deque()
            times.append(now)
            if len(times) >= self.agree:
                del self._sightings[text]
                accepted.append(text)
                if self.repeat_window > 0:
                    self._last_seen[text] = now
        return accepted

    def pending(self) -> int:
        """Codes seen but not (yet) agreed on; for diagnostics and tests."""
        return len(self._sightings)

    def reset(self) -> None:
        """Forget everything (the source was reopened)."""
        self._sightings.clear()
        self._last_seen.clear()

    def _expire(self, now: float) -> None:
        oldest = now - self.agree_window
        for text in [t for t, times in self._sightings.items() if times[0] < oldest]:
            times = self._sightings[text]
            while times and times[0] < oldest:
                times.popleft()
            if not times:
                del self._sightings[text]
        # out of sight for more than repeat_window: compared as an elapsed time (now - seen), not against
        # now - repeat_window, whose rounding can differ by one ulp and end a suppression one frame early
        for text in [t for t, seen in self._last_seen.items() if now - seen > self.repeat_window]:
            del self._last_seen[text]
