"""Ed25519 signing keys and the access tokens they sign.

Keys live in the database so every replica and the `dev-token` CLI sign with the same key and a
restart does not invalidate tokens. The newest unretired key signs; retired keys are published
in the JWKS until the last token they signed has expired.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from todo_common.tokens import ALGORITHM

from todo_auth.models import SigningKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_signing_key(now: datetime) -> SigningKey:
    """A new Ed25519 key pair as an unsaved row; its kid is derived from the public key."""
    private_key = Ed25519PrivateKey.generate()
    public_raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return SigningKey(
        kid=_b64url(hashlib.sha256(public_raw).digest()[:16]),
        private_key_pem=pem,
        public_key_x=_b64url(public_raw),
        create_time=now,
        retire_time=None,
    )


def public_jwk(key: SigningKey) -> dict[str, str]:
    """The key's public half as a JWK (RFC 8037)."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": key.public_key_x,
        "kid": key.kid,
        "alg": ALGORITHM,
        "use": "sig",
    }


@dataclass(frozen=True)
class AccessToken:
    """A signed access token and when it expires."""

    token: str
    expire_time: datetime
    token_id: str


class AccessTokenIssuer:
    """Signs access tokens: EdDSA, header `kid`, claims iss, aud, sub, exp, iat, jti, sid."""

    def __init__(self, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.issuer = issuer
        self.audience = audience
        self.ttl = timedelta(seconds=ttl_seconds)
        # Parsing a PEM costs more than signing; keep each key parsed once.
        self._parsed: dict[str, Ed25519PrivateKey] = {}

    def issue(
        self, key: SigningKey, user_id: str, now: datetime, *, session_id: str
    ) -> AccessToken:
        """A token for `user_id` in session `session_id` (its `sid`: the refresh-token family,
        which sign-out revokes), signed with `key`, valid for the TTL from `now`."""
        expire_time = now + self.ttl
        token_id = uuid.uuid4().hex
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "iat": int(now.timestamp()),
            "exp": int(expire_time.timestamp()),
            "jti": token_id,
            "sid": session_id,
        }
        token = jwt.encode(
            claims, self._private_key(key), algorithm=ALGORITHM, headers={"kid": key.kid}
        )
        return AccessToken(
            token=token,
            expire_time=datetime.fromtimestamp(claims["exp"], tz=now.tzinfo),
            token_id=token_id,
        )

    def _private_key(self, key: SigningKey) -> Ed25519PrivateKey:
        parsed = self._parsed.get(key.kid)
        if parsed is None:
            loaded = serialization.load_pem_private_key(
                key.private_key_pem.encode("ascii"), password=None
            )
            if not isinstance(loaded, Ed25519PrivateKey):
                raise ValueError(f"signing key {key.kid} is not an Ed25519 key")
            parsed = self._parsed[key.kid] = loaded
        return parsed
