"""Who may call a shimmed service: WS-Security UsernameToken and HTTP basic auth.

An :class:`Authenticator` is built once per service from the spec's ``security:`` and
answers :meth:`Authenticator.authenticate` with the caller's user name, or raises
:class:`AuthenticationFailed`, which the shim answers with a client Fault whose code is
one of the WS-Security 1.0 codes (``code`` is its ``{namespace}local`` name, ``message``
the fault string the standard gives for it):

======================================  ==============================================
what went wrong                          code
======================================  ==============================================
no credentials at all                    ``wsse:InvalidSecurity``
a UsernameToken that cannot be read      ``wsse:InvalidSecurityToken``
(no Username, an unknown password type,
a Created that is no dateTime, a digest
without Nonce or Created)
a password type the spec does not take   ``wsse:UnsupportedSecurityToken``
Created older (or further ahead) than    ``wsu:MessageExpired``
``max_age_s``
unknown user, wrong password, a nonce    ``wsse:FailedAuthentication``
seen before, wrong basic credentials
======================================  ==============================================

The last row is one answer on purpose: the caller learns that the credentials were
refused, never which part (user, password or nonce). Passwords are compared in
constant time, and an unknown user costs the same work as a known one.

PasswordDigest is ``Base64(SHA-1(nonce + created + password))`` (UsernameToken Profile
1.0, section 3.1), the nonce taken as the bytes its Base64 text encodes. A nonce, once
its token is accepted, is remembered until its Created time leaves the window; the
same nonce from the same user within the window is a replay. The nonces live in
memory (:class:`MemoryNonces`, bounded) or, when the spec names a ``state`` database,
in a table every replica shares (:class:`DatabaseNonces`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

import sqlalchemy as sa
from lxml import etree

from strangler.adapters.db.state_engine import state_engine
from strangler.errors import StranglerError
from strangler.spec.shim import BasicUsersSpec, ShimSecuritySpec, UsernameTokenSpec

__all__ = [
    "WSSE",
    "WSU",
    "AuthenticationFailed",
    "Authenticator",
    "DatabaseNonces",
    "MemoryNonces",
    "NonceStore",
    "NoncesFull",
    "password_digest",
    "remove_security_header",
]

WSSE: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PROFILE: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)
_TEXT: Final = _PROFILE + "#PasswordText"
_DIGEST: Final = _PROFILE + "#PasswordDigest"
_FAULT_STRINGS: Final = {
    "InvalidSecurity": "An error was discovered processing the <wsse:Security> header",
    "InvalidSecurityToken": "An invalid security token was provided",
    "UnsupportedSecurityToken": "An unsupported token was provided",
    "FailedAuthentication": "The security token could not be authenticated or authorized",
    "MessageExpired": "Security semantics are expired",
}
_DUMMY: Final = "\x00 no such user \x00"
"""Compared against when the user is unknown, so that costs the same as a wrong password."""


class AuthenticationFailed(StranglerError):
    """The caller is not let in; always the client's fault.

    ``code`` is the WS-Security fault code as ``{namespace}local``; ``challenge`` is the
    ``WWW-Authenticate`` value to send when HTTP basic auth is a way in (the shim may
    then answer 401 with the Fault as its body).
    """

    def __init__(self, local: str, *, challenge: str | None = None) -> None:
        super().__init__(_FAULT_STRINGS[local])
        namespace = WSU if local == "MessageExpired" else WSSE
        self.code = f"{{{namespace}}}{local}"
        self.local = local
        self.challenge = challenge


class NoncesFull(StranglerError):
    """More accepted nonces are still fresh than the store holds: the service is busy.

    A server-side condition (the caller did nothing wrong): a Receiver Fault, not a
    client one. Only authenticated callers add nonces, so only real load fills it.
    """


class NonceStore(Protocol):
    """Nonces of accepted tokens, each kept until ``expires_at`` (seconds since the epoch)."""

    def add(self, key: str, expires_at: float) -> bool:
        """Remember ``key``; false when it is remembered already (a replay)."""
        ...


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """``Base64(SHA-1(nonce + created + password))`` as the UsernameToken profile defines it."""
    raw = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()
    return base64.b64encode(raw).decode("ascii")


class MemoryNonces:
    """Nonces in this process's memory: at most ``capacity``, the expired dropped first."""

    def __init__(self, capacity: int = 100_000, *, clock: Callable[[], float] = time.time) -> None:
        self.capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # in order of expiry, nearly
        self._lock = threading.Lock()

    def add(self, key: str, expires_at: float) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            if len(self._seen) >= self.capacity:
                self._drop_expired()
                if len(self._seen) >= self.capacity:
                    raise NoncesFull(
                        f"more than {self.capacity} nonces are fresh at once; "
                        "raise the capacity or shorten max_age_s"
                    )
            self._seen[key] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._seen)

    def _drop_expired(self) -> None:
        now = self._clock()
        for key in [k for k, expires in self._seen.items() if expires <= now]:
            del self._seen[key]


class DatabaseNonces:
    """Nonces in a state database table, shared by every replica of the shim.

    The table's primary key makes a second insert of one nonce fail, whichever replica
    tries it: that is the replay check. Expired rows are deleted every ``prune_every``
    additions.
    """

    def __init__(
        self,
        url: str | sa.URL | sa.Engine,
        *,
        table: str = "strangler_shim_nonces",
        prune_every: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = url if isinstance(url, sa.Engine) else state_engine(url)
        self.table = sa.Table(
            table,
            sa.MetaData(),
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("expires_at", sa.Float, nullable=False, index=True),
        )
        self.prune_every = prune_every
        self._clock = clock
        self._added = 0
        self._created = False

    def add(self, key: str, expires_at: float) -> bool:
        self._create()
        try:
            with self.engine.begin() as connection:
                connection.execute(self.table.insert().values(key=key, expires_at=expires_at))
        except sa.exc.IntegrityError:
            return False
        self._added += 1
        if self._added % self.prune_every == 0:
            with self.engine.begin() as connection:
                connection.execute(
                    self.table.delete().where(self.table.c.expires_at <= self._clock())
                )
        return True

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()

    def _create(self) -> None:
        if not self._created:
            try:
                self.table.create(self.engine, checkfirst=True)
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
                if not sa.inspect(self.engine).has_table(self.table.name):
                    raise  # not a replica creating it at the same moment
            self._created = True


class Authenticator:
    """The spec's ``security:`` of one service, ready to check callers.

    ``nonces`` defaults to the spec's ``state`` database when it names one, else to
    :class:`MemoryNonces`. ``blocking`` is true when checking a token may wait on a
    database (call :meth:`authenticate` off the event loop then).
    """

    def __init__(
        self,
        spec: ShimSecuritySpec,
        *,
        realm: str = "strangler",
        nonces: NonceStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.realm = realm
        self._clock = clock
        if nonces is None:
            nonces = (
                DatabaseNonces(spec.state, clock=clock) if spec.state else MemoryNonces(clock=clock)
            )
        self.nonces = nonces
        self.blocking = isinstance(nonces, DatabaseNonces)
        self._challenge = (
            f'Basic realm="{realm}", charset="UTF-8"' if spec.basic is not None else None
        )

    def authenticate(self, authorization: str | None, soap_header: etree._Element | None) -> str:
        """The caller's user name, from the ``Authorization`` header or the SOAP header.

        ``authorization`` is the HTTP ``Authorization`` value (``None``: none sent);
        ``soap_header`` the envelope's ``Header`` element (``None``: none). Basic
        credentials, when sent and accepted by the spec, decide alone; otherwise the
        UsernameToken of the ``wsse:Security`` header does.
        """
        if self.spec.basic is not None and authorization is not None:
            scheme, _, credentials = authorization.strip().partition(" ")
            if scheme.lower() == "basic":
                return self._basic(self.spec.basic, credentials.strip())
        if self.spec.username_token is not None:
            token = _username_token(soap_header)
            if token is not None:
                return self._token(self.spec.username_token, token)
        raise AuthenticationFailed("InvalidSecurity", challenge=self._challenge)

    def close(self) -> None:
        """Release the nonce store's database connections, if it has any."""
        if isinstance(self.nonces, DatabaseNonces):
            self.nonces.close()

    def _basic(self, spec: BasicUsersSpec, credentials: str) -> str:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except ValueError:  # not Base64 (binascii.Error), not ASCII, not UTF-8
            raise AuthenticationFailed("FailedAuthentication", challenge=self._challenge) from None
        user, colon, password = decoded.partition(":")
        known = spec.users.get(user)
        expected = known.get_secret_value() if known is not None else _DUMMY
        same = hmac.compare_digest(password.encode("utf-8"), expected.encode("utf-8"))
        if not (colon and known is not None and same):
            raise AuthenticationFailed("FailedAuthentication", challenge=self._challenge)
        return user

    def _token(self, spec: UsernameTokenSpec, token: etree._Element) -> str:
        user = _text(token, WSSE, "Username")
        password_element = token.find(f"{{{WSSE}}}Password")
        if user is None or password_element is None:
            raise AuthenticationFailed("InvalidSecurityToken")
        kind = password_element.get("Type", _TEXT)
        nonce_text = _text(token, WSSE, "Nonce")
        created = _text(token, WSU, "Created")
        if kind not in (_TEXT, _DIGEST):
            raise AuthenticationFailed("UnsupportedSecurityToken")
        if (kind == _DIGEST and not spec.digest) or (kind == _TEXT and not spec.text):
            raise AuthenticationFailed("UnsupportedSecurityToken")
        if kind == _DIGEST and (nonce_text is None or created is None):
            raise AuthenticationFailed("InvalidSecurityToken")
        nonce = _nonce(nonce_text)
        created_at = _created(created, spec.max_age_s, self._clock())
        known = spec.users.get(user)
        expected = known.get_secret_value() if known is not None else _DUMMY
        given = password_element.text or ""
        if kind == _DIGEST:
            assert created is not None  # checked above, for the digest
            expected = password_digest(nonce or b"", created, expected)
        same = hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))
        if known is None or not same:
            raise AuthenticationFailed("FailedAuthentication")
        if nonce is not None:
            key = hashlib.sha256(user.encode("utf-8") + b"\x00" + nonce).hexdigest()
            expires = (created_at if created_at is not None else self._clock()) + spec.max_age_s
            if not self.nonces.add(key, expires):
                raise AuthenticationFailed("FailedAuthentication")
        return user


def remove_security_header(header: etree._Element | None) -> None:
    """Take the ``wsse:Security`` blocks out of the SOAP ``header``, once they are checked.

    They are addressed to the shim, which consumed them: the operation's own header
    parts are what is left (WS-Security 1.1, section 6.2, lets the recipient remove them).
    """
    if header is None:
        return
    for security in header.findall(f"{{{WSSE}}}Security"):
        header.remove(security)


def _username_token(header: etree._Element | None) -> etree._Element | None:
    if header is None:
        return None
    security = header.find(f"{{{WSSE}}}Security")
    return None if security is None else security.find(f"{{{WSSE}}}UsernameToken")


def _text(parent: etree._Element, namespace: str, name: str) -> str | None:
    element = parent.find(f"{{{namespace}}}{name}")
    if element is None:
        return None
    return (element.text or "").strip()


def _nonce(text: str | None) -> bytes | None:
    """The nonce's bytes (its Base64 text decoded); a nonce is at least 8 bytes."""
    if text is None:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # not Base64 (binascii.Error) or not ASCII
        raise AuthenticationFailed("InvalidSecurityToken") from None
    if len(raw) < 8:
        raise AuthenticationFailed("InvalidSecurityToken")
    return raw


def _created(text: str | None, max_age_s: int, now: float) -> float | None:
    """Created as seconds since the epoch, refused outside ``now ± max_age_s``."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AuthenticationFailed("InvalidSecurityToken") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # WS-Security times are UTC
    seconds = moment.timestamp()
    if abs(now - seconds) > max_age_s:
        raise AuthenticationFailed("MessageExpired")
    return seconds
