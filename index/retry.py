"""How failed calls to a server (an LLM server, a Chroma server) are tried again: a bounded
number of times, waiting a little longer each time, and logged (`qa -v`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    retries: int = 2
    wait_s: float = 0.5

    def attempts(self) -> range:
        return range(self.retries + 1)

    def again(self, attempt: int, what: str, reason: object) -> bool:
        """After attempt `attempt` (0-based) failed: wait and return True if another is allowed."""
        if attempt >= self.retries:
            return False
        log.info("%s failed (%s); retry %d of %d", what, reason, attempt + 1, self.retries)
        time.sleep(self.wait_s * (attempt + 1))
        return True
