"""Who is asking, and what their role lets them do.

Users sign in with a password (stored as a salted scrypt hash) and get a bearer token
(stored as its SHA-256, so a copy of the database gives no one a session); a partner's
system may instead present its enrollment API key (`X-API-Key`), checked by the enrollment
service. Every route names the roles it admits; scope checks (a trainer's own workshops, a
partner's own enrollments) are made where the resource is known.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
TOKEN_HOURS = 12


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT, dklen=32)
    return "scrypt${n}${r}${p}${salt}${digest}".format(
        **SCRYPT, salt=base64.b64encode(salt).decode(), digest=base64.b64encode(digest).decode())


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                              r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(computed, base64.b64decode(digest))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    trainer_id: str | None = None
    partner_id: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


class Unauthenticated(Exception):
    """No credentials, or credentials that are not (or no longer) valid."""


class Forbidden(Exception):
    """Valid credentials whose role or scope does not reach this resource."""
