"""``POST /predict/{model}``: the route of :class:`~strangler.inference.predict.Predictions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from strangler.inference.predict import PredictRequest, PredictResponse
from strangler.rest.naming import operation_ids
from strangler.rest.problems import problem_responses

if TYPE_CHECKING:
    from strangler.inference.predict import Predictions

__all__ = ["predict_router"]

_PROBLEMS = problem_responses(
    {
        404: "No such model or version, or no features for the entity.",
        422: "An entity or feature that is missing, null, not allowed, or of the wrong type.",
        500: "The model failed to run; the answer's request_id is in the server's log.",
        503: "Too many requests wait for the model: try again later.",
    }
)


def predict_router(predictions: Predictions) -> APIRouter:
    """The by-entity prediction route."""
    router = APIRouter(tags=["models"])

    async def predict(model: str, body: PredictRequest) -> PredictResponse:
        return await predictions.predict(model, body)

    router.add_api_route(
        "/predict/{model}",
        predict,
        methods=["POST"],
        summary="A prediction for an entity, from its newest features",
        description="Reads the entity's features from the feature tables the model was "
        "trained on (request fields may be given instead), runs the model and records the "
        "prediction in the prediction log.",
        response_model=PredictResponse,
        responses=_PROBLEMS,
        openapi_extra=operation_ids("predict"),
    )
    return router
