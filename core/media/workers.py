"""A model run on a frame source by several concurrent workers, its results handed on in frame order.

On a CPU, two batch-1 calls on one thread each give more frames per second than one call on two threads
(vit_tiny fp32 on 2 cores: 1.3-1.7x; vit_base: 1.0-1.2x). A ViT's matrices are too small to split well
across threads, and a worker that the capture or sink thread preempts delays only its own frame, where
one of two threads of a single call stalls its partner at every barrier. The price is latency: each frame
takes a one-thread call.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable


def cpu_threads() -> int:
    """Threads the model may use in all: ``OMP_NUM_THREADS`` when set, else the CPUs this process may run on."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ModelWorkers:
    """``workers`` threads, each reading the next frame from ``stream`` and calling ``infer(frame)``.

    ``get(timeout)`` returns ``(frame, output, seconds)`` in the order the frames were read, or None when
    nothing is ready within ``timeout`` (a live source may be reconnecting) or when every worker stopped
    because the source ended (``finished``). An exception in ``infer`` is raised by the next ``get``.
    """

    def __init__(self, stream, infer: Callable, workers: int = 1):
        self.stream, self.infer, self.workers = stream, infer, workers
        self._read_lock = threading.Lock()  # one reader at a time, so numbers follow the source's order
        self._ready = threading.Condition()
        self._results: dict[int, tuple] = {}
        self._next_read = self._next_out = 0
        self._running = workers
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"model-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        try:
            while not self._stop.is_set():
                with self._ready:  # a worker far ahead of a slow one waits: results stay bounded
                    while len(self._results) >= 2 * self.workers and not self._stop.is_set():
                        self._ready.wait(0.1)
                with self._read_lock:
                    frame = self.stream.read(timeout=0.1)
                    if frame is None:
                        if self.stream.ended:
                            return
                        continue
                    number, self._next_read = self._next_read, self._next_read + 1
                start = time.perf_counter()
                output = self.infer(frame)
                seconds = time.perf_counter() - start
                with self._ready:
                    self._results[number] = (frame, output, seconds)
                    self._ready.notify_all()
        except BaseException as exc:  # raised in the consumer's thread by get()
            self.error = exc
        finally:
            with self._ready:
                self._running -= 1
                self._ready.notify_all()

    def get(self, timeout: float) -> tuple | None:
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._next_out not in self._results:
                if self.error is not None:
                    raise self.error
                remaining = deadline - time.monotonic()
                if self._running == 0 or remaining <= 0:
                    return None
                self._ready.wait(remaining)
            result = self._results.pop(self._next_out)
            self._next_out += 1
            self._ready.notify_all()
            return result

    @property
    def finished(self) -> bool:
        """Every worker stopped and every result was taken."""
        with self._ready:
            return self._running == 0 and not self._results

    def close(self, timeout: float = 30.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
