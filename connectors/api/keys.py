"""API keys: bearer tokens known to the service only by their SHA-256 hash.

A key is random and long (256 bits), so a plain, unsalted hash is enough to keep it secret at
rest and lets a request's key be looked up by its hash in the settings or the store.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "gck_"
"""Marks a string as a gridcharge key, so a leaked one is easy to recognise in logs and scanners."""


def hash_api_key(key: str) -> str:
    """The stored form of `key`: its SHA-256 digest in lowercase hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """A fresh random key (256 bits, URL-safe), to hand to a client once and store hashed."""
    return KEY_PREFIX + secrets.token_urlsafe(32)
