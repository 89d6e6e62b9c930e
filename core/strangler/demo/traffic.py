"""Demo traffic: customers asking ``/api/reorder-advice``, so a rollout has samples to judge.

:class:`ReorderTraffic` posts ``GetReorderAdvice`` requests to the running
demo at a steady rate, in a thread, over one kept-alive connection: a customer
out of a fixed crowd (so the sticky split keeps each on one side), a SKU the
feature tables know (the model reads its features), stock on hand spread around
the SKU's reorder trigger, and the average daily sales and lead time the
``reorder`` model was trained with (``unitsSold28d / 28``, seven days). A small
share of the customers are on credit hold: the rules engine refuses them, the
model (which knows no customers) does not, so the dashboard has disagreements
to show without the rollout's gate being crossed. Each worker first asks the
model directly a few times (``/predict/reorder``, at ``warm_url`` when the
route is asked through nginx), so the app's slow first answers after it starts
do not count in the route's analysis.

:func:`traffic_requests` builds the bodies; :func:`reorder_skus` reads which
SKUs the feature tables hold.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import random
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strangler.demo.reorder_model import LEAD_TIME_DAYS, daily_sales

__all__ = ["ReorderTraffic", "SkuFacts", "reorder_skus", "traffic_requests"]

PATH = "/api/reorder-advice"
CUSTOMERS = 200
HOLD_SHARE = 0.01
WARM_UP = 5
"""Requests each worker sends the model directly before it asks the route."""


@dataclass(frozen=True)
class SkuFacts:
    """What a request about a SKU is made of: its sales over 28 days and its trigger."""

    sku: str
    units_28d: float
    trigger: int


def reorder_skus(features_url: str) -> list[SkuFacts]:
    """The SKUs whose item features are all loaded (sales, stock, catalogue), in SKU order."""
    from strangler.demo.inventory.data import StockLedger
    from strangler.etl import FeatureStore

    store = FeatureStore(features_url)
    try:
        skus = [item.sku for item in StockLedger.items()]
        keys = [{"sku": sku} for sku in skus]
        sales = store.latest("item_sales", keys)
        stock = store.latest("item_stock", keys)
        catalogue = store.latest("item_catalogue", keys)
    finally:
        store.close()
    facts: list[SkuFacts] = []
    for sku, sold, held, item in zip(skus, sales, stock, catalogue, strict=True):
        if sold is None or held is None or item is None:
            continue
        units = float(sold["unitsSold28d"] or 0)
        point = StockLedger.item(sku).reorder_point
        facts.append(SkuFacts(sku, units, max(math.ceil(units * 10 / 28), point)))
    return facts


def traffic_requests(
    skus: Sequence[SkuFacts], *, seed: int | None = None, hold_share: float = HOLD_SHARE
) -> Iterator[dict[str, Any]]:
    """Endless request bodies for the route (see the module)."""
    if not skus:
        raise ValueError("no SKU has its features loaded: run the demo's ETL first")
    rng = random.Random(seed)
    while True:
        facts = rng.choice(skus)
        held = rng.random() < hold_share
        customer = f"{'HOLD' if held else 'C'}-{rng.randrange(CUSTOMERS):04d}"
        yield {
            "customerId": customer,
            "sku": facts.sku,
            "quantityOnHand": rng.randint(0, 2 * facts.trigger + 10),
            "averageDailySales": str(daily_sales(facts.units_28d)),
            "leadTimeDays": LEAD_TIME_DAYS,
        }


class ReorderTraffic:
    """Posts to ``url + /api/reorder-advice`` about ``rate`` times a second, from ``workers``
    threads (each on its own kept-alive connection, so one slow answer holds up only
    its own thread).

    ``answers`` counts the answers by status and side (``"200 modern"``); a
    server that is not up yet (or went away) is retried quietly.
    """

    def __init__(
        self,
        url: str,
        skus: Sequence[SkuFacts],
        *,
        rate: float = 25.0,
        workers: int = 4,
        seed: int | None = None,
        hold_share: float = HOLD_SHARE,
        warm_url: str | None = None,
    ) -> None:
        if not skus:
            raise ValueError("no SKU has its features loaded: run the demo's ETL first")
        self.host, self.port = _address(url)
        self.warm = _address(warm_url or url)
        self.rate = rate
        self.workers = workers
        self.answers: Counter[str] = Counter()
        rng = random.Random(seed)
        self._bodies = [
            traffic_requests(skus, seed=rng.randrange(2**32), hold_share=hold_share)
            for _ in range(workers)
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def counts(self) -> Mapping[str, int]:
        """The answers so far, by ``"<status> <side>"``."""
        with self._lock:
            return dict(self.answers)

    def start(self) -> ReorderTraffic:
        if not self._threads:
            self._stop.clear()
            self._threads = [
                threading.Thread(
                    target=self._run, args=(bodies,), name=f"demo-traffic-{n}", daemon=True
                )
                for n, bodies in enumerate(self._bodies)
            ]
            for thread in self._threads:
                thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads = []

    def __enter__(self) -> ReorderTraffic:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self, bodies: Iterator[dict[str, Any]]) -> None:
        interval = self.workers / self.rate
        conn: http.client.HTTPConnection | None = None
        due = time.monotonic()
        warm = False
        while not self._stop.is_set():
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                if not warm:
                    with contextlib.closing(
                        http.client.HTTPConnection(*self.warm, timeout=10)
                    ) as w:
                        self._warm_up(w, next(bodies))
                    warm = True
                key = self._ask(conn, next(bodies))
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                self._stop.wait(0.5)  # not up yet, or restarting
                due = time.monotonic()
                continue
            with self._lock:
                self.answers[key] += 1
            due = max(due + interval, time.monotonic() - interval)  # no burst to catch up
            self._stop.wait(max(0.0, due - time.monotonic()))
        if conn is not None:
            conn.close()

    @staticmethod
    def _warm_up(conn: http.client.HTTPConnection, body: dict[str, Any]) -> None:
        """Ask the model directly a few times first: a server's first answers (the app
        still starting its parts) are slow, and the route's would count in its analysis."""
        ask = {"entity": {"sku": body["sku"]}, "features": {"onHand": body["quantityOnHand"]}}
        for _ in range(WARM_UP):
            conn.request(
                "POST", "/predict/reorder", json.dumps(ask).encode(),
                {"content-type": "application/json"},
            )  # fmt: skip
            conn.getresponse().read()

    @staticmethod
    def _ask(conn: http.client.HTTPConnection, body: dict[str, Any]) -> str:
        conn.request("POST", PATH, json.dumps(body).encode(), {"content-type": "application/json"})
        response = conn.getresponse()
        response.read()
        return f"{response.status} {response.getheader('x-strangler-side', '-')}"


def _address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80
