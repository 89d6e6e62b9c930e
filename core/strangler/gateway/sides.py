"""The two sides of a route: what a call to one of them takes and gives.

A side gets the :class:`Incoming` request (raw body, headers, the JSON document
parsed at most once) and returns an :class:`Answer` in the public shape. Three
kinds, one per target of the spec:

* :class:`OperationSide`: a legacy operation, called in-process through the
  platform's uniform lookup (validated against its input model);
* :class:`ModelSide`: a served model's by-entity prediction, in-process;
* :class:`UrlSide`: any HTTP service, over one pooled keep-alive client
  (:mod:`strangler.gateway.upstream`); with no mapping the bytes pass through
  unparsed.

Failures are the project's errors (an operation's own, ``InvalidInput`` for a
request that does not fit, :class:`~strangler.errors.UpstreamError` for a
service that fails); the request path turns them into problem+json.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import orjson
from pydantic import BaseModel, ValidationError

from strangler.errors import InputProblem, InvalidInput, StranglerError
from strangler.gateway.shapes import Shape
from strangler.rest.encoding import dumps

if TYPE_CHECKING:
    from strangler.gateway.upstream import Upstream
    from strangler.platform.core import Platform
    from strangler.platform.operations import Operation

__all__ = [
    "JSON",
    "Answer",
    "Incoming",
    "ModelSide",
    "OperationSide",
    "Predictor",
    "Side",
    "SideName",
    "UrlSide",
]

SideName = Literal["legacy", "modern"]
JSON = b"application/json"
_UNSET: Any = object()


class Incoming:
    """One public request: its headers, its raw body and (parsed once, when asked) its JSON."""

    __slots__ = ("_document", "body", "content_type", "headers")

    def __init__(self, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> None:
        self.headers = headers
        self.body = body
        self.content_type = JSON
        for key, value in headers:
            if key == b"content-type":
                self.content_type = value
                break
        self._document: Any = _UNSET

    @property
    def document(self) -> Any:
        """The body as JSON (``InvalidInput`` when it is not readable JSON)."""
        if self._document is _UNSET:
            if not self.body:
                self._document = {}
            else:
                try:
                    self._document = orjson.loads(self.body)
                except orjson.JSONDecodeError as exc:
                    raise InvalidInput(
                        "the request body is not readable JSON",
                        [InputProblem("/", f"{exc.msg} at {exc.pos}")],
                    ) from None
        return self._document

    def payload(self) -> Any:
        """What is kept of the request with a disagreement: its JSON, else its text."""
        try:
            return self.document
        except InvalidInput:
            return self.body.decode("utf-8", "replace")


@dataclass(slots=True)
class Answer:
    """A side's answer in the public shape: status, content type, body (and its value)."""

    status: int
    body: bytes
    content_type: bytes = JSON
    _value: Any = field(default=_UNSET, repr=False)

    @classmethod
    def of(cls, value: Any, status: int = 200) -> Answer:
        return cls(status, dumps(value), JSON, value)

    @property
    def value(self) -> Any:
        """The answer for a comparison: JSON values, or the bytes of anything else (XML)."""
        if self._value is _UNSET:
            if self.content_type.startswith(JSON) or self.content_type.endswith(b"+json"):
                try:
                    self._value = orjson.loads(self.body)
                except orjson.JSONDecodeError:
                    self._value = self.body
            else:
                self._value = self.body
        return self._value


class Side(Protocol):
    """A route's legacy or modern side."""

    @property
    def safe(self) -> bool:
        """Whether calling it twice for one request is harmless (read-only)."""
        ...

    async def call(self, request: Incoming) -> Answer: ...


def _shaped(shape: Shape | None, value: Any) -> Any:
    return shape(value) if shape is not None else value


class OperationSide:
    """A legacy operation (``system.Operation``) called in-process."""

    def __init__(
        self,
        platform: Platform,
        operation: Operation[Any],
        request: Shape | None,
        answer: Shape | None,
    ) -> None:
        self.platform = platform
        self.operation = operation
        self.request_shape = request
        self.answer_shape = answer

    @property
    def safe(self) -> bool:
        return self.operation.safe

    async def call(self, request: Incoming) -> Answer:
        payload = _shaped(self.request_shape, request.document)
        if not isinstance(payload, dict):
            raise InvalidInput("the request must be a JSON object", [InputProblem("/", "object")])
        result = await self.platform.invoke(self.operation, payload)
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json", by_alias=True)
        return Answer.of(_shaped(self.answer_shape, result))


@runtime_checkable
class Predictor(Protocol):
    """The by-entity predictions of the model server (the ``predictions`` component)."""

    async def predict(self, name: str, request: Any) -> Any: ...


class ModelSide:
    """A served model's prediction by entity, called in-process."""

    safe = True

    def __init__(
        self,
        predictor: Predictor,
        model: str,
        version: str | None,
        request: Shape | None,
        answer: Shape | None,
    ) -> None:
        from strangler.inference.predict import PredictRequest

        self.predictor = predictor
        self.model = model
        self.version = version
        self.request_model = PredictRequest
        self.request_shape = request
        self.answer_shape = answer

    async def call(self, request: Incoming) -> Answer:
        payload = _shaped(self.request_shape, request.document)
        if isinstance(payload, dict) and self.version is not None:
            payload = {"version": self.version, **payload}
        try:
            asked = self.request_model.model_validate(payload)
        except ValidationError as exc:
            problems = [
                InputProblem("/".join(str(p) for p in err["loc"]) or "/", err["msg"])
                for err in exc.errors(include_url=False)
            ]
            raise InvalidInput(
                f"the request does not fit model {self.model!r}: "
                + "; ".join(f"{p.path}: {p.message}" for p in problems[:5]),
                problems,
            ) from None
        result = await self.predictor.predict(self.model, asked)
        value = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        return Answer.of(_shaped(self.answer_shape, value))


class UrlSide:
    """Any HTTP service: the public request POSTed there (mapped, or its bytes as they are)."""

    safe = False

    def __init__(
        self, upstream: Upstream, request: Shape | None, answer: Shape | None, *, safe: bool
    ) -> None:
        self.upstream = upstream
        self.request_shape = request
        self.answer_shape = answer
        self.safe = safe

    async def call(self, request: Incoming) -> Answer:
        if self.request_shape is None:
            body, content_type = request.body, request.content_type
        else:
            body, content_type = dumps(self.request_shape(request.document)), JSON
        status, answer_type, answer = await self.upstream.post(body, content_type)
        if self.answer_shape is None or not 200 <= status < 300:
            return Answer(status, answer, answer_type)
        try:
            value = orjson.loads(answer)
        except orjson.JSONDecodeError:
            raise StranglerError(
                f"{self.upstream.url} answered something other than JSON"
            ) from None
        return Answer.of(self.answer_shape(value), status)
