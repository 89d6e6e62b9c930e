"""Authentication checks of the legacy side: WS-Security and HTTP Basic.

``/wsse/soap11`` expects a WS-Security ``UsernameToken`` (OASIS UsernameToken
Profile 1.0/1.1) in the SOAP header, with either

* ``PasswordText``: the password itself (also assumed when ``Type`` is absent), or
* ``PasswordDigest``: ``base64(sha1(nonce + created + password))`` where *nonce*
  is the decoded ``wsse:Nonce`` bytes and *created* the literal text of
  ``wsu:Created``.

Like many legacy servers this one neither limits the age of ``Created`` nor
remembers nonces, so clients may pin both (handy for repeatable tests).
``/basic/soap11`` expects an ``Authorization: Basic`` HTTP header instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree
from spyne import Fault

__all__ = [
    "AUTH_FAULT_CODE",
    "WSSE_NS",
    "WSU_NS",
    "Credentials",
    "install_wsse_check",
    "password_digest",
]

WSSE_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS: Final = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
AUTH_FAULT_CODE: Final = "Client.Authentication"
"""spyne fault code of a refused WS-Security request (``soap:Client.Authentication``)."""


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """The UsernameToken ``PasswordDigest`` of ``password`` for ``nonce`` and ``created``."""
    raw = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()
    return base64.b64encode(raw).decode("ascii")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one user the legacy server knows."""

    username: str
    password: str

    def accepts_basic(self, authorization: str | None) -> bool:
        """Whether an HTTP ``Authorization`` header value carries these credentials."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and _same(user, self.username) & _same(password, self.password)

    def accepts_username_token(self, header_elements: Iterable[Any] | None) -> bool:
        """Whether the SOAP header children hold a valid ``wsse:UsernameToken``."""
        for element in header_elements or ():
            if not isinstance(element.tag, str) or element.tag != f"{{{WSSE_NS}}}Security":
                continue
            token = element.find(f"{{{WSSE_NS}}}UsernameToken")
            if token is not None:
                return self._check_token(token)
        return False

    def _check_token(self, token: etree._Element) -> bool:
        user = token.findtext(f"{{{WSSE_NS}}}Username") or ""
        password = token.find(f"{{{WSSE_NS}}}Password")
        if password is None or not _same(user.strip(), self.username):
            return False
        given = (password.text or "").strip()
        kind = password.get("Type") or "#PasswordText"
        if kind.endswith("PasswordText"):
            return _same(given, self.password)
        if not kind.endswith("PasswordDigest"):
            return False
        nonce_text = token.findtext(f"{{{WSSE_NS}}}Nonce") or ""
        created = (token.findtext(f"{{{WSU_NS}}}Created") or "").strip()
        try:
            nonce = base64.b64decode(nonce_text.strip(), validate=True)
        except binascii.Error:
            return False
        return _same(given, password_digest(nonce, created, self.password))


def install_wsse_check(app: Any, credentials: Credentials) -> None:
    """Make the spyne ``app`` refuse calls without a valid UsernameToken.

    The check runs on spyne's ``method_call`` event, i.e. after the envelope
    is parsed and before the service method runs; a failure becomes the SOAP
    fault ``Client.Authentication`` / "authentication failed".
    """

    def check(ctx: Any) -> None:
        if not credentials.accepts_username_token(ctx.in_header_doc):
            raise Fault(AUTH_FAULT_CODE, "authentication failed")

    app.event_manager.add_listener("method_call", check)
