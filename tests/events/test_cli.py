"""``strangler asyncapi`` writes the document with no server; ``strangler events tail`` prints
a running server's stream, one line per event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from strangler.cli import app
from strangler.demo.activity import LegacyActivity
from strangler.demo.estate import DEMO_SPEC, running_estate
from strangler.rest.app import create_app
from tests.events.contract import assert_asyncapi_valid
from tests.servers import run_app


def test_asyncapi_writes_a_valid_document(tmp_path: Path) -> None:
    out = tmp_path / "asyncapi.json"
    with running_estate(state_dir=tmp_path) as estate:
        env = {
            "DEMO_ERP_URL": estate.erp_url,
            "DEMO_INVENTORY_URL": estate.inventory_url,
            "DEMO_PRICING_URL": estate.pricing_url,
            "DEMO_EVENTS_STATE": f"sqlite:///{tmp_path / 'state.sqlite'}",
        }
        result = CliRunner().invoke(app, ["asyncapi", str(DEMO_SPEC), "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert_asyncapi_valid(document)
    assert document["channels"]["orders"]["address"] == "erp.orders"
    assert "erp.OrdersRow" in document["components"]["schemas"]


def test_asyncapi_refuses_a_spec_without_events(tmp_path: Path) -> None:
    spec = tmp_path / "plain.yaml"
    spec.write_text("version: 1\nsystems: {}\n")
    result = CliRunner().invoke(app, ["asyncapi", str(spec)])
    assert result.exit_code == 1
    assert "no events" in result.output


def test_tail_prints_each_event_as_one_line(tmp_path: Path) -> None:
    with running_estate(state_dir=tmp_path) as estate, run_app(create_app(estate.spec)) as url:
        assert estate.erp_path is not None
        inserted = LegacyActivity(estate.erp_path, seed=3).insert_order().key
        process = subprocess.Popen(
            [sys.executable, "-m", "strangler.cli", "events", "tail", "orders", "--url", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert process.stdout is not None
            deadline = time.monotonic() + 60
            line = ""
            while f"\t{inserted}\t" not in line:
                assert time.monotonic() < deadline, "the inserted order never came"
                line = process.stdout.readline()
                assert line, process.stderr.read() if process.stderr else ""
            seq, moment, kind, subject, data = line.rstrip("\n").split("\t")
            assert int(seq) > 0 and moment.endswith("Z")
            assert kind == "strangler.erp.orders.created" and subject == inserted
            assert json.loads(data)["orderNumber"] == int(inserted)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=20) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_tail_names_an_unknown_stream() -> None:
    with running_estate() as estate, run_app(create_app(estate.spec)) as url:
        result = CliRunner().invoke(app, ["events", "tail", "nope", "--url", url])
    assert result.exit_code == 1
    assert "404" in result.output and "nope" in result.output
