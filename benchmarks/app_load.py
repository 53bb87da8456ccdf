"""App latency, server CPU and load against the Gradio floor, plus cold start, measured side by side.

    python benchmarks/app_load.py [--calls 200] [--clients 8] [--duration 30] [--quick]
    python benchmarks/app_load.py --baseline ../before   # and another checkout's app, in turn with this one

Starts `python app.py` and, beside it, the *floor*: a trivial Gradio app served the same way
whose endpoint returns one small image (what any Gradio call costs here). Both get the same
gradio_client traffic:
1. single client: alternating calls, p50/p95 latency and server CPU per call (from
   /proc/<pid>/stat), each as a ratio to the floor's: a stroke (/stroke, the page's own event,
   with a new drawing), a slider move (the same drawing, new noise) and a click on a latent map
   (/decode_latent at a random point of the map);
2. load: N concurrent clients call /stroke for T seconds with varied drawings sent as the
   app's pad sends a stroke (a PNG data URL of the canvas, at the pad's size as the running
   app states it in its /config) and noise: p50/p95/p99, calls/s, errors, server RSS after
   warm-up and at the end;
3. cold start: seconds from `python app.py` to the first HTTP 200, median of 3; and to the
   first stroke answered (torch and the models load in the background once the page is up);
   the floor app is started in turn with it, to show what Gradio alone costs here.

With --baseline DIR (another checkout of the project, e.g. `git worktree add ../before <commit>`), that
checkout's app.py is served too and gets the same single-client strokes and cold starts, in turn with this
one's, so a change is judged against the code before it on the same machine at the same moment.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _common import ROOT, free_port, machine, median, parse_with_quick, percentile, start_server, verdict, wait_http_200

from tiedae.drawing import draw_digit
from tiedae.latent import LatentMap

FLOOR_APP = """
import gradio as gr
import numpy as np

BASE = (np.arange(28 * 28).reshape(28, 28) * 7) % 256


def floor(x: float) -> np.ndarray:
    # a new small image per call, as any real image endpoint returns (a constant one is cached by Gradio)
    return ((BASE + int(x * 1e6)) % 256).astype(np.uint8)


with gr.Blocks() as demo:
    value = gr.Number(0)
    image = gr.Image(format="png", type="numpy", image_mode="L")
    value.change(floor, value, image, api_name="floor")

demo.queue(default_concurrency_limit=max(1, __import__("os").cpu_count() or 1))

if __name__ == "__main__":
    demo.launch()
"""
GOALS = {"latency": 1.1, "cpu": 1.5, "rss_growth": 0.05, "click": 1.1}
CLK_TCK = os.sysconf("SC_CLK_TCK")
LATENT_MAPS = {name: LatentMap.load(ROOT / "checkpoints" / "2d" / name / "latent_map.npz") for name in ("tied", "untied")}


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pad_size(url: str) -> int:
    """The drawing pad's canvas size in pixels, as the running app states it in its public /config."""
    with urllib.request.urlopen(f"{url}config", timeout=30) as r:
        components = json.loads(r.read())["components"]
    (pad,) = (c for c in components if c.get("props", {}).get("elem_id") == "sketchpad")
    return int(pad["props"]["props"]["size"])


def make_drawings(count: int, side: int) -> list[str]:
    """count drawings as the app's pad sends each stroke: a PNG data URL of its side×side canvas,
    black strokes on opaque white, RGBA as a browser canvas exports it (digits at varied places,
    sizes and pens)."""
    rng = random.Random(0)
    drawings = []
    for i in range(count):
        w, h = rng.uniform(0.25, 0.52) * side, rng.uniform(0.4, 0.75) * side
        x0, y0 = rng.uniform(0.025 * side, 0.975 * side - w), rng.uniform(0.025 * side, 0.975 * side - h)
        pen = {"size": (side, side), "box": (x0, y0, x0 + w, y0 + h), "width": rng.uniform(0.022, 0.062) * side}
        buffer = io.BytesIO()
        draw_digit(i % 10, background="white", **pen).convert("RGBA").save(buffer, format="PNG")
        drawings.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    return drawings


class Caller:
    """One gradio_client per thread: makes one call and times it.

    kind "app": a new drawing every call (walking the list from its own offset), as strokes
    are; "app-same": one drawing with new noise every call, as slider moves are; "app-click": a
    random point of a 2-D model's map decoded, as a click on the map is; "floor".
    """

    def __init__(self, url: str, kind: str, drawings: list[str], seed: int, start: int = 0):
        from gradio_client import Client

        self.client = Client(url, verbose=False, download_files=tempfile.mkdtemp(prefix="tiedae-bench-client-"))
        self.kind = kind
        self.drawings = drawings
        self.rng = random.Random(seed)
        self.next = start  # clients start far apart in the list, so none repeats another's recent drawing

    def drawing(self) -> str:
        if self.kind.endswith("-same"):
            return self.drawings[0]
        self.next += 1
        return self.drawings[self.next % len(self.drawings)]

    def call(self) -> float:
        start = time.perf_counter()
        if self.kind == "floor":
            self.client.predict(self.rng.random(), api_name="/floor")
        elif self.kind.endswith("-click"):
            name = self.rng.choice(list(LATENT_MAPS))
            low, span = LATENT_MAPS[name].low, LATENT_MAPS[name].span
            x, y = (float(low[i] + self.rng.random() * span) for i in (0, 1))
            self.client.predict(name, x, y, api_name="/decode_latent")
        else:
            noise = self.rng.choice(["gaussian", "salt_pepper", "uniform"])
            level, seed = round(self.rng.random(), 2), self.rng.randrange(1000)
            shown, numbers = self.client.predict(self.drawing(), noise, level, seed, api_name="/stroke")
            if numbers is None:
                raise RuntimeError(f"no reconstruction: {shown}")
        return time.perf_counter() - start


def single_client(servers: dict, drawings: list[str], calls: int) -> dict:
    """Alternate stroke (a new drawing), slider (the same drawing) and map-click calls to the app (and the same to the
    baseline, so both carry the same clients) with floor calls; latency and server CPU per call."""
    callers, targets = {}, {}  # each caller, and the server it calls
    for name, server in servers.items():
        kinds = [("", 1)] if name == "floor" else [("", 1), ("-same", 2), ("-click", 3)]  # app and baseline: the same traffic
        for suffix, seed in kinds:
            targets[name + suffix] = server
            callers[name + suffix] = Caller(server["url"], name + suffix, drawings, seed=seed)
    for caller in callers.values():  # warm-up
        for _ in range(5):
            caller.call()
    latencies = {name: [] for name in targets}
    cpu = dict.fromkeys(targets, 0.0)
    order = list(callers)
    shuffle = random.Random(0).shuffle
    for _ in range(calls):
        shuffle(order)  # a new order each round: no server always follows the same one (latency here comes in ~40 ms steps)
        for name in order:
            caller = callers[name]
            before = cpu_seconds(targets[name]["proc"].pid)
            latencies[name].append(caller.call())
            cpu[name] += cpu_seconds(targets[name]["proc"].pid) - before
    return {
        name: {"p50": median(latencies[name]), "p95": percentile(latencies[name], 95), "cpu_per_call": cpu[name] / calls}
        for name in targets
    }


def load(server: dict, drawings: list[str], clients: int, duration: float, warmup: float) -> dict:
    """clients threads calling /stroke (the pad's event): `warmup` seconds unmeasured, then `duration` seconds measured."""
    callers = [Caller(server["url"], "app", drawings, seed=100 + i, start=i * len(drawings) // clients) for i in range(clients)]
    pid = server["proc"].pid
    latencies: list[float] = []
    errors: list[str] = []
    rss_trace: list[tuple[float, float]] = []
    lock = threading.Lock()
    phase = {"measuring": False, "stop": time.perf_counter() + warmup + duration}

    def worker(caller: Caller) -> None:
        while time.perf_counter() < phase["stop"]:
            try:
                seconds = caller.call()
                if phase["measuring"]:
                    with lock:
                        latencies.append(seconds)
            except Exception as e:  # every failure is counted and reported
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:200])

    threads = [threading.Thread(target=worker, args=(c,)) for c in callers]
    for t in threads:
        t.start()
    time.sleep(warmup)
    phase["measuring"] = True
    start, cpu_start, rss_start = time.perf_counter(), cpu_seconds(pid), rss_mb(pid)
    while any(t.is_alive() for t in threads):
        rss_trace.append((time.perf_counter() - start, rss_mb(pid)))
        time.sleep(min(10.0, max(0.5, duration / 12)))
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "calls": len(latencies),
        "errors": errors,
        "calls_per_s": len(latencies) / elapsed,
        "p50": median(latencies),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "rss_start": rss_start,
        "rss_end": rss_mb(pid),
        "rss_trace": rss_trace,
        "cpu_per_call": (cpu_seconds(pid) - cpu_start) / max(1, len(latencies)),
    }


def cold_start(
    runs: int, drawing: str, floor_script: Path, baseline: Path | None = None
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Seconds from `python app.py` to the page (first HTTP 200) and to the first stroke answered; the floor's to its page.

    The page does not wait for torch and the models (they load behind it); the second figure is
    when they are in: a client connecting as soon as the page is up and sending one stroke. The
    floor app starts in turn with the app, so the third figure is what importing and launching
    Gradio alone costs on this machine that moment.
    """
    pages, strokes, floors, baselines = [], [], [], []
    roles = [("app", ROOT / "app.py"), ("floor", floor_script), *([("baseline", baseline / "app.py")] if baseline else [])]
    for run in range(runs):
        # each run in another order: the first start after a pause is slower (files leave the page cache), whichever it is
        for role, script in roles[run % len(roles) :] + roles[: run % len(roles)]:
            port = free_port()
            start = time.perf_counter()
            proc = start_server(script, port)
            try:
                wait_http_200(port)
                if role != "app":
                    (floors if role == "floor" else baselines).append(time.perf_counter() - start)
                    continue
                pages.append(time.perf_counter() - start)
                Caller(f"http://127.0.0.1:{port}/", "app-same", [drawing], seed=0).call()
                strokes.append(time.perf_counter() - start)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    return pages, strokes, floors, baselines


QUICK = {"calls": 10, "clients": 2, "duration": 3, "warmup": 1, "cold_starts": 1}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--calls", type=int, default=200, help="single-client calls to each server")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients in the load phase")
    p.add_argument("--duration", type=float, default=30, help="seconds of measured load")
    p.add_argument("--warmup", type=float, default=10, help="seconds of load before measuring (RSS baseline after it)")
    p.add_argument("--cold-starts", type=int, default=3, help="cold starts to time")
    p.add_argument(
        "--baseline", type=Path, default=None, help="another checkout's folder: its app.py measured in turn with this one"
    )
    args = parse_with_quick(p, QUICK, "10 calls, 2 clients for 3 s, 1 cold start")
    print(machine())

    tmp = Path(tempfile.mkdtemp(prefix="tiedae-bench-app-"))
    floor_script = tmp / "floor_app.py"
    floor_script.write_text(FLOOR_APP)
    servers = {}
    try:
        scripts = [
            ("app", ROOT / "app.py"),
            ("floor", floor_script),
            *([("baseline", args.baseline / "app.py")] if args.baseline else []),
        ]
        for name, script in scripts:
            port = free_port()
            servers[name] = {"proc": start_server(script, port), "url": f"http://127.0.0.1:{port}/"}
            wait_http_200(port)
        side = pad_size(servers["app"]["url"])
        print(f"the app's drawing pad (from its /config): {side}×{side} px")
        drawings = make_drawings(40 if args.quick else 1500, side)

        single = single_client(servers, drawings, args.calls)
        a, f = single["app"], single["floor"]
        print(f"\nsingle client, {args.calls} alternating calls each")
        print(f"app = a new {side}×{side} drawing every call (a stroke); app-same = the same drawing, new noise (a slider move)")
        print("app-click = /decode_latent at a random point of a 2-D map (a click on the map)")
        print(f"{'':<10}{'p50 ms':>10}{'p95 ms':>10}{'server CPU ms/call':>20}")
        for name in ("app", "app-same", "app-click", "floor"):
            s = single[name]
            print(f"{name:<10}{1000 * s['p50']:>10.1f}{1000 * s['p95']:>10.1f}{1000 * s['cpu_per_call']:>20.1f}")
        latency_ratio, cpu_ratio = a["p50"] / f["p50"], a["cpu_per_call"] / f["cpu_per_call"]
        print(f"{'app/floor':<10}{latency_ratio:>10.2f}{a['p95'] / f['p95']:>10.2f}{cpu_ratio:>20.2f}")
        for name in ("app-same", "app-click"):
            s = single[name]
            label = name.split("-")[1] + "/floor"
            print(
                f"{label:<10}{s['p50'] / f['p50']:>10.2f}{s['p95'] / f['p95']:>10.2f}{s['cpu_per_call'] / f['cpu_per_call']:>20.2f}"
            )
        click_ratio = single["app-click"]["p50"] / f["p50"]
        if args.baseline:
            b = single["baseline"]
            baseline_ratios = (b["p50"] / f["p50"], b["cpu_per_call"] / f["cpu_per_call"])
            print(
                f"{'baseline':<10}{1000 * b['p50']:>10.1f}{1000 * b['p95']:>10.1f}{1000 * b['cpu_per_call']:>20.1f}   ({args.baseline})"
            )
            print(f"{'base/floor':<10}{baseline_ratios[0]:>10.2f}{b['p95'] / f['p95']:>10.2f}{baseline_ratios[1]:>20.2f}")
            print(
                f"{'app/base':<10}{a['p50'] / b['p50']:>10.2f}{a['p95'] / b['p95']:>10.2f}{a['cpu_per_call'] / b['cpu_per_call']:>20.2f}"
            )

        result = load(servers["app"], drawings, args.clients, args.duration, args.warmup)
        growth = result["rss_end"] / result["rss_start"] - 1
        print(f"\nload: {args.clients} clients, {args.warmup:.0f}s warm-up then {args.duration:.0f}s measured on /stroke")
        print(
            f"calls {result['calls']}  errors {len(result['errors'])}  calls/s {result['calls_per_s']:.1f}  "
            f"p50 {1000 * result['p50']:.0f} ms  p95 {1000 * result['p95']:.0f} ms  p99 {1000 * result['p99']:.0f} ms  "
            f"server CPU {1000 * result['cpu_per_call']:.1f} ms/call"
        )
        print(
            f"server RSS {result['rss_start']:.1f} MB after {args.warmup:.0f}s warm-up -> {result['rss_end']:.1f} MB at the end ({100 * growth:+.1f}%)"
        )
        print("RSS over time: " + ", ".join(f"{t:.0f}s {mb:.0f} MB" for t, mb in result["rss_trace"]))
        for error in sorted(set(result["errors"]))[:5]:
            print(f"  error: {error}")
    finally:
        for server in servers.values():
            server["proc"].terminate()
            server["proc"].wait(timeout=30)

    starts, first_strokes, floor_starts, baseline_starts = cold_start(args.cold_starts, drawings[0], floor_script, args.baseline)
    print(
        f"\ncold start (python app.py to first HTTP 200): {', '.join(f'{s:.2f}s' for s in starts)}; median {statistics.median(starts):.2f}s"
    )
    print(
        f"the floor app's, in turn with it (Gradio's import and launch alone): {', '.join(f'{s:.2f}s' for s in floor_starts)}; "
        f"median {statistics.median(floor_starts):.2f}s"
    )
    print(
        f"first stroke answered (a client connecting at the first 200; torch and the models load behind the page): "
        f"{', '.join(f'{s:.2f}s' for s in first_strokes)}; median {statistics.median(first_strokes):.2f}s"
    )

    if args.baseline:
        print(
            f"the baseline app's, in turn with them: {', '.join(f'{s:.2f}s' for s in baseline_starts)}; median {statistics.median(baseline_starts):.2f}s"
        )

    met = {
        "latency": latency_ratio <= GOALS["latency"],
        "cpu": cpu_ratio <= GOALS["cpu"],
        "errors": not result["errors"],
        "rss": growth < GOALS["rss_growth"],
        "cold start": statistics.median(starts) <= 5,
        "click latency": click_ratio <= GOALS["click"],
    }
    print(
        f"SUMMARY app: p50 {latency_ratio:.2f}x and CPU {cpu_ratio:.2f}x the Gradio floor; map click p50 {click_ratio:.2f}x; {args.clients} clients: "
        f"{result['calls']} calls, {len(result['errors'])} errors, RSS {100 * growth:+.1f}%; cold start {statistics.median(starts):.2f}s "
        f"(the floor app's {statistics.median(floor_starts):.2f}s; first stroke answered at {statistics.median(first_strokes):.2f}s) ({verdict(args.quick, met)})"
    )
    if args.baseline:
        print(
            f"SUMMARY app against the baseline ({args.baseline}), in turn in this run: stroke p50 {latency_ratio:.2f}x vs "
            f"{baseline_ratios[0]:.2f}x the floor, CPU {cpu_ratio:.2f}x vs {baseline_ratios[1]:.2f}x, cold start "
            f"{statistics.median(starts):.2f}s vs {statistics.median(baseline_starts):.2f}s"
        )
    return 0 if args.quick or not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
