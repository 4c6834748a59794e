"""TokenVerifier: algorithm pinning, claim checks, JWKS caching and the unknown-kid cooldown."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from todo_common.errors import Unauthenticated, Unavailable
from todo_common.tokens import MAX_TOKEN_CHARS, SessionRevocations, TokenVerifier, bearer_token

ISSUER = "todo-auth"
AUDIENCE = "todo-api"


class KeySet:
    """Signing keys and the JWKS a verifier would fetch, with a fetch counter."""

    def __init__(self) -> None:
        self.private: dict[str, Ed25519PrivateKey] = {}
        self.published: list[str] = []
        self.fetches = 0
        self.fail = False

    def add(self, publish: bool = True) -> str:
        kid = uuid.uuid4().hex[:8]
        self.private[kid] = Ed25519PrivateKey.generate()
        if publish:
            self.published.append(kid)
        return kid

    async def fetch(self) -> Sequence[dict[str, Any]]:
        self.fetches += 1
        if self.fail:
            raise ConnectionError("auth is down")
        keys = []
        for kid in self.published:
            raw = (
                self.private[kid]
                .public_key()
                .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            )
            x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
            keys.append(
                {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}
            )
        return keys

    def sign(self, kid: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 900,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private[kid], algorithm="EdDSA", headers={"kid": kid})


def make_verifier(keys: KeySet, **kwargs: Any) -> TokenVerifier:
    return TokenVerifier(keys.fetch, issuer=ISSUER, audience=AUDIENCE, **kwargs)


async def test_valid_token_gives_its_subject() -> None:
    keys = KeySet()
    kid = keys.add()
    principal = await make_verifier(keys).verify(keys.sign(kid, sub="alice"))
    assert principal.user_id == "alice"


async def test_keys_are_fetched_once_and_cached() -> None:
    keys = KeySet()
    kid = keys.add()
    verifier = make_verifier(keys)
    for _ in range(5):
        await verifier.verify(keys.sign(kid))
    assert keys.fetches == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, "TOKEN_EXPIRED"),
        ({"iss": "someone-else"}, "TOKEN_INVALID"),
        ({"aud": "another-api"}, "TOKEN_INVALID"),
        ({"sub": None}, "TOKEN_INVALID"),
        ({"jti": None}, "TOKEN_INVALID"),
    ],
)
async def test_bad_claims_are_rejected(overrides: dict[str, Any], reason: str) -> None:
    keys = KeySet()
    kid = keys.add()
    with pytest.raises(Unauthenticated) as caught:
        await make_verifier(keys).verify(keys.sign(kid, **overrides))
    assert caught.value.reason == reason


async def test_alg_none_is_rejected() -> None:
    keys = KeySet()
    kid = keys.add()
    token = jwt.encode(
        {"sub": "x", "iss": ISSUER, "aud": AUDIENCE}, None, algorithm="none", headers={"kid": kid}
    )
    with pytest.raises(Unauthenticated, match="algorithm"):
        await make_verifier(keys).verify(token)


async def test_hs256_signed_with_the_public_key_is_rejected() -> None:
    keys = KeySet()
    kid = keys.add()
    jwk = (await keys.fetch())[0]
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": kid}).encode()).rstrip(
        b"="
    )
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "mallory"}).encode()).rstrip(b"=")
    signature = hmac.new(jwk["x"].encode(), header + b"." + payload, hashlib.sha256).digest()
    token = b".".join([header, payload, base64.urlsafe_b64encode(signature).rstrip(b"=")]).decode()
    with pytest.raises(Unauthenticated, match="algorithm"):
        await make_verifier(keys).verify(token)


async def test_tampered_payload_is_rejected() -> None:
    keys = KeySet()
    kid = keys.add()
    header, _payload, signature = keys.sign(kid, sub="alice").split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"sub": "mallory"}).encode()).rstrip(b"=").decode()
    with pytest.raises(Unauthenticated):
        await make_verifier(keys).verify(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
async def test_garbage_is_rejected(garbage: str) -> None:
    keys = KeySet()
    keys.add()
    with pytest.raises(Unauthenticated):
        await make_verifier(keys).verify(garbage)


async def test_unknown_kid_refetches_once_per_cooldown() -> None:
    keys = KeySet()
    kid = keys.add()
    # The verifier's clock drives only the cooldown here; pyjwt checks `exp` against real time.
    clock = [time.time()]
    verifier = make_verifier(keys, refetch_cooldown_seconds=30, clock=lambda: clock[0])
    await verifier.verify(keys.sign(kid))
    assert keys.fetches == 1

    unpublished = keys.add(publish=False)
    for _ in range(3):
        with pytest.raises(Unauthenticated) as caught:
            await verifier.verify(keys.sign(unpublished))
        assert caught.value.reason == "TOKEN_UNKNOWN_KEY"
    # Unknown kids inside the cooldown do not hammer the auth service.
    assert keys.fetches == 1

    # A rotated-in key is picked up on the first refetch after the cooldown.
    keys.published.append(unpublished)
    clock[0] += 31
    principal = await verifier.verify(keys.sign(unpublished))
    assert principal.user_id == "user-1"
    assert keys.fetches == 2


async def test_auth_down_is_unavailable_and_retried_next_call() -> None:
    keys = KeySet()
    kid = keys.add()
    keys.fail = True
    verifier = make_verifier(keys)
    with pytest.raises(Unavailable):
        await verifier.verify(keys.sign(kid))
    keys.fail = False
    assert (await verifier.verify(keys.sign(kid))).user_id == "user-1"


async def test_cached_token_expires() -> None:
    keys = KeySet()
    kid = keys.add()
    clock = [time.time()]
    verifier = make_verifier(keys, leeway_seconds=0, clock=lambda: clock[0])
    token = keys.sign(kid, exp=int(clock[0]) + 60)
    await verifier.verify(token)
    clock[0] += 120
    with pytest.raises(Unauthenticated) as caught:
        await verifier.verify(token)
    assert caught.value.reason == "TOKEN_EXPIRED"


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer   "])
def test_bearer_token_requires_the_bearer_scheme(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(header)


def test_bearer_token_extracts_the_token() -> None:
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"


async def test_a_validly_signed_megabyte_token_is_too_large() -> None:
    keys = KeySet()
    kid = keys.add()
    verifier = make_verifier(keys)
    token = keys.sign(kid, pad="p" * 1024 * 1024)
    with pytest.raises(Unauthenticated) as raised:
        await verifier.verify(token)
    assert raised.value.reason == "TOKEN_TOO_LARGE"
    assert keys.fetches == 0  # Refused before any key was looked up.
    just_fits = keys.sign(kid, pad="")
    just_fits = keys.sign(kid, pad="p" * ((MAX_TOKEN_CHARS - len(just_fits)) * 3 // 4))
    assert len(just_fits) <= MAX_TOKEN_CHARS
    assert (await verifier.verify(just_fits)).user_id == "user-1"


class RevocationFeed:
    """A revocation feed (ListRevokedSessions as a fetcher) the test can revoke into or take
    down; each page hands back a token for "everything after this"."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, float]] = []
        self.down = False
        self.fetches = 0
        self.progress = asyncio.Event()  # set after each fetch

    async def fetch(self, page_token: str) -> tuple[list[tuple[str, float]], str]:
        self.fetches += 1
        asyncio.get_running_loop().call_soon(self.progress.set)  # once the caller has it
        if self.down:
            raise ConnectionError("auth is down")
        start = int(page_token or 0)
        return self.entries[start:], str(len(self.entries))


async def test_a_revoked_session_is_refused_even_when_its_token_was_verified_before() -> None:
    keys = KeySet()
    kid = keys.add()
    feed = RevocationFeed()
    revocations = SessionRevocations(feed.fetch, interval_seconds=3600)
    verifier = make_verifier(keys, revocations=revocations)
    token = keys.sign(kid, sid="session-1")
    other = keys.sign(kid, sid="session-2")
    assert (await verifier.verify(token)).session_id == "session-1"  # now cached
    feed.entries.append(("session-1", time.time() + 900))
    await revocations.refresh()
    with pytest.raises(Unauthenticated) as refused:
        await verifier.verify(token)
    assert refused.value.reason == "SESSION_REVOKED"
    assert (await verifier.verify(other)).session_id == "session-2"
    await verifier.aclose()


async def test_the_feed_down_keeps_what_was_known_and_catches_up_when_it_answers() -> None:
    """While auth cannot be reached the verifier keeps the last known revocations (it fails
    open for sessions it has not heard about: auth, which revokes them, is down too); the
    first answer afterwards brings everything revoked meanwhile."""
    keys = KeySet()
    kid = keys.add()
    feed = RevocationFeed()
    feed.entries.append(("old", time.time() + 900))
    revocations = SessionRevocations(feed.fetch, interval_seconds=3600)
    verifier = make_verifier(keys, revocations=revocations)
    old = keys.sign(kid, sid="old")
    later = keys.sign(kid, sid="later")
    with pytest.raises(Unauthenticated):
        await verifier.verify(old)

    feed.down = True
    await revocations.refresh()  # a failed poll: logged, nothing forgotten
    with pytest.raises(Unauthenticated):
        await verifier.verify(old)
    assert (await verifier.verify(later)).session_id == "later"

    feed.entries.append(("later", time.time() + 900))
    feed.down = False
    await revocations.refresh()
    with pytest.raises(Unauthenticated):
        await verifier.verify(later)
    await verifier.aclose()


async def test_a_process_started_while_the_feed_is_down_still_serves() -> None:
    keys = KeySet()
    kid = keys.add()
    feed = RevocationFeed()
    feed.down = True
    revocations = SessionRevocations(feed.fetch, interval_seconds=3600)
    verifier = make_verifier(keys, revocations=revocations)
    assert (await verifier.verify(keys.sign(kid, sid="s"))).user_id == "user-1"
    assert revocations.is_ready and feed.fetches == 1
    await verifier.aclose()


async def test_expired_revocations_are_forgotten() -> None:
    now = [1_000.0]
    feed = RevocationFeed()
    feed.entries += [("gone-soon", 1_010.0), ("still-valid", 2_000.0)]
    revocations = SessionRevocations(feed.fetch, interval_seconds=3600, clock=lambda: now[0])
    await revocations.refresh()
    assert revocations.is_revoked("gone-soon") and revocations.is_revoked("still-valid")
    now[0] = 1_011.0
    await revocations.refresh()
    assert not revocations.is_revoked("gone-soon")
    assert revocations.is_revoked("still-valid")


class DrivenWatch:
    """A revocation watch (WatchRevokedSessions as a stream) the test drives: `None` put in
    `messages` is one message, an exception ends the stream with it."""

    def __init__(self, progress: asyncio.Event) -> None:
        self.messages: asyncio.Queue[Exception | None] = asyncio.Queue()
        self.connections = 0
        self.progress = progress  # set at each connection

    async def stream(self) -> AsyncIterator[None]:
        self.connections += 1
        self.progress.set()
        while True:
            message = await self.messages.get()
            if message is not None:
                raise message
            yield None


async def until(condition: Callable[[], bool], progress: asyncio.Event) -> None:
    """Returns once `condition()` holds, looking again each time `progress` is set (libs tests
    cannot use the testkit's `eventually`)."""
    async with asyncio.timeout(10):
        while not condition():
            await progress.wait()
            progress.clear()


async def test_a_watch_message_makes_the_verifier_read_the_feed_at_once() -> None:
    keys = KeySet()
    kid = keys.add()
    feed = RevocationFeed()
    watch = DrivenWatch(feed.progress)
    # No polling to speak of: only the watch can bring the revocation in.
    revocations = SessionRevocations(feed.fetch, watch=watch.stream, interval_seconds=3600)
    verifier = make_verifier(keys, revocations=revocations)
    token = keys.sign(kid, sid="session-1")
    assert (await verifier.verify(token)).session_id == "session-1"
    await until(lambda: watch.connections == 1, feed.progress)
    feed.entries.append(("session-1", time.time() + 900))
    watch.messages.put_nowait(None)
    await until(lambda: revocations.is_revoked("session-1"), feed.progress)
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)
    await verifier.aclose()


async def test_a_lost_watch_is_caught_up_by_a_read_and_reconnected() -> None:
    keys = KeySet()
    feed = RevocationFeed()
    watch = DrivenWatch(feed.progress)
    revocations = SessionRevocations(feed.fetch, watch=watch.stream, interval_seconds=0.01)
    verifier = make_verifier(keys, revocations=revocations)
    await revocations.ready()
    await until(lambda: watch.connections == 1, feed.progress)
    feed.entries.append(("session-1", time.time() + 900))
    watch.messages.put_nowait(ConnectionError("auth restarted"))
    await until(
        lambda: revocations.is_revoked("session-1") and watch.connections == 2, feed.progress
    )
    await verifier.aclose()
