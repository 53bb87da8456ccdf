"""The page before live training: strokes being answered hold a live run's next batch."""

import os
import threading
import time

import numpy as np

from space import live_training
from space.page_first import PageFirst


def test_a_run_waits_while_a_stroke_is_answered_and_goes_on_when_it_is_done():
    gate = PageFirst(patience=10.0)
    gate.wait_turn()  # nothing being answered: no wait
    passed = threading.Event()

    def next_batch():
        gate.wait_turn()
        passed.set()

    with gate.answering():
        with gate.answering():  # two strokes at once: the run waits for both
            trainer = threading.Thread(target=next_batch)
            trainer.start()
            assert not passed.wait(0.2)
        assert not passed.wait(0.2)
    assert passed.wait(5)
    trainer.join()


def test_a_stream_of_strokes_slows_a_run_but_never_stops_it():
    gate = PageFirst(patience=0.05)
    with gate.answering():
        start = time.perf_counter()
        gate.wait_turn()
        assert 0.04 <= time.perf_counter() - start < 2


def test_a_failing_stroke_still_lets_the_run_go_on():
    gate = PageFirst(patience=10.0)
    try:
        with gate.answering():
            raise ValueError("a bad drawing")
    except ValueError:
        pass
    start = time.perf_counter()
    gate.wait_turn()
    assert time.perf_counter() - start < 1


def test_a_live_run_asks_before_every_batch(monkeypatch, mnist_root):
    asked = []

    class Recording(PageFirst):
        def wait_turn(self):
            asked.append(1)

    monkeypatch.setattr(live_training, "PAGE_FIRST", Recording())
    monkeypatch.setattr(live_training, "DATA_DIR", str(mnist_root))
    updates = list(live_training.live_updates("mlp", 200, 8, 1, 2, 0.4, 0, "all", None, threading.Event()))
    assert updates[-1].final is not None
    assert len(asked) >= 2 * 2  # two epochs of 200 images at batch size 128: two batches each


def test_a_stroke_is_answered_inside_the_gate(monkeypatch):
    from space import side_by_side
    from space.pictures import png_data_uri
    from tiedae.drawing import draw_digit

    gate = PageFirst()
    seen = []
    real = side_by_side._reconstruct

    def answering_now(*args):
        seen.append(gate._answering)
        return real(*args)

    monkeypatch.setattr(side_by_side, "PAGE_FIRST", gate)
    monkeypatch.setattr(side_by_side, "_reconstruct", answering_now)
    drawing = png_data_uri(np.asarray(draw_digit(3).convert("L")))  # as the pad sends it
    _, numbers = side_by_side.reconstruct(drawing, "gaussian", 0.3, 0)
    assert seen == [1] and numbers["tied"]["mse"] > 0 and gate._answering == 0


def test_a_run_trains_on_a_thread_of_its_own_at_the_lowest_priority_and_hands_back_its_updates():
    from space.page_first import LOWEST_PRIORITY, behind_the_page

    def run():
        for epoch in range(3):
            yield (epoch, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    updates = list(behind_the_page(run(), threading.Event()))
    assert [epoch for epoch, _, _ in updates] == [0, 1, 2]
    assert {tid for _, tid, _ in updates} != {threading.get_native_id()}
    assert {nice for _, _, nice in updates} == {LOWEST_PRIORITY}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < LOWEST_PRIORITY  # this thread is untouched


def test_a_runs_error_reaches_the_caller_and_a_caller_who_leaves_stops_the_run():
    import pytest

    from space.page_first import behind_the_page

    def failing():
        yield 1
        raise ValueError("Only 200 training images are available here")

    with pytest.raises(ValueError, match="Only 200"):
        list(behind_the_page(failing(), threading.Event()))

    stop = threading.Event()

    def endless():
        while not stop.is_set():
            yield 1
            time.sleep(0.01)

    updates = behind_the_page(endless(), stop)
    next(updates)
    updates.close()  # the page was closed
    assert stop.is_set()
