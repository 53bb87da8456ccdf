"""The page before live training: while a visitor's stroke is being answered, a live run waits between batches.

A live run trains on one core and a stroke is answered on the other, but both are Python threads of one process:
between its torch calls the training thread holds the GIL, and a stroke (decode the PNG, find the digit, six small
models, encode six PNGs) waits for it again and again. So the training loop asks `wait_turn()` before each batch,
and gives way while any stroke is in `answering()`: the stroke then runs as on an idle server, and the run loses
only the time strokes take. `patience` bounds each wait, so a stream of strokes slows a run but never stops it.
"""

from __future__ import annotations

import contextlib
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
