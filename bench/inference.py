"""The embedded ONNX inference service against ``session.run`` and a hand-written endpoint.

Two models, built here (no download):

* **gbm**: scikit-learn's gradient boosting (100 trees of depth 3) on 20
  features, converted with skl2onnx: a run costs a few tens of microseconds, so
  what is measured is the serving around it.
* **wide**: a dense network (64 features, ``--layers`` hidden layers of ``--hidden`` units)
  built with ``onnx.helper``, whose single-row run costs about a millisecond:
  compute dominates, which is where batching pays.

Servers, each a subprocess of its own, one process, onnxruntime with one intra-op
thread:

* **ours**: ``strangler serve`` with a ``models:`` section serving ``gbm``,
  ``wide`` (dynamic batching, up to 64 rows, 2 ms) and ``wide_unbatched`` (the
  same file, batching off), Open Inference Protocol v2 JSON over HTTP;
* **hand-written**: the endpoint people write by hand, a FastAPI route
  (``def``, so it runs in FastAPI's thread pool) that reads the same v2 JSON
  body, calls ``session.run`` once per request and answers the outputs; one
  uvicorn worker.

Cells, in one run:

1. concurrency 1, gbm: p50/p99 through the service against ``session.run``
   in-process (the limit; same row, same session options);
2. concurrency 64, wide: requests/s with batching on against off;
3. concurrency 32 (gbm) and 64 (wide): requests/s of ours against the
   hand-written endpoint.

The load generator is this process: threads with a keep-alive ``http.client``
connection each, posting a prebuilt body. Rounds alternate which side goes
first; each figure is the median over rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    Call,
    LoadResult,
    Result,
    background,
    exit_on_signals,
    free_port,
    git_revision,
    http_poster,
    machine,
    percentile,
    results_table,
    run_load,
    wait_http,
    write_results,
)

HOST = "127.0.0.1"
GBM_FEATURES = 20
WIDE_FEATURES = 64
JSON = {"Content-Type": "application/json"}

HANDWRITTEN = textwrap.dedent(
    '''
    """The endpoint people write by hand: one session.run per request."""
    import os
    import numpy as np
    import onnxruntime as ort
    from fastapi import FastAPI

    app = FastAPI()
    sessions = {}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    for name in os.listdir(os.environ["MODELS"]):
        path = os.path.join(os.environ["MODELS"], name, "1", "model.onnx")
        sessions[name] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


    @app.get("/health")
    def health():
        return {"ok": True}


    @app.post("/v2/models/{name}/infer")
    def infer(name: str, body: dict):
        session = sessions[name]
        tensor = body["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
        names = [o.name for o in session.get_outputs()]
        values = session.run(names, {tensor["name"]: x})
        return {
            "model_name": name,
            "outputs": [
                {"name": n, "shape": list(v.shape), "datatype": "FP32", "data": v.ravel().tolist()}
                for n, v in zip(names, values)
            ],
        }
    '''
)


def build_models(folder: Path, hidden: int, layers: int) -> dict[str, Path]:
    """Write the two models into ``folder/<name>/1/model.onnx``; their paths."""
    from onnx import TensorProto, helper, numpy_helper, save
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(7)
    x = rng.standard_normal((4000, GBM_FEATURES)).astype(np.float32)
    y = (x[:, :5].sum(axis=1) + 0.5 * rng.standard_normal(4000) > 0).astype(np.int64)
    gbm = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=7).fit(x, y)
    onnx_gbm = convert_sklearn(
        gbm,
        initial_types=[("x", FloatTensorType([None, GBM_FEATURES]))],
        options={id(gbm): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    nodes, weights, previous, width = [], [], "x", WIDE_FEATURES
    for i in range(layers):
        w = (rng.standard_normal((width, hidden)) / np.sqrt(width)).astype(np.float32)
        weights.append(numpy_helper.from_array(w, f"W{i}"))
        nodes.append(helper.make_node("MatMul", [previous, f"W{i}"], [f"m{i}"]))
        nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"h{i}"]))
        previous, width = f"h{i}", hidden
    weights.append(numpy_helper.from_array(np.ones((hidden, 1), dtype=np.float32), "Wout"))
    nodes.append(helper.make_node("MatMul", [previous, "Wout"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", WIDE_FEATURES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        weights,
    )
    wide = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    wide.ir_version = 8
    paths = {}
    for name, model in (("gbm", onnx_gbm), ("wide", wide), ("wide_unbatched", wide)):
        path = folder / name / "1" / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        save(model, str(path))
        paths[name] = path
    return paths


def session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def in_process(path: Path, row: np.ndarray, seconds: float) -> dict[str, float]:
    """``session.run`` on one row, back to back: p50/p99 in ms (the limit)."""
    run = session(path)
    names = [o.name for o in run.get_outputs()]
    feed = {"x": row}
    for _ in range(200):
        run.run(names, feed)
    times: list[float] = []
    clock = time.perf_counter_ns
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        began = clock()
        run.run(names, feed)
        times.append(clock() - began)
    return {"p50": percentile(times, 50) / 1e6, "p99": percentile(times, 99) / 1e6}


def body(features: int) -> bytes:
    row = np.random.default_rng(1).standard_normal(features).round(4).tolist()
    tensor = {"name": "x", "datatype": "FP32", "shape": [1, features], "data": row}
    return json.dumps({"inputs": [tensor]}).encode()


def start(stack: contextlib.ExitStack, tmp: Path, models: Path) -> tuple[int, int]:
    """``strangler serve`` and the hand-written endpoint; their ports."""
    ours, theirs = free_port(), free_port()
    spec = tmp / "strangler.yaml"
    spec.write_text(
        f"version: 1\nserver: {{host: {HOST}, port: {ours}}}\ncache_dir: {tmp / 'cache'}\n"
        f"models:\n  repository: {models}\n  reload_s: 0\n  log: sqlite:///{tmp / 'log.db'}\n"
        "  serve:\n"
        "    gbm: {batching: {max_batch: 64, max_delay_ms: 2.0}}\n"
        "    wide: {batching: {max_batch: 64, max_delay_ms: 2.0}}\n"
        "    wide_unbatched: {batching: {enabled: false}}\n"
    )
    strangler = str(Path(sys.executable).with_name("strangler"))
    api = stack.enter_context(
        background([strangler, "serve", "-c", str(spec)], (tmp / "ours.log").open("wb"))
    )
    (tmp / "handwritten.py").write_text(HANDWRITTEN)
    cmd = [
        *(sys.executable, "-m", "uvicorn", "handwritten:app", "--app-dir", str(tmp)),
        *("--host", HOST, "--port", str(theirs), "--workers", "1", "--log-level", "warning"),
    ]
    os.environ["MODELS"] = str(models)
    hand = stack.enter_context(background(cmd, (tmp / "handwritten.log").open("wb")))
    wait_http(api, HOST, ours, "/v2/health/ready", timeout_s=60)
    wait_http(hand, HOST, theirs, "/health", timeout_s=60)
    return ours, theirs


def poster(port: int, model: str, payload: bytes) -> Callable[[], Call]:
    return http_poster(HOST, port, f"/v2/models/{model}/infer", payload, JSON)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds of 2 s per cell")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 3; quick 2)")
    parser.add_argument("--seconds", type=float, help="seconds per cell (default 8; quick 2)")
    parser.add_argument("--hidden", type=int, default=2048, help="units per hidden layer (wide)")
    parser.add_argument("--layers", type=int, default=3, help="hidden layers (wide)")
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    seconds = args.seconds or (2.0 if args.quick else 8.0)
    print(f"machine: {machine()}; revision {git_revision()}; {rounds} rounds x {seconds} s")
    with exit_on_signals(), contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-inference-")))
        paths = build_models(tmp / "models", args.hidden, args.layers)
        gbm_row = np.asarray([json.loads(body(GBM_FEATURES))["inputs"][0]["data"]], np.float32)
        wide_row = np.asarray([json.loads(body(WIDE_FEATURES))["inputs"][0]["data"]], np.float32)
        single = in_process(paths["wide"], wide_row, 1.0)
        print(f"wide: session.run of one row p50 {single['p50']:.3f} ms")
        ours, theirs = start(stack, tmp, tmp / "models")
        gbm, wide = body(GBM_FEATURES), body(WIDE_FEATURES)
        cells: dict[str, Callable[[], Call]] = {
            "ours gbm": poster(ours, "gbm", gbm),
            "hand gbm": poster(theirs, "gbm", gbm),
            "ours wide": poster(ours, "wide", wide),
            "ours wide unbatched": poster(ours, "wide_unbatched", wide),
            "hand wide": poster(theirs, "wide", wide),
        }
        for make in cells.values():  # warm up every route and session
            run_load(make, 4, 0.5)
        runs: dict[str, list[LoadResult]] = {}
        limits: list[dict[str, float]] = []
        plan = [
            ("ours gbm", 1), ("ours gbm", 32), ("hand gbm", 32),
            ("ours wide", 64), ("ours wide unbatched", 64), ("hand wide", 64),
        ]  # fmt: skip
        for round_ in range(rounds):
            limits.append(in_process(paths["gbm"], gbm_row, seconds))
            order = plan if round_ % 2 == 0 else plan[::-1]
            for name, conc in order:
                result = run_load(cells[name], conc, seconds)
                runs.setdefault(f"{name} c{conc}", []).append(result)
            line = ", ".join(f"{k} {v[-1].throughput:,.0f}/s" for k, v in runs.items())
            print(f"round {round_ + 1}: gbm limit p50 {limits[-1]['p50']:.3f} ms; {line}")

    def med(cell: str, what: str) -> float:
        return statistics.median(
            r.ms(50) if what == "p50" else r.ms(99) if what == "p99" else r.throughput
            for r in runs[cell]
        )

    limit_p50 = statistics.median(x["p50"] for x in limits)
    limit_p99 = statistics.median(x["p99"] for x in limits)
    added = med("ours gbm c1", "p50") - limit_p50
    results = [
        Result("c1 p50, gbm: service vs session.run in-process", med("ours gbm c1", "p50"),
               "ms", limit_p50, "lower"),
        Result("c1 p99, gbm: service vs session.run in-process", med("ours gbm c1", "p99"),
               "ms", limit_p99, "lower"),
        Result("c1 p50 added over session.run, gbm (peer: the 1 ms budget)", added, "ms", 1.0,
               "lower", 1.0),
        Result("c64 requests/s, wide: batching on vs off", med("ours wide c64", "rps"), "req/s",
               med("ours wide unbatched c64", "rps"), "higher", 3.0),
        Result("c64 requests/s, wide: ours vs hand-written FastAPI endpoint",
               med("ours wide c64", "rps"), "req/s", med("hand wide c64", "rps"), "higher", 2.0),
        Result("c32 requests/s, gbm: ours vs hand-written FastAPI endpoint",
               med("ours gbm c32", "rps"), "req/s", med("hand gbm c32", "rps"), "higher", 2.0),
        Result("c32 p50, gbm: ours vs hand-written FastAPI endpoint", med("ours gbm c32", "p50"),
               "ms", med("hand gbm c32", "p50"), "lower"),
        Result("wide: session.run of one row (calibration)", single["p50"], "ms", None, "lower"),
    ]  # fmt: skip
    print(results_table(results, "strangler", "peer"))
    if not args.no_write:
        print(f"wrote {write_results('inference', results)}")


if __name__ == "__main__":
    sys.exit(main())
