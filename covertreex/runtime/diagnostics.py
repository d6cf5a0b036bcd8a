"""Operation timing: wall and CPU seconds, peak resident memory and thread count of a code block.

Peak RSS is sampled by a background thread (psutil) every few milliseconds, so it also sees memory
that native code allocates and frees inside the block.  ``peak_extra_rss_bytes`` is the peak minus
the RSS on entry.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

import psutil

SAMPLE_SECONDS = 0.002


@dataclass(frozen=True)
class OperationStats:
    name: str
    wall_s: float
    cpu_s: float
    rss_start_bytes: int
    rss_peak_bytes: int
    threads: int

    @property
    def peak_extra_rss_bytes(self) -> int:
        return max(0, self.rss_peak_bytes - self.rss_start_bytes)

    @property
    def cpu_utilisation(self) -> float:
        """CPU seconds per wall second (2.0 = two cores busy)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        out["peak_extra_rss_bytes"] = self.peak_extra_rss_bytes
        out["cpu_utilisation"] = self.cpu_utilisation
        return out


class OperationTimer:
    """``with OperationTimer("build") as t: ...`` then ``t.stats`` (an ``OperationStats``)."""

    def __init__(self, name: str):
        self.name = name
        self.stats: OperationStats | None = None
        self._proc = psutil.Process()
        self._peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def __enter__(self) -> OperationTimer:
        self._start_rss = self._proc.memory_info().rss
        self._peak = self._start_rss
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self._wall0
        cpu = time.process_time() - self._cpu0
        threads = self._proc.num_threads()
        self._stop.set()
        self._sampler.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.stats = OperationStats(self.name, wall, cpu, self._start_rss, self._peak, threads)
