"""Credentials kept out of messages and logs: the password of a URL's userinfo masked.

A legacy URL may carry credentials (``http://user:secret@host/rpc``). Whatever
puts such a URL, or a foreign error's text that may quote one, into an error
message or a log line passes it through :func:`mask_urls` first;
:class:`~strangler.errors.StranglerError` does so for every message it is given.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "mask_url", "mask_urls", "userinfo"]

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^/?#\s]*)@")


def _masked(match: re.Match[str]) -> str:
    user, sep, _ = match.group("info").partition(":")
    # without a password, the user part itself may be a token: mask it whole
    return f"{match.group('scheme')}{user}:{MASK}@" if sep else f"{match.group('scheme')}{MASK}@"


def mask_urls(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` masked."""
    return _USERINFO.sub(_masked, text) if "@" in text else text


def mask_url(url: str) -> str:
    """``http://user:secret@host/x`` as ``http://user:***@host/x`` (``http://token@host``
    as ``http://***@host``); URLs without userinfo unchanged."""
    return mask_urls(url)


def userinfo(url: str) -> str | None:
    """The ``user[:password]`` part of a URL's authority, or ``None`` when it has none."""
    match = _USERINFO.match(url.strip())
    return match.group("info") if match else None
