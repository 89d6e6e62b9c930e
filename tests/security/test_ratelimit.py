"""Rate limits over real HTTP: per client and per route, in-process and in a real Redis
shared by two replicas. Counted, never timed: buckets refill one token an hour."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import redis

from strangler.demo.estate import Estate
from strangler.rest.app import create_app
from strangler.security.ratelimit import MemoryBuckets, RedisBuckets
from tests.rest.conftest import serving
from tests.security.conftest import KEYS_SECTION, Keys, secured_spec, sqlite_url
from tests.servers import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
HOURLY = "{rate: 1, per_s: 3600, burst: %d}"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test only; its keys are deleted afterwards."""
    name = f"strangler-test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=name + "*"):
        client.delete(key)
    client.close()


def serve_replicas(
    estate: Estate, keys: Keys, limits: str, folder: Path, count: int
) -> tuple[ExitStack, list[str]]:
    section = (
        KEYS_SECTION
        + f"  audit: {{database: '{sqlite_url(folder, 'audit.sqlite')}'}}\n"
        + "  rate_limits:\n"
        + limits
    )
    stack = ExitStack()
    urls = []
    for index in range(count):
        spec = secured_spec(estate, section, keys.env)
        app = create_app(spec, cache_dir=folder / f"cache-{index}")
        urls.append(stack.enter_context(serving(app)))
    return stack, urls


def statuses(answers: list[httpx.Response]) -> Counter[int]:
    return Counter(a.status_code for a in answers)


def test_a_client_over_its_limit_gets_429_with_retry_after(
    estate: Estate, api_keys: Keys, tmp_path: Path
) -> None:
    limits = f"    client: {HOURLY % 3}\n"
    stack, (url,) = serve_replicas(estate, api_keys, limits, tmp_path, 1)
    with stack, httpx.Client(base_url=url, timeout=30) as http:
        reader = {"X-API-Key": api_keys.clear["reader"]}
        answers = [http.get("/database/erp/orders", headers=reader) for _ in range(5)]
        assert statuses(answers) == {200: 3, 429: 2}
        refused = answers[-1]
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["retry-after"]) >= 1
        body = refused.json()
        assert body["limit"] == "client" and body["type"].endswith(":rate-limited")
        # Another client has its own bucket; health is never limited.
        writer = {"X-API-Key": api_keys.clear["writer"]}
        assert http.get("/database/erp/orders", headers=writer).status_code == 200
        assert all(http.get("/healthz").status_code == 200 for _ in range(5))
        # Refused keys take from the caller's address: guessing keys is limited too.
        guesses = [http.get("/healthz/x", headers={"X-API-Key": f"sk_{n}"}) for n in range(5)]
        assert statuses(guesses) == {401: 3, 429: 2}


def test_a_route_limit_holds_for_all_clients_together(
    estate: Estate, api_keys: Keys, tmp_path: Path
) -> None:
    limits = f"    routes:\n      'db:erp:customers:*': {HOURLY % 2}\n"
    stack, (url,) = serve_replicas(estate, api_keys, limits, tmp_path, 1)
    with stack, httpx.Client(base_url=url, timeout=30) as http:
        answers = [
            http.get("/database/erp/customers", headers={"X-API-Key": api_keys.clear[name]})
            for name in ("reader", "writer", "all", "reader")
        ]
        assert statuses(answers) == {200: 2, 429: 2}
        assert answers[-1].json()["limit"] == "route"
        # Other routes are not under that limit.
        reader = {"X-API-Key": api_keys.clear["reader"]}
        assert http.get("/database/erp/orders", headers=reader).status_code == 200


def test_limits_hold_across_two_replicas_sharing_redis(
    estate: Estate, api_keys: Keys, tmp_path: Path, prefix: str
) -> None:
    limits = (
        f"    redis: {REDIS_URL}\n    prefix: '{prefix}'\n    client: {HOURLY % 5}\n"
        "    redis_timeout_s: 30\n"  # a busy machine is no outage: the count must be Redis'
    )
    stack, urls = serve_replicas(estate, api_keys, limits, tmp_path, 2)
    with stack, httpx.Client(timeout=30) as http:
        reader = {"X-API-Key": api_keys.clear["reader"]}
        answers = [http.get(f"{urls[n % 2]}/database/erp/orders", headers=reader) for n in range(8)]
        assert statuses(answers) == {200: 5, 429: 3}
        by_replica = Counter((n % 2, a.status_code) for n, a in enumerate(answers))
        assert by_replica[(0, 200)] >= 1 and by_replica[(1, 200)] >= 1  # both replicas served
        writer = {"X-API-Key": api_keys.clear["writer"]}
        assert http.get(f"{urls[1]}/database/erp/orders", headers=writer).status_code == 200
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=prefix + "*"))
    assert len(keys) == 2  # one bucket per client


def test_the_redis_script_takes_atomically(prefix: str) -> None:
    async def run() -> tuple[int, bool]:
        buckets = RedisBuckets(REDIS_URL, prefix, timeout_s=30)  # a busy machine is no outage
        try:
            taken = await asyncio.gather(*(buckets.take("burst", 7, 1 / 3600) for _ in range(40)))
        finally:
            await buckets.close()
        return sum(t.allowed for t in taken), buckets.failing

    assert asyncio.run(run()) == (7, False)


def test_without_redis_the_process_limits_alone(caplog: pytest.LogCaptureFixture) -> None:
    password = uuid.uuid4().hex

    async def run() -> tuple[int, bool]:
        buckets = RedisBuckets(f"redis://:{password}@127.0.0.1:{free_port()}/0", "x:")
        try:
            taken = [await buckets.take("k", 2, 1 / 3600) for _ in range(4)]
            return sum(t.allowed for t in taken), buckets.failing
        finally:
            await buckets.close()

    assert asyncio.run(run()) == (2, True)
    warnings = [r.getMessage() for r in caplog.records if r.name == "strangler.security"]
    assert any("Redis at redis://:***@127.0.0.1" in w for w in warnings), warnings
    assert password not in caplog.text


def test_memory_buckets_refill_at_their_rate() -> None:
    buckets = MemoryBuckets()
    assert [buckets.take_now("k", 2, 0.5, 0.0).allowed for _ in range(3)] == [True, True, False]
    assert buckets.take_now("k", 2, 0.5, 1.0).allowed is False  # half a token
    assert buckets.take_now("k", 2, 0.5, 2.0).allowed is True  # one token after 2 s
    refused = buckets.take_now("k", 2, 0.5, 2.0)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(2.0)


@pytest.fixture
def acl_user(prefix: str) -> Iterator[tuple[str, str]]:
    """A Redis ACL user of this test only, with a password, allowed the scripting commands
    (and what the bucket script calls) on the keys under ``prefix`` alone; deleted afterwards."""
    name, password = f"strangler-test-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    admin = redis.Redis.from_url(REDIS_URL)
    admin.acl_setuser(
        name,
        enabled=True,
        passwords=[f"+{password}"],
        commands=["+@scripting", "+ping", "+time", "+hmget", "+hset", "+pexpire"],
        keys=[f"{prefix}*"],
    )
    try:
        yield name, password
    finally:
        admin.acl_deluser(name)
        admin.close()


def test_an_acl_user_with_a_password_shares_the_buckets(
    prefix: str, acl_user: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    name, password = acl_user

    async def take(url: str, key_prefix: str) -> tuple[int, bool]:
        buckets = RedisBuckets(url, key_prefix, timeout_s=30)  # a busy machine is no outage
        try:
            taken = [await buckets.take("k", 2, 1 / 3600) for _ in range(4)]
            return sum(t.allowed for t in taken), buckets.failing
        finally:
            await buckets.close()

    url = f"redis://{name}:{password}@127.0.0.1:6379/0"
    assert asyncio.run(take(url, prefix)) == (2, False)  # counted in Redis, as the user
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=prefix + "*"))
    assert len(keys) == 1
    # a wrong password, or keys outside the user's pattern: Redis refuses, the process limits
    wrong = f"redis://{name}:not-{password}@127.0.0.1:6379/0"
    assert asyncio.run(take(wrong, prefix)) == (2, True)
    assert asyncio.run(take(url, "elsewhere:" + prefix)) == (2, True)
    assert password not in caplog.text
