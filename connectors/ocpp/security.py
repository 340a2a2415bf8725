"""OCPP security profiles 1 and 2 at the endpoint: HTTP Basic auth per station, and TLS.

Profile 1: the station sends `Authorization: Basic base64("{station_id}:{password}")` with its
websocket upgrade; the user name must be its own id. Profile 2: the same over TLS (`wss://`).
Profile 3 (client certificates) is not done here.

Passwords are configured hashed, never in clear: `hash_password` makes the stored form
`scrypt$n$r$p$salt$hash` (salt and hash in base64; a random 16-byte salt each), and
`verify_password` compares in constant time. OCPP 1.6 stations may send their AuthorizationKey
as raw bytes rather than text, so passwords are compared as bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import ssl
from collections.abc import Mapping
from pathlib import Path

SCRYPT_N = 2**14
"""scrypt's cost: about 16 MB and tens of milliseconds per check, once per connection."""
SCRYPT_R = 8
SCRYPT_P = 1
_KEY_BYTES = 32


def hash_password(password: str | bytes, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """The stored form of `password`: scrypt with a fresh random salt and its parameters."""
    salt = os.urandom(16)
    digest = _scrypt(_as_bytes(password), salt, n, r, p)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str | bytes, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; False for a malformed stored form."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
        digest = _scrypt(_as_bytes(password), salt, n, r, p)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


def basic_credentials(authorization: str | None) -> tuple[str, bytes] | None:
    """(user, password bytes) of an `Authorization: Basic ...` header; None when absent or malformed."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (ValueError, binascii.Error):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    try:
        return user.decode(), password
    except UnicodeDecodeError:
        return None


class BasicAuth:
    """Which stations must authenticate, and the check of their credentials.

    A station with a stored hash must send its password; one without may connect without, unless
    `required` (then every station needs a hash, and one without is refused).
    """

    def __init__(self, password_hashes: Mapping[str, str], *, required: bool = False) -> None:
        self.password_hashes = dict(password_hashes)
        self.required = required

    def applies_to(self, station_id: str) -> bool:
        return self.required or station_id in self.password_hashes

    def refusal(self, station_id: str, authorization: str | None) -> str | None:
        """Why the upgrade of `station_id` with this header is refused; None when it may go on.

        Slow on purpose (scrypt): call it off the event loop.
        """
        if not self.applies_to(station_id):
            return None
        credentials = basic_credentials(authorization)
        if credentials is None:
            return "no basic auth credentials" if authorization is None else "malformed basic auth credentials"
        user, password = credentials
        if user != station_id:
            return f"user name {user!r} is not the station id"
        stored = self.password_hashes.get(station_id)
        if stored is None:
            return "no password configured for the station"
        if not verify_password(password, stored):
            return "wrong password"
        return None


def server_tls_context(certificate: str | Path, key: str | Path) -> ssl.SSLContext:
    """A server TLS context (security profile 2) with the given PEM certificate chain and key.

    TLS 1.2 at least, as the OCPP security whitepaper and 2.0.1 part 2 require.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + 1024**2, dklen=_KEY_BYTES)


def _as_bytes(password: str | bytes) -> bytes:
    return password.encode() if isinstance(password, str) else password


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
