"""The demo's ``reorder`` model: built from the estate's feature tables, agreeing with the rules."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnxruntime as ort
import pytest

from strangler.demo.estate import running_estate
from strangler.demo.features import load_features
from strangler.demo.reorder_model import (
    FEATURES,
    MODELS,
    TrainingSet,
    agreement,
    build_model,
    metadata,
    rules_answer,
    training_set,
)
from strangler.inference.metadata import VersionMetadata, load_metadata

SHIPPED = MODELS / "reorder" / "1"


@pytest.fixture(scope="module")
def rows() -> Iterator[TrainingSet]:
    """The training rows of a fresh demo estate, its feature tables loaded by the ETL."""
    with running_estate() as estate:
        load_features(estate.spec)
        yield training_set(estate.env["DEMO_FEATURES_URL"])


def _run(model: bytes, rows: TrainingSet) -> list[np.ndarray]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return list(session.run(None, {"features": rows.features, "status": rows.status}))


def test_the_training_rows_come_from_every_sku_and_day(rows: TrainingSet) -> None:
    assert len(rows) > 50_000
    assert set(rows.status[:, 0]) == {"active", "discontinued"}
    assert 0.2 < rows.labels.mean() < 0.6  # both answers well represented
    # every label is GetReorderAdvice's answer for its row (spot-check a spread of rows)
    for i in range(0, len(rows), 997):
        _, units_28d, on_hand, _ = rows.features[i]
        assert rules_answer(rows.skus[i], units_28d, on_hand) == rows.labels[i]


def test_the_shipped_model_reproduces_the_rules(rows: TrainingSet) -> None:
    shipped = (SHIPPED / "model.onnx").read_bytes()
    assert agreement(shipped, rows) >= 0.99
    # a model trained without the newest fifth of the days still agrees on them
    train, held_out = rows.split(0.2)
    assert len(held_out) > 10_000 and held_out.days.min() > train.days.max()
    assert agreement(build_model(train), held_out) >= 0.98


def test_a_fresh_build_predicts_what_the_shipped_file_does(rows: TrainingSet) -> None:
    shipped = _run((SHIPPED / "model.onnx").read_bytes(), rows)
    fresh = _run(build_model(rows), rows)
    assert np.array_equal(shipped[0], fresh[0])
    np.testing.assert_allclose(shipped[1], fresh[1], atol=1e-6)


def test_discontinued_items_are_never_reordered(rows: TrainingSet) -> None:
    shipped = (SHIPPED / "model.onnx").read_bytes()
    discontinued = rows.status[:, 0] == "discontinued"
    assert discontinued.sum() > 1_000 and not rows.labels[discontinued].any()
    label = _run(shipped, rows)[0]
    assert not label[discontinued].any()
    # an active item selling well with nothing on hand is reordered
    session = ort.InferenceSession(shipped, providers=["CPUExecutionProvider"])
    features = np.array([[50, 200, 0, 60]], dtype=np.float32)
    answer = session.run(
        None, {"features": features, "status": np.array([["active"]], dtype=object)}
    )
    assert answer[0].tolist() == [1] and answer[1].shape == (1, 2)


def test_the_metadata_matches_the_onnx_signature() -> None:
    meta = load_metadata(SHIPPED)
    assert meta == VersionMetadata.model_validate(metadata())
    session = ort.InferenceSession(str(SHIPPED / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    assert set(inputs) == set(meta.inputs)
    assert inputs["features"].shape[1] == len(FEATURES) == len(meta.inputs["features"])
    assert inputs["status"].type == "tensor(string)"
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    assert meta.outputs["label"].labels == ["no", "yes"]
