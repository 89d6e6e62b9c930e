"""The project's own error tree.

Foreign errors (zeep faults, aiohttp errors, driver errors) are translated once,
at the adapter seam, into one of these, keeping the original as ``__cause__``.
Nothing here knows about HTTP: the REST edge (``strangler.rest.problems``) maps
each class to an RFC 9457 problem.

    StranglerError
    ├── SpecError                  a spec file that cannot be loaded
    ├── SystemLoadError            a system's description (a WSDL, say) cannot be read
    ├── NotFound                   the thing asked for does not exist
    │   ├── UnknownOperation       no such system, service, port or operation
    │   ├── RowNotFound            no row of a table has this key
    │   └── UnknownModel           no such model, or no such version of it
    ├── NotAllowed                 the spec does not allow this (a write to a read-only table)
    ├── AccessDenied               the caller may not do this
    │   ├── Unauthenticated        no credentials, or credentials that are not valid
    │   └── Forbidden              valid credentials that do not grant the scope needed
    ├── RateLimited                the caller or the route is over its rate limit: try later
    ├── Conflict                   not now: the thing's present state does not allow it
    ├── InvalidInput               the caller's data does not fit the operation
    │   ├── BadQuery               a query string names an unknown field or a bad value
    │   ├── InputTooLarge          the caller's input is larger than the system accepts
    │   └── BadTensor              an input tensor does not fit the model's signature
    ├── LegacyError                anything that went wrong on the legacy side
    │   ├── LegacyUnavailable      cannot connect, or the circuit breaker is open
    │   ├── LegacyTimeout          the legacy system did not answer in time
    │   ├── LegacyProtocolError    the legacy system answered something unreadable
    │   │   └── LegacyDataError    a stored value breaks the encoding the spec declares
    │   └── LegacyFault            the legacy system answered with a fault
    ├── BrokerError                the event broker (Kafka) refused or failed a publish
    │   └── BrokerUnavailable      cannot reach the broker, or it did not answer in time
    ├── ModelError                 a served model failed to run
    │   └── ModelOverloaded        too many requests wait for a model: try again later
    └── UpstreamError              a gateway route's HTTP service did not answer usably
        └── UpstreamTimeout        it did not answer in time
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strangler.errors.redact import mask_urls

__all__ = [
    "AccessDenied",
    "BadQuery",
    "BadTensor",
    "BrokerError",
    "BrokerUnavailable",
    "Conflict",
    "FaultInfo",
    "Forbidden",
    "InputProblem",
    "InputTooLarge",
    "InvalidInput",
    "LegacyDataError",
    "LegacyError",
    "LegacyFault",
    "LegacyProtocolError",
    "LegacyTimeout",
    "LegacyUnavailable",
    "ModelError",
    "ModelOverloaded",
    "NotAllowed",
    "NotFound",
    "RateLimited",
    "RowNotFound",
    "SpecError",
    "SpecProblem",
    "StranglerError",
    "SystemLoadError",
    "Unauthenticated",
    "UnknownModel",
    "UnknownOperation",
    "UpstreamError",
    "UpstreamTimeout",
]


class StranglerError(Exception):
    """Base of every error the project raises on purpose.

    The message never carries a URL's password: ``user:secret@`` becomes
    ``user:***@`` (:func:`strangler.errors.redact.mask_urls`), so a legacy URL
    with credentials, or a foreign error quoting one, is safe to show and log.
    """

    def __init__(self, message: str) -> None:
        message = mask_urls(message)
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a spec: where it is and what it is."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SpecError(StranglerError):
    """A spec that is not valid YAML, names a missing variable, or breaks the schema."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class SystemLoadError(StranglerError):
    """A legacy system's own description (its WSDL, say) cannot be loaded."""

    def __init__(self, system: str, source: str, reason: str) -> None:
        self.system, self.source, self.reason = system, mask_urls(source), mask_urls(reason)
        super().__init__(f"{system}: cannot load {source}: {reason}")


class NotFound(StranglerError):
    """The thing asked for does not exist."""


class UnknownOperation(NotFound):
    """The system, port or operation asked for does not exist."""

    def __init__(self, system: str, operation: str) -> None:
        self.system = system
        self.operation = operation
        super().__init__(f"{system} has no operation {operation!r}")


class RowNotFound(NotFound):
    """No row of ``table`` has the key ``key`` (as the caller wrote it)."""

    def __init__(self, system: str, table: str, key: str) -> None:
        self.system, self.table, self.key = system, table, key
        super().__init__(f"{table} has no row with key {key}")


class UnknownModel(NotFound):
    """No model ``model`` is served, or not its version ``version``."""

    def __init__(self, model: str, version: str | None = None, *, known: str = "") -> None:
        self.model, self.version = model, version
        what = f"model {model!r} has no version {version!r}" if version else f"no model {model!r}"
        super().__init__(f"{what} (served: {known})" if known else what)


class NotAllowed(StranglerError):
    """The spec does not allow this operation (a write to a read-only table, say).

    ``allowed`` lists what is allowed on the same thing instead (e.g. the
    read operations), so the edge can say so.
    """

    def __init__(self, message: str, *, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


class AccessDenied(StranglerError):
    """The caller may not do this; the message says why, never echoing a credential."""


class Unauthenticated(AccessDenied):
    """No credentials, or credentials that are not valid (unknown key, bad token).

    ``invalid`` is true when credentials were sent but refused (RFC 6750's
    ``invalid_token``), false when none were sent.
    """

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


class Forbidden(AccessDenied):
    """Valid credentials that do not grant ``required_scope``."""

    def __init__(self, message: str, *, required_scope: str) -> None:
        super().__init__(message)
        self.required_scope = required_scope


class RateLimited(StranglerError):
    """Over a rate limit (``limit``: ``client`` or ``route``); try after ``retry_after_s``."""

    def __init__(self, message: str, *, limit: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.limit, self.retry_after_s = limit, retry_after_s


class Conflict(StranglerError):
    """The thing's present state does not allow this now (promoting a finished rollout, say)."""


@dataclass
class InputProblem:
    """One invalid field of a caller's input."""

    path: str
    message: str


class InvalidInput(StranglerError):
    """The caller's data does not fit the operation's schema."""

    def __init__(self, message: str, problems: list[InputProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class BadQuery(InvalidInput):
    """A query (filter, sort, field list, cursor, key) names an unknown field or a bad value.

    Unlike a body that does not fit (422), the edge answers these 400: the
    request line itself is wrong.
    """


class InputTooLarge(InvalidInput):
    """The caller's input, encoded for the legacy system, is larger than it accepts.

    Refused before anything is sent, so it never counts against the legacy
    system's health.
    """

    def __init__(self, message: str, *, limit_bytes: int) -> None:
        super().__init__(message)
        self.limit_bytes = limit_bytes


class BadTensor(InvalidInput):
    """An input tensor does not fit the model: ``input`` names it (``None``: the request
    as a whole), the message says what was wrong (a missing input, its datatype, its shape)."""

    def __init__(self, message: str, *, model: str, input: str | None = None) -> None:
        super().__init__(message, [InputProblem(input or "/", message)])
        self.model = model
        self.input = input


class LegacyError(StranglerError):
    """Something went wrong on the legacy side of an adapter."""

    def __init__(self, message: str, *, system: str, operation: str | None = None) -> None:
        super().__init__(message)
        self.system = system
        self.operation = operation


class LegacyUnavailable(LegacyError):
    """The legacy system cannot be reached, or its circuit breaker is open.

    ``retry_after_s`` says when trying again makes sense (the edge then answers
    503 with ``Retry-After`` rather than 502); ``circuit_open`` marks calls that
    were not even tried because the breaker is open.
    """

    def __init__(
        self,
        message: str,
        *,
        system: str,
        operation: str | None = None,
        retry_after_s: float | None = None,
        circuit_open: bool = False,
    ) -> None:
        super().__init__(message, system=system, operation=operation)
        self.retry_after_s = retry_after_s
        self.circuit_open = circuit_open


class LegacyTimeout(LegacyError):
    """The legacy system did not answer within its timeout."""


class LegacyProtocolError(LegacyError):
    """The legacy system answered with something that cannot be understood."""


class LegacyDataError(LegacyProtocolError):
    """A value the legacy system stores breaks the encoding the spec declares for it
    (``31.02.2019`` in a ``DD.MM.YYYY`` column); ``where`` names the row and field."""

    def __init__(self, message: str, *, system: str, where: str, stored: Any) -> None:
        super().__init__(message, system=system)
        self.where = where
        self.stored = stored


@dataclass
class FaultInfo:
    """The parts of a fault as the legacy protocol gave them."""

    code: str
    message: str
    actor: str | None = None
    detail: Any = None
    subcodes: list[str] = field(default_factory=list)


class LegacyFault(LegacyError):
    """The legacy system answered with a fault (SOAP Fault, XML-RPC fault, ...).

    ``client_error`` is true when the fault blames the caller (SOAP ``Client``
    / ``Sender`` codes), so the edge can answer 4xx rather than 502.
    """

    def __init__(
        self,
        fault: FaultInfo,
        *,
        system: str,
        operation: str | None = None,
        client_error: bool = False,
    ) -> None:
        super().__init__(fault.message, system=system, operation=operation)
        self.fault = fault
        self.client_error = client_error


class BrokerError(StranglerError):
    """The event broker (Kafka) refused or failed a publish; ``bootstrap`` names it.

    Not a legacy error: the broker is strangler's own infrastructure. Nothing is
    lost when a publish fails (events wait in the outbox).
    """

    def __init__(self, message: str, *, bootstrap: str) -> None:
        super().__init__(message)
        self.bootstrap = bootstrap


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached, or did not acknowledge in time: try again later."""


class ModelError(StranglerError):
    """A served model failed to run (onnxruntime refused the inputs, or crashed)."""

    def __init__(self, message: str, *, model: str, version: str | None = None) -> None:
        super().__init__(message)
        self.model, self.version = model, version


class ModelOverloaded(ModelError):
    """More requests wait for the model than its queue holds; ``retry_after_s`` says when."""

    def __init__(
        self, message: str, *, model: str, version: str | None = None, retry_after_s: float = 1.0
    ) -> None:
        super().__init__(message, model=model, version=version)
        self.retry_after_s = retry_after_s


class UpstreamError(StranglerError):
    """A gateway route's HTTP service (``{url: ...}``) could not be reached or answered
    something unreadable; ``url`` has no credentials."""

    def __init__(self, message: str, *, route: str, url: str) -> None:
        super().__init__(message)
        self.route, self.url = route, mask_urls(url)


class UpstreamTimeout(UpstreamError):
    """A gateway route's HTTP service did not answer within the route's ``timeout_s``."""
