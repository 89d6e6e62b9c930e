"""The demo's ``reorder`` model: the rules of ``GetReorderAdvice`` learnt from the estate's data.

The training rows come from the demo's own feature tables, as the demo's ETL
fills them: every SKU's sales history per day (``item_sales``: units sold over
7 and 28 days) with the SKU's reorder point and catalogue status
(``item_stock``, ``item_catalogue``). Each row is asked at a few stock levels,
and the label is what ``GetReorderAdvice`` answers for the SKU at that stock:
the rules engine (:func:`strangler.demo.inventory.rules.advise`, called
in-process) with the catalogue's facts about the SKU, for a regular customer, a
lead time of :data:`LEAD_TIME_DAYS` days and average daily sales of
``unitsSold28d / 28``. The features the model reads are the tables' (the
reorder point summed over every warehouse, say), so it learns the legacy
answer from what the feature tables hold. A decision tree learns those answers; it
is converted to ONNX with skl2onnx, behind two small steps in the graph that
turn the ``status`` text into a "discontinued" flag, so the model reads the
feature table's values as they are.

The model ships built in ``strangler/demo/models/reorder/1`` (``model.onnx``
and ``metadata.yaml``); ``python -m strangler.demo.reorder_model`` builds it
again from a fresh demo estate (needs scikit-learn and skl2onnx: the ``dev``
extra). The build is deterministic, so a fresh build predicts what the
shipped file predicts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from strangler.demo.inventory import rules
from strangler.demo.inventory.data import StockLedger

__all__ = [
    "FEATURES",
    "LEAD_TIME_DAYS",
    "MODELS",
    "TrainingSet",
    "agreement",
    "build_model",
    "daily_sales",
    "metadata",
    "rules_answer",
    "training_set",
    "write_version",
]

MODELS: Final = Path(__file__).with_name("models")
"""The demo's model repository (the demo spec's ``models.repository``)."""

FEATURE_VIEW: Final = "item_features"
FEATURES: Final = ("unitsSold7d", "unitsSold28d", "onHand", "reorderPoint")
"""The numeric features, in the order of the ``features`` input's columns."""
LEAD_TIME_DAYS: Final = 7
CUSTOMER: Final = "C00000"
"""A regular customer: neither a key account nor on credit hold."""
STOCK_LEVELS: Final = 4
"""Stock levels asked per SKU and day (besides nothing): spread up to twice the trigger."""
SEED: Final = 7
MAX_DEPTH: Final = 10
LABELS: Final = ("no", "yes")


@dataclass(frozen=True)
class TrainingSet:
    """Rows of the numeric features, the status text and the rules engine's answer (0/1)."""

    features: npt.NDArray[np.float32]
    status: npt.NDArray[np.object_]
    labels: npt.NDArray[np.int64]
    days: npt.NDArray[np.int64]
    """Each row's day (a proleptic ordinal), to hold out the newest days."""
    skus: npt.NDArray[np.object_]

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, fraction: float) -> tuple[TrainingSet, TrainingSet]:
        """The rows before the newest ``fraction`` of days, and those days' rows."""
        cut = np.quantile(self.days, 1 - fraction)
        old = self.days < cut
        return self._take(old), self._take(~old)

    def _take(self, mask: npt.NDArray[np.bool_]) -> TrainingSet:
        return TrainingSet(
            self.features[mask],
            self.status[mask],
            self.labels[mask],
            self.days[mask],
            self.skus[mask],
        )


def daily_sales(units_28d: float) -> Decimal:
    """The average daily sales ``GetReorderAdvice`` is asked with: ``unitsSold28d / 28``
    to four decimals."""
    return (Decimal(int(units_28d)) / 28).quantize(Decimal("0.0001"))


def rules_answer(sku: str, units_28d: float, on_hand: int) -> int:
    """1 if ``GetReorderAdvice`` (the rules engine, with the catalogue's facts about
    ``sku``) reorders at these figures for a regular customer, else 0."""
    item = StockLedger.item(sku)
    daily = daily_sales(units_28d)
    return int(rules.advise(item, CUSTOMER, int(on_hand), daily, LEAD_TIME_DAYS).reorder)


def training_set(store_url: str) -> TrainingSet:
    """The training rows from the feature tables in ``store_url`` (see the module)."""
    import sqlalchemy as sa

    from strangler.etl import FeatureStore

    store = FeatureStore(store_url)
    try:
        sales = store.table("item_sales").history
        query = sa.select(
            sales.c.sku, sales.c.day, sales.c.unitsSold7d, sales.c.unitsSold28d
        ).order_by(sales.c.day, sales.c.sku)
        with store.engine.connect() as connection:
            history = connection.execute(query).all()
        skus = sorted({row.sku for row in history})
        keys = [{"sku": sku} for sku in skus]
        stock = dict(zip(skus, store.latest("item_stock", keys), strict=True))
        catalogue = dict(zip(skus, store.latest("item_catalogue", keys), strict=True))
    finally:
        store.close()
    rng = random.Random(SEED)
    features: list[list[float]] = []
    status: list[str] = []
    labels: list[int] = []
    days: list[int] = []
    skus_of_rows: list[str] = []
    for sku, day, units_7d, units_28d in history:
        facts, item = stock[sku], catalogue[sku]
        if facts is None or item is None:
            continue  # a SKU sold but not in stock or catalogue: nothing to ask
        reorder_point, state = int(facts["reorderPoint"]), str(item["status"])
        catalogue_point = StockLedger.item(sku).reorder_point
        trigger = max(math.ceil(units_28d * 10 / 28), catalogue_point)
        levels = [facts["onHand"], *(rng.randint(0, 2 * trigger + 10) for _ in range(STOCK_LEVELS))]
        for on_hand in levels:
            features.append([units_7d, units_28d, on_hand, reorder_point])
            status.append(state)
            labels.append(rules_answer(sku, units_28d, on_hand))
            days.append(day.toordinal())
            skus_of_rows.append(sku)
    return TrainingSet(
        np.asarray(features, dtype=np.float32),
        np.asarray(status, dtype=object).reshape(-1, 1),
        np.asarray(labels, dtype=np.int64),
        np.asarray(days, dtype=np.int64),
        np.asarray(skus_of_rows, dtype=object),
    )


def build_model(rows: TrainingSet) -> bytes:
    """An ONNX model (serialized) trained on ``rows``: inputs ``features`` (float32,
    ``[n, 4]``, :data:`FEATURES`) and ``status`` (text, ``[n, 1]``); outputs ``label``
    (int64, 1 for reorder) and ``probabilities`` (float32, ``[n, 2]``)."""
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=MAX_DEPTH, random_state=SEED)
    tree.fit(_with_flag(rows.features, rows.status), rows.labels)
    serialized: bytes = _to_onnx(tree).SerializeToString()
    return serialized


def _with_flag(
    features: npt.NDArray[np.float32], status: npt.NDArray[np.object_]
) -> npt.NDArray[np.float32]:
    flag = (status == "discontinued").astype(np.float32)
    return np.concatenate([features, flag], axis=1)


def _to_onnx(tree: Any) -> Any:
    """The tree in ONNX behind the status step:
    ``x = concat(features, status == 'discontinued')``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    width = len(FEATURES) + 1
    model = convert_sklearn(
        tree,
        "reorder",
        initial_types=[("x", FloatTensorType([None, width]))],
        options={id(tree): {"zipmap": False}},
        target_opset={"": 19, "ai.onnx.ml": 3},
    )
    graph = model.graph
    del graph.input[:]
    graph.input.extend(
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, len(FEATURES)]),
            helper.make_tensor_value_info("status", TensorProto.STRING, [None, 1]),
        ]
    )
    graph.initializer.append(
        numpy_helper.from_array(np.array("discontinued", dtype=object), "discontinued")
    )
    steps = [
        helper.make_node("Equal", ["status", "discontinued"], ["is_discontinued"]),
        helper.make_node("Cast", ["is_discontinued"], ["flag"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["features", "flag"], ["x"], axis=1),
    ]
    nodes = [*steps, *graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    model.doc_string = "GetReorderAdvice's rules, learnt from the demo estate's feature tables"
    onnx.checker.check_model(model, full_check=True)
    return model


def metadata() -> dict[str, Any]:
    """The version's ``metadata.yaml``: the feature view, inputs and labels."""
    return {
        "feature_view": FEATURE_VIEW,
        "feature_view_version": 1,
        "inputs": {"features": list(FEATURES), "status": ["status"]},
        "request_fields": ["onHand"],
        "outputs": {"label": {"labels": list(LABELS)}},
        "description": (
            "GetReorderAdvice's decision for a regular customer and a "
            f"{LEAD_TIME_DAYS}-day lead time, learnt from the demo's feature tables"
        ),
    }


def write_version(folder: Path, model: bytes) -> Path:
    """Write ``model.onnx`` and ``metadata.yaml`` into ``folder`` (a version's folder)."""
    from ruamel.yaml import YAML

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(model)
    yaml = YAML()
    yaml.default_flow_style = None
    with (folder / "metadata.yaml").open("w", encoding="utf-8") as out:
        yaml.dump(metadata(), out)
    return folder


def agreement(model: bytes, rows: TrainingSet) -> float:
    """The share of ``rows`` where the model answers what the rules engine does."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    label = session.run(["label"], {"features": rows.features, "status": rows.status})[0]
    return float(np.mean(label == rows.labels))


def main(argv: Sequence[str] | None = None) -> None:
    """Build the model from a fresh demo estate into the shipped repository (or a folder)."""
    import argparse

    from strangler.demo.estate import running_estate
    from strangler.demo.features import load_features

    parser = argparse.ArgumentParser(prog="python -m strangler.demo.reorder_model")
    parser.add_argument("folder", nargs="?", type=Path, default=MODELS / "reorder" / "1")
    args = parser.parse_args(argv)
    with running_estate() as estate:
        load_features(estate.spec)
        rows = training_set(estate.env["DEMO_FEATURES_URL"])
    train, held_out = rows.split(0.2)
    print(
        f"{len(rows):,} rows; held-out agreement with the rules: "
        f"{agreement(build_model(train), held_out):.4f}"
    )
    model = build_model(rows)
    write_version(args.folder, model)
    print(f"wrote {args.folder} (agreement on every row: {agreement(model, rows):.4f})")


if __name__ == "__main__":
    main()
