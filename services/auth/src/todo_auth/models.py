"""The auth service's tables: users, signing keys, refresh-token families, session revocations,
sign-in failures and external identities. Declared without a schema (the connection's search_path selects it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from todo_common.tables import UtcDateTime, table_metadata


class Base(DeclarativeBase):
    """Declarative base of the auth service's tables (constraint names from the shared rule)."""

    metadata = table_metadata()


class User(Base):
    """A person who can sign in (with a password, or through an external issuer)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Normalised (trimmed, lower-cased). Null for an external identity whose email was taken.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    # argon2id PHC string. Null: the user cannot sign in with a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    create_time: Mapped[datetime] = mapped_column(UtcDateTime())
    update_time: Mapped[datetime] = mapped_column(UtcDateTime())


class SigningKey(Base):
    """An Ed25519 key pair that signs access tokens. The newest unretired key is current."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # PKCS#8 PEM. Only this service's database holds it.
    private_key_pem: Mapped[str] = mapped_column(Text)
    # The public key as the JWK `x` (base64url, no padding).
    public_key_x: Mapped[str] = mapped_column(String(64))
    create_time: Mapped[datetime] = mapped_column(UtcDateTime())
    # When a newer key replaced it; it is published until its last token has expired.
    retire_time: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RefreshTokenFamily(Base):
    """Every refresh token descended from one sign-in. Revoking it ends that session."""

    __tablename__ = "refresh_token_families"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime())
    revoke_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # SIGN_OUT or REUSE.
    revoke_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """One single-use refresh token, stored only as its SHA-256 hash."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    family_id: Mapped[str] = mapped_column(
        ForeignKey("refresh_token_families.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime())
    expire_time: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set once, by the Refresh that rotated it; a second use is reuse.
    use_time: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SignInFailure(Base):
    """One failed sign-in for a normalised email (known or not), for throttling."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index(None, "email", "fail_time"),
        # Pruning old failures of every email.
        Index(None, "fail_time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    fail_time: Mapped[datetime] = mapped_column(UtcDateTime())


class ExternalIdentity(Base):
    """An (issuer, subject) from a trusted external issuer, mapped to a local user."""

    __tablename__ = "external_identities"

    issuer: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    create_time: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionRevocation(Base):
    """A revoked session (refresh-token family), kept while its access tokens may be unexpired:
    the feed every token verifier polls (ListRevokedSessions). No foreign key: deleting a user
    removes their families but their revocations must still be listed."""

    __tablename__ = "session_revocations"

    session_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    revoke_time: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # After this no access token of the session is valid any more; the row can go.
    expire_time: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
