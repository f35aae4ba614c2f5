"""Progress lines of long MD runs (segment rate and time left)."""
from __future__ import annotations

import logging
import math

log = logging.getLogger(__name__)


class Progress:
    """Progress lines (stage, step, steps/s, ETA) at each segment."""

    def __init__(self, label: str, enabled: bool):
        self.label, self.enabled = label, enabled

    def segment(self, stage: str, step: int, n_steps: int, seconds: float, remaining: int) -> None:
        if not self.enabled:
            return
        rate = n_steps / seconds if seconds > 0 else float("inf")
        eta = remaining / rate if rate > 0 else float("inf")
        log.info("%s stage %s step %d: %.0f steps/s, %d steps left, ETA %s",
                 self.label, stage, step, rate, remaining, hms(eta))


def hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"
