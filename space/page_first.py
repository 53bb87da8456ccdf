"""The page before live training: a live run trains on a thread of its own at the lowest CPU priority, and waits
between batches while a visitor's stroke is being answered.

A live run trains on one core and a stroke is answered on the other, but both are threads of one process, with the
Gradio server's own threads and, on the same machine, the visitors' clients: between its torch calls the training
thread holds the GIL, and a stroke (decode the PNG, find the digit, six small models, encode six PNGs) waits for it
again and again. Two things give the stroke the machine (benchmarks/RESULTS.md has the measurements):

- `behind_the_page` runs the training on its own thread at nice 19, so whatever else is runnable goes first;
- the training loop asks `wait_turn()` before each batch, and gives way while any stroke is in `answering()`.
  `patience` bounds each wait, so a stream of strokes slows a run but never stops it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterator


class PageFirst:
    """Counts the requests being answered; `wait_turn` returns once there are none (or after `patience` seconds)."""

    def __init__(self, patience: float = 1.0) -> None:
        self.patience = patience
        self._answering = 0
        self._idle = threading.Condition()

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        with self._idle:
            self._answering += 1
        try:
            yield
        finally:
            with self._idle:
                self._answering -= 1
                if not self._answering:
                    self._idle.notify_all()

    def wait_turn(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: not self._answering, timeout=self.patience)


PAGE_FIRST = PageFirst()  # one per server: every visitor's strokes before every live run


LOWEST_PRIORITY = 19  # nice: the scheduler runs this thread only when nothing else wants the core
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def behind_the_page(run: Iterator, stop: threading.Event) -> Iterator:
    """What `run` yields, produced on a thread of its own at the lowest CPU priority (on Linux; elsewhere at the usual
    one). Its errors are raised here. If the caller stops listening (a closed page), `stop` is set: the run ends before
    its next batch. A pool thread is never reniced: an unprivileged process could not raise its priority again."""
    updates: queue.SimpleQueue = queue.SimpleQueue()

    def produce() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)  # Linux: this thread alone
        except (AttributeError, OSError):
            pass
        try:
            for update in run:
                updates.put(update)
        except BaseException as e:  # handed to the caller, who raises it
            updates.put(_Failed(e))
        finally:
            updates.put(_END)

    thread = threading.Thread(target=produce, name="live-run", daemon=True)
    thread.start()
    finished = False
    try:
        while (update := updates.get()) is not _END:
            if isinstance(update, _Failed):
                raise update.error
            yield update
        finished = True
    finally:
        if not finished:
            stop.set()
