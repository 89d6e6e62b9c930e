"""Client certificates (mTLS) as callers: which verified certificate is which name.

strangler's HTTPS server (``server.tls`` with ``client_certs: optional`` or
``required``) verifies a client's certificate against ``client_ca`` in the TLS
handshake, and hands the verified certificate to the app in the ASGI TLS
extension (:mod:`strangler.serve.tls_scope`). ``security.certificates`` names
the certificates that are callers, each matched by exactly one of:

* ``subject``: the whole subject name as RFC 4514 writes it, most specific
  attribute first (``CN=billing,O=Retail``, as ``openssl x509 -noout -subject
  -nameopt RFC2253`` prints it), compared as a name, attribute by attribute;
* ``san``: one subjectAltName, typed: ``dns:``, ``uri:``, ``email:``, ``ip:``;
* ``sha256``: the fingerprint of the DER certificate (pinning one certificate).

The first entry (in the spec's order) that matches names the caller,
``cert:NAME``, with the entry's scopes. A verified certificate no entry
matches names no caller (the guard refuses it, 403).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from strangler.spec.security import CertificateSpec

__all__ = ["CertificateMap", "Identity", "Unreadable"]


class Unreadable(ValueError):
    """The certificate in the TLS extension could not be read."""


@dataclass(frozen=True)
class Identity:
    """What a certificate is: the entry's name and scopes, and its subject (for logs)."""

    name: str | None
    scopes: frozenset[str]
    subject: str


def _sans(cert: x509.Certificate) -> set[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    found = {f"dns:{n.lower()}" for n in names.get_values_for_type(x509.DNSName)}
    found |= {f"uri:{n}" for n in names.get_values_for_type(x509.UniformResourceIdentifier)}
    found |= {f"email:{n.lower()}" for n in names.get_values_for_type(x509.RFC822Name)}
    found |= {f"ip:{n}" for n in names.get_values_for_type(x509.IPAddress)}
    return found


def _san_key(value: str) -> str:
    kind, _, rest = value.partition(":")
    if kind == "ip":
        return f"ip:{ipaddress.ip_address(rest)}"
    return f"{kind}:{rest.lower()}" if kind in ("dns", "email") else value


class CertificateMap:
    """``security.certificates``: a verified certificate (PEM) → :class:`Identity`."""

    def __init__(self, entries: Mapping[str, CertificateSpec]) -> None:
        self.entries = dict(entries)
        self._subjects = {
            n: x509.Name.from_rfc4514_string(e.subject)
            for n, e in self.entries.items()
            if e.subject is not None
        }
        self._sans = {n: _san_key(e.san) for n, e in self.entries.items() if e.san is not None}
        self._seen: dict[str, Identity] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def identify(self, pem: str) -> Identity:
        """The caller ``pem`` is (``name`` None: none); :class:`Unreadable` if it is no
        certificate. Remembered per certificate (a client sends the same one each time)."""
        known = self._seen.get(pem)
        if known is not None:
            return known
        try:
            cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        except ValueError as exc:
            raise Unreadable(f"the client certificate cannot be read: {exc}") from None
        identity = self._match(cert)
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[pem] = identity
        return identity

    def _match(self, cert: x509.Certificate) -> Identity:
        subject = cert.subject.rfc4514_string()
        fingerprint = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
        sans = _sans(cert)
        for name, entry in self.entries.items():
            if (
                (entry.subject is not None and cert.subject == self._subjects[name])
                or (entry.san is not None and self._sans[name] in sans)
                or (entry.sha256 is not None and entry.sha256 == fingerprint)
            ):
                return Identity(name, frozenset(entry.scopes), subject)
        return Identity(None, frozenset(), subject)
