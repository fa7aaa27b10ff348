"""Protection of personal data at rest (ID numbers, phones).

Values are encrypted with Fernet (AES-128-CBC + HMAC) so a database dump does not reveal
them; a keyed HMAC "blind index" of the ID number lets the database enforce uniqueness
and find a person by ID without storing it in clear.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _derive(purpose: bytes) -> bytes:
    master = current_app.config["DATA_KEY"].encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def _fernet() -> Fernet:
    cache = current_app.extensions.setdefault("registry_crypto", {})
    if "fernet" not in cache:
        cache["fernet"] = Fernet(base64.urlsafe_b64encode(_derive(b"registry-fernet")))
    return cache["fernet"]


def encrypt(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str | None) -> str | None:
    if not token:
        return None
    return _fernet().decrypt(token.encode()).decode()


def blind_index(value: str) -> str:
    cache = current_app.extensions.setdefault("registry_crypto", {})
    if "index_key" not in cache:
        cache["index_key"] = _derive(b"registry-blind-index")
    return hmac.new(cache["index_key"], value.encode(), hashlib.sha256).hexdigest()
