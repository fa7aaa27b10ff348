"""Protection of personal data at rest (ID numbers, phones).

Values are encrypted so a database dump does not reveal them; a keyed HMAC "blind index"
of the ID number lets the database enforce uniqueness and find a person by ID without
storing it in clear.

Values are written with AES-256-GCM (an authenticated cipher, one call per value) as
``v2:`` followed by the URL-safe base64 of a random 96-bit nonce and the ciphertext with
its tag. Values written before that are Fernet tokens (AES-128-CBC + HMAC-SHA256, which
always begin ``gAAAAA``); they are still read, and are rewritten in the new form only
when the value itself changes. Both keys are derived from ``DATA_KEY``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

PREFIX = "v2:"
NONCE = 12
_PREFIX_BYTES = PREFIX.encode()

__all__ = ["InvalidToken", "blind_index", "blind_indexer", "decrypt", "encrypt", "encrypter"]


def _derive(purpose: bytes) -> bytes:
    master = current_app.config["DATA_KEY"].encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


@dataclass(frozen=True)
class _Keys:
    aead: AESGCM
    fernet: Fernet  # reads the values written before ``v2``
    index: bytes


def _keys() -> _Keys:
    cache = current_app.extensions.setdefault("registry_crypto", {})
    keys = cache.get("keys")
    if keys is None:
        keys = cache["keys"] = _Keys(
            aead=AESGCM(_derive(b"registry-aes-gcm")),
            fernet=Fernet(base64.urlsafe_b64encode(_derive(b"registry-fernet"))),
            index=_derive(b"registry-blind-index"),
        )
    return keys


def encrypt(value: str | None) -> str | None:
    return _seal(_keys().aead, value)


def encrypter() -> Callable[[str | None], str | None]:
    """``encrypt`` with its key looked up once, for a whole import."""
    return partial(_seal, _keys().aead)


def _seal(aead: AESGCM, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    nonce = os.urandom(NONCE)
    return PREFIX + base64.urlsafe_b64encode(nonce + aead.encrypt(nonce, value.encode(), _PREFIX_BYTES)).decode()


def decrypt(token: str | None) -> str | None:
    """The value of ``token`` (either form); ``InvalidToken`` if it was altered or was
    written under another key."""
    if not token:
        return None
    keys = _keys()
    if not token.startswith(PREFIX):
        return keys.fernet.decrypt(token.encode()).decode()
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX):].encode())
        return keys.aead.decrypt(raw[:NONCE], raw[NONCE:], _PREFIX_BYTES).decode()
    except (InvalidTag, ValueError):
        raise InvalidToken from None


def secret_digest(secret: str) -> str:
    """What is stored of a random secret handed to a client (a login session's key, an API
    token): its SHA-256. The secret is long and random, so no key or salt is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


def blind_index(value: str) -> str:
    return hmac.digest(_keys().index, value.encode(), hashlib.sha256).hex()


def blind_indexer() -> Callable[[str], str]:
    """``blind_index`` with its key looked up once, for a whole import."""
    key = _keys().index
    return lambda value: hmac.digest(key, value.encode(), hashlib.sha256).hex()
