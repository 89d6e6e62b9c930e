"""The canary admin API and ``strangler canary`` over a running app: pause, resume, promote
and rollback by hand, each audited with who and why; precise problems otherwise."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from strangler.cli import app as cli
from tests.canary.conftest import (
    Estate,
    Serve,
    analyses,
    audit,
    rollout_spec,
    status,
    traffic,
    wait_for,
)

PROBLEM = "application/problem+json"


def test_pause_resume_promote_and_rollback_by_hand(
    estate: Estate, route: str, serve: Serve
) -> None:
    spec = rollout_spec(estate, route, steps="[shadow, 0.5, 1.0]")
    with serve(spec) as url, httpx.Client(base_url=url, timeout=30) as client:
        who = {"X-Strangler-Actor": "ops:alice"}
        paused = client.post(f"/admin/canary/{route}/pause", json={"reason": "lunch"}, headers=who)
        assert paused.status_code == 200 and paused.json()["status"] == "paused"
        with traffic(url):  # paused: no analysis moves it, whatever the traffic
            wait_for(lambda: status(url, route)["holder"] is None, "lease given up")
            stopped = len(client.get(f"/admin/canary/{route}/analyses").json()["items"])
            wait_for(
                lambda: client.get("/metrics").text.count(f'route="{route}",side="legacy"') > 0,
                "traffic counted",
            )
            assert status(url, route)["step"] == 0
        assert len(client.get(f"/admin/canary/{route}/analyses").json()["items"]) <= stopped + 1
        promoted = client.post(f"/admin/canary/{route}/promote").json()
        assert (promoted["status"], promoted["step"], promoted["mode"]) == ("paused", 1, "canary")
        assert promoted["weight"] == 0.5
        resumed = client.post(f"/admin/canary/{route}/resume", headers=who).json()
        assert resumed["status"] == "running"
        back = client.post(f"/admin/canary/{route}/rollback", json={"reason": "drill"}).json()
        assert (back["status"], back["mode"], back["weight"]) == ("rolled_back", "legacy", 0.0)
        again = client.post(f"/admin/canary/{route}/resume").json()
        assert (again["status"], again["step"], again["mode"]) == ("running", 0, "shadow")
        rows = audit(url, route)
    assert [(r["action"], r["from"], r["to"], r["actor"], r["reason"]) for r in rows[1:]] == [
        ("pause", "running", "paused", "ops:alice", "lunch"),
        ("promote", "shadow", "50%", "admin-api", "promote asked"),
        ("resume", "paused", "running", "ops:alice", "resume asked"),
        ("rollback", "50%", "legacy", "admin-api", "drill"),
        ("resume", "rolled_back", "shadow", "admin-api", "resume asked"),
    ]


def test_a_rollout_that_is_not_auto_waits_for_promote_and_still_rolls_back(
    estate: Estate, route: str, serve: Serve
) -> None:
    spec = rollout_spec(estate, route, steps="[0.5, 1.0]", rollout="auto: false")
    with serve(spec) as url, httpx.Client(base_url=url, timeout=30) as client:
        with traffic(url):
            passed = wait_for(
                lambda: [a for a in analyses(url, route) if a["verdict"] == "pass"], "a pass"
            )
            wait_for(lambda: len(analyses(url, route)) > len(passed) + 3, "more analyses")
            assert status(url, route)["step"] == 0  # passed, and held for a person to decide
            moved = client.post(f"/admin/canary/{route}/promote", json={"reason": "looks good"})
            assert moved.json()["step"] == 1 and moved.json()["mode"] == "modern"
            estate.modern_faults.errors = 1.0
            back = wait_for(
                lambda: (s := status(url, route))["status"] == "rolled_back" and s, "rollback"
            )
        rows = audit(url, route)
    assert back["mode"] == "legacy"
    assert [(r["action"], r["actor"]) for r in rows] == [
        ("start", rows[0]["actor"]),
        ("promote", "admin-api"),
        ("rollback", rows[0]["actor"]),
    ]


def test_a_split_set_by_hand_pauses_the_rollout(estate: Estate, route: str, serve: Serve) -> None:
    spec = rollout_spec(estate, route, steps="[shadow, 0.5, 1.0]")
    with serve(spec) as url, httpx.Client(base_url=url, timeout=30) as client:
        set_to = client.put(f"/admin/routes/{route}", json={"mode": "canary", "weight": 0.2})
        assert set_to.status_code == 200
        paused = wait_for(
            lambda: (s := status(url, route))["status"] == "paused" and s, "pause", 10
        )
        assert (paused["mode"], paused["weight"], paused["step"]) == ("canary", 0.2, 0)
        assert "by hand" in paused["reason"]
        resumed = client.post(f"/admin/canary/{route}/resume").json()
        assert (resumed["status"], resumed["mode"], resumed["weight"]) == ("running", "shadow", 0)
        rows = audit(url, route)
    assert [r["action"] for r in rows] == ["start", "pause", "resume"]
    assert rows[1]["figures"] == {"mode": "canary", "weight": 0.2}


def test_refusals_are_precise_problems(estate: Estate, route: str, serve: Serve) -> None:
    spec = rollout_spec(estate, route, steps="[1.0]")
    spec += f"""
    plain:
      path: /api/plain
      legacy: {{url: "{estate.legacy}/advice"}}
      modern: {{url: "{estate.modern}/advice"}}
"""
    with serve(spec) as url, httpx.Client(base_url=url, timeout=30) as client:
        listed = client.get("/admin/canary").json()["items"]
        assert [item["route"] for item in listed] == [route]
        for path in ("/admin/canary/nowhere", "/admin/canary/plain/pause"):
            answer = client.request("POST" if path.endswith("pause") else "GET", path)
            assert answer.status_code == 404, answer.text
            assert answer.headers["content-type"] == PROBLEM
        assert "plain" in client.get("/admin/canary/plain").json()["detail"]
        wrong = client.post(f"/admin/canary/{route}/accelerate")
        assert wrong.status_code == 404 and wrong.headers["content-type"] == PROBLEM
        read = client.post(f"/admin/canary/{route}/audit")  # a read, not an action
        assert read.status_code == 405 and read.headers["content-type"] == PROBLEM
        extra = client.post(f"/admin/canary/{route}/pause", json={"reason": "x", "why": "y"})
        assert extra.status_code == 422
        assert client.post(f"/admin/canary/{route}/resume").status_code == 409  # it runs
        assert client.post(f"/admin/canary/{route}/promote").json()["status"] == "promoted"
        done = client.post(f"/admin/canary/{route}/promote")
        assert done.status_code == 409 and done.headers["content-type"] == PROBLEM
        assert "promoted" in done.json()["detail"]
        assert client.post(f"/admin/canary/{route}/pause").status_code == 409
        assert client.post(f"/admin/canary/{route}/rollback").status_code == 200
        assert client.post(f"/admin/canary/{route}/rollback").status_code == 409
        document = client.get("/openapi.json").json()
        assert {"get", "post"} <= {
            method for path, item in document["paths"].items() if "/admin/canary" in path
            for method in item
        }  # fmt: skip


def test_the_cli_reads_and_steers_a_rollout(estate: Estate, route: str, serve: Serve) -> None:
    spec = rollout_spec(estate, route, steps="[shadow, 0.5, 1.0]")
    runner = CliRunner()
    with serve(spec) as url:
        shown = runner.invoke(cli, ["canary", "status", route, "--url", url])
        assert shown.exit_code == 0, shown.output
        assert f"{route} (/api/advice): running, step 0 of [shadow] -> 50% -> 100%" in shown.output
        assert "mode shadow" in shown.output
        every = runner.invoke(cli, ["canary", "status", "--url", url])
        assert every.exit_code == 0 and shown.output.splitlines()[0] in every.output
        paused = runner.invoke(
            cli, ["canary", "pause", route, "--url", url, "--reason", "look first"]
        )
        assert paused.exit_code == 0 and "paused" in paused.output
        promoted = runner.invoke(cli, ["canary", "promote", route], env={"STRANGLER_URL": url})
        assert promoted.exit_code == 0 and "shadow -> [50%] -> 100%" in promoted.output
        as_json = runner.invoke(cli, ["canary", "status", route, "--url", url, "--json"])
        assert '"step": 1' in as_json.output
        refused = runner.invoke(cli, ["canary", "resume", "nowhere", "--url", url])
        assert refused.exit_code == 1 and "404" in refused.output
        rolled = runner.invoke(cli, ["canary", "rollback", route, "--url", url, "--actor", "bob"])
        assert rolled.exit_code == 0 and "rolled_back" in rolled.output
        rows = audit(url, route)
    assert rows[1]["reason"] == "look first" and rows[1]["actor"].startswith("cli")
    assert rows[-1]["actor"] == "bob"
