"""The Space's live training: the /train endpoint, Stop, one run at a time, the trained pair in the session."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import pytest

from space import live_training, side_by_side
from space.pictures import png_data_uri
from tiedae.drawing import draw_digit

SMALL = ("mlp", 200, 8, 1, 3, 0.4, 0)  # arch, train_size, latent, depth, epochs, noise_level, seed


@pytest.fixture(autouse=True)
def tiny_mnist(monkeypatch, mnist_root):
    monkeypatch.setattr(live_training, "DATA_DIR", str(mnist_root))


def visitor(name: str) -> tuple[live_training.LiveSession, gr.Request]:
    """A visitor's session (their gr.State's value) and the request their events carry."""
    return live_training.LiveSession(), gr.Request(session_hash=name)


def pad(image) -> str:
    return png_data_uri(__import__("numpy").asarray(image.convert("L")))


def test_api_train_streams_one_update_per_epoch_and_ends_with_the_documented_result(app_url, mnist_root):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    job = client.submit(*SMALL, api_name="/train")
    job.result(timeout=120)
    outputs = job.outputs()
    assert len(outputs) == 3  # epochs 1 and 2, then the last epoch's update: the result
    assert [o["epoch"] for o in outputs[:-1]] == [1, 2] and all(len(o["tied"]["curve"]) == o["epoch"] for o in outputs[:-1])
    final = outputs[-1]
    assert set(final) == {"tied", "untied", "seconds", "command"}
    for name in ("tied", "untied"):
        assert set(final[name]) == {"curve", "test_mse_clean", "test_mse_noisy", "parameters", "tie"}
        assert len(final[name]["curve"]) == 3
    assert final["tied"]["parameters"] < final["untied"]["parameters"]
    assert final["command"].startswith(f"python train.py --data-dir {mnist_root} ") and "--latent" not in final["command"]
    assert "--sizes 784 400 8" in final["command"] and "--train-size 200" in final["command"]
    assert final["tied"]["tie"] == "11" and final["untied"]["tie"] == "00"


def test_api_train_takes_which_layers_to_tie(app_url):
    from gradio_client import Client

    final = Client(app_url, verbose=False).predict(*SMALL, "inner", api_name="/train")
    assert final["tied"]["tie"] == "01" and "--tie inner" in final["command"]
    assert final["tied"]["parameters"] > final["untied"]["parameters"] // 2  # the outer pair keeps its own decoder weight


@pytest.mark.parametrize(
    "settings, message",
    [
        (("rnn", 200, 8, 1, 3, 0.4, 0), "Architecture must be one of mlp, conv"),
        (("mlp", 5, 8, 1, 3, 0.4, 0), "Training images must be a whole number from 100 to 60,000"),
        (("mlp", 200, 8, 9, 3, 0.4, 0), "Hidden layers must be a whole number from 1 to 3"),
        (("mlp", 200, 8, 1, 500, 0.4, 0), "Epochs must be a whole number from 1 to 50"),
        (("mlp", 200, 8, 1, 3, 3.0, 0), "Training noise must be a number from 0 to 1"),
        (("mlp", 200, 8, 1, 3, 0.4, 0, "0110"), "Tied layers: tie mask '0110' has 4 digits"),
        (("conv", 200, 8, 1, 3, 0.4, 0, "none"), "Tied layers: tie='none' ties no layer pair"),
    ],
)
def test_api_train_refuses_bad_settings_clearly_and_keeps_serving(app_url, settings, message):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    with pytest.raises(AppError, match=message):
        client.predict(*settings, api_name="/train")
    assert client.predict(*SMALL, api_name="/train")["tied"]["test_mse_clean"] > 0


def test_without_mnist_the_section_says_how_to_fix_it_and_the_rest_works(app_url, monkeypatch, tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    monkeypatch.setattr(live_training, "DATA_DIR", str(tmp_path / "no-mnist"))
    assert "first run downloads it" in live_training.live_settings_note() and "--data-dir" in live_training.live_settings_note()
    client = Client(app_url, verbose=False)
    with pytest.raises(AppError, match=r"Live training needs MNIST.*--data-dir DIR"):
        client.predict(*SMALL, api_name="/train")
    assert side_by_side.reconstruct(pad(draw_digit(3)), "gaussian", 0.3, 0)[1]["tied"]["mse"] > 0


def test_stop_ends_a_page_run_at_once_and_says_so():
    session, req = visitor("stop-test")
    run = live_training.train_view("conv", 200, 8, 1, 50, 0.4, 0, "all", "", session, req)
    assert "Starting" in next(run)[0]
    first = next(run)
    assert "epoch 1 of 50" in first[0]
    live_training.stop_training(session)
    start = time.perf_counter()
    rest = list(run)
    assert time.perf_counter() - start < 2
    assert len(rest) == 1 and "Stopped" in rest[0][0] and "after 1 of 50 epochs" in rest[0][0]
    assert session.trained is None and "stop-test" not in live_training._running
    session = live_training.session_for_run(session)  # a new click after Stop: a new switch, and the run trains to the end
    assert "Done" in list(live_training.train_view(*SMALL, "all", "", session, req))[-1][0]
    live_training.end_session(req)


def test_stop_pressed_while_a_run_waits_its_turn_ends_it_before_it_starts():
    session, req = visitor("queued")
    session = live_training.session_for_run(session)  # the click, before the queue
    live_training.stop_training(session)  # Stop while waiting
    (only,) = list(live_training.train_view(*SMALL, "all", "", session, req))
    assert "Stopped" in only[0] and "before it started" in only[0]
    session = live_training.session_for_run(session)  # the next click gets a fresh switch
    assert "Done" in list(live_training.train_view(*SMALL, "all", "", session, req))[-1][0]
    live_training.end_session(req)


def test_leaving_the_page_stops_the_run_and_drops_the_trained_pair():
    session, req = visitor("leaver")
    list(live_training.train_view(*SMALL, "all", "", session, req))
    zip_path = session.trained.zip
    assert zip_path.is_file()
    run = live_training.train_view("conv", 200, 8, 1, 50, 0.4, 0, "all", "", session, req)
    next(run), next(run)
    live_training.end_session(req)
    rest = list(run)
    assert "Stopped" in rest[-1][0]
    assert session.trained is None and not zip_path.exists()
    assert "leaver" not in live_training._kept and "leaver" not in live_training._running


def test_a_session_that_expires_drops_its_pair():
    session, req = visitor("expires")
    list(live_training.train_view(*SMALL, "all", "", session, req))
    zip_path = session.trained.zip
    live_training.forget_session(session)  # what gr.State's delete_callback does when the session's time to live ends
    assert session.trained is None and not zip_path.exists() and "expires" not in live_training._kept
    live_training.forget_session(None)  # a session that never trained: nothing to do


def test_a_finished_run_offers_its_pair_for_the_side_by_side_and_as_a_zip():
    session, req = visitor("mine")
    drawing = pad(draw_digit(3))
    *_, last = live_training.train_view(*SMALL, "all", drawing, session, req)
    status, curves, digits, result, command, caption, chart, use, download = last
    assert "Done" in status and "clean test MSE" in result and "yours" in digits
    assert curves is not None and chart is not None  # the curves, and the study chart with the run marked
    assert command["value"].startswith("python train.py") and use["interactive"] and download["visible"]
    assert Path(download["value"]).suffix == ".zip" and "nearest yours" in caption
    shipped = side_by_side.reconstruct(drawing, "gaussian", 0.3, 0, live_training.side_shown("shipped", session))
    mine = side_by_side.reconstruct(drawing, "gaussian", 0.3, 0, live_training.side_shown("mine", session))
    assert "Yours: MLP 784-400-8" in mine[0] and "Yours" not in shipped[0]
    trained = session.trained.pair.parameters
    assert mine[1]["tied"]["parameters"] == trained["tied"] != shipped[1]["tied"]["parameters"]
    assert mine[1]["conv_tied"] == shipped[1]["conv_tied"]  # the other family's pair stays the shipped one
    live_training.end_session(req)
    mine_again = side_by_side.reconstruct(drawing, "gaussian", 0.3, 0, live_training.side_shown("mine", session))
    assert mine_again[1] == shipped[1]  # their pair is gone: the shipped one again


def test_trained_pairs_are_kept_for_a_bounded_number_of_sessions(monkeypatch):
    monkeypatch.setattr(live_training, "MAX_TRAINED", 2)
    sessions, zips = [], []
    for name in ("a", "b", "c"):
        session, req = visitor(f"bounded-{name}")
        list(live_training.train_view("mlp", 100, 4, 1, 1, 0.0, 0, "all", "", session, req))
        sessions.append(session)
        zips.append(session.trained.zip)
    assert sessions[0].trained is None and not zips[0].exists() and "bounded-a" not in live_training._kept
    assert {"bounded-b", "bounded-c"} <= set(live_training._kept) and zips[2].exists()
    for name in ("b", "c"):
        live_training.end_session(gr.Request(session_hash=f"bounded-{name}"))


def test_runs_from_two_visitors_train_one_after_the_other(app_url):
    from gradio_client import Client

    def timed_run(_):
        client = Client(app_url, verbose=False)
        job = client.submit("conv", 200, 8, 1, 4, 0.4, 0, api_name="/train")
        times = []
        for _update in job:
            times.append(time.perf_counter())
        return times, job.outputs()[-1]

    with ThreadPoolExecutor(2) as pool:
        (a, final_a), (b, final_b) = pool.map(timed_run, range(2))
    first, second = sorted([a, b])
    assert second[0] > first[-1]  # the second run's first epoch came after the first run had finished
    assert final_a == {**final_b, "seconds": final_a["seconds"]}  # and both trained the same pair
