"""Password hashing and the password policy."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

# A short list of passwords that pass length rules but are guessed first.
_COMMON = frozenset(
    {
        "password123", "password1234", "1234567890", "12345678910", "qwertyuiop",
        "azertyuiop", "motdepasse", "motdepasse1", "iloveyou123", "letmein123",
        "welcome123", "administrator", "changeme123", "passw0rd123", "elevator123",
    }
)  # fmt: skip


class PasswordPolicyError(ValueError):
    """The password does not meet the policy; the message says why (in English, for the
    command line); ``rule`` and ``limit`` let pages say it in the reader's language."""

    def __init__(self, message: str, rule: str, limit: int = 0) -> None:
        super().__init__(message)
        self.rule = rule
        self.limit = limit


def check_policy(password: str, *, email: str = "", min_length: int = 10) -> None:
    """Raise :class:`PasswordPolicyError` unless ``password`` is acceptable.

    Rules (NIST SP 800-63B style): at least ``min_length`` characters, at most 256,
    not a well-known password, not the e-mail address or its local part, not one
    repeated character.
    """
    if len(password) < min_length:
        raise PasswordPolicyError(
            f"Password must be at least {min_length} characters long.", "short", min_length
        )
    if len(password) > 256:
        raise PasswordPolicyError("Password must be at most 256 characters long.", "long", 256)
    lowered = password.lower()
    if lowered in _COMMON:
        raise PasswordPolicyError("This password is too common; choose another.", "common")
    if email and lowered in {email.lower(), email.lower().split("@")[0]}:
        raise PasswordPolicyError("Password must not be your e-mail address.", "email")
    if len(set(password)) < 4:
        raise PasswordPolicyError("Password must use more than three distinct characters.", "repetitive")


def hash_password(password: str) -> str:
    """A salted, slow hash of ``password`` (scrypt)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches ``password_hash``."""
    return check_password_hash(password_hash, password)


# Verified against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH: str | None = None


def dummy_verify(password: str) -> None:
    """Spend the same time as a real verification (for unknown accounts)."""
    global _DUMMY_HASH  # noqa: PLW0603 - lazily computed, never at import time
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password-for-timing")
    check_password_hash(_DUMMY_HASH, password)
