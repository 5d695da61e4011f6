"""Passwords (argon2), bearer tokens (random, stored as SHA-256) and customer tokens (HMAC)."""

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

USER_TOKEN_PREFIX = "squ_"
MODULE_TOKEN_PREFIX = "sqm_"
CUSTOMER_TOKEN_PREFIX = "sqc_"

# Dashboard passwords, wherever they are set (the CLI, the admin pages).
MIN_PASSWORD_LENGTH = 12

_password_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """A bearer token with a prefix that says what kind it is (and helps secret scanners)."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough; argon2 would cost every request.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def customer_token(secret_key: str, request_id: int, code: str) -> str:
    """The token a request's creator uses to follow, join and close it; derivable, never stored."""
    mac = hmac.new(secret_key.encode(), f"customer:{request_id}:{code}".encode(), hashlib.sha256)
    return f"{CUSTOMER_TOKEN_PREFIX}{code}_{urlsafe_b64encode(mac.digest()).decode().rstrip('=')}"


def parse_customer_token(token: str) -> str | None:
    """The canonical code a customer token names, or None if it is not shaped like one."""
    body = token.removeprefix(CUSTOMER_TOKEN_PREFIX)
    code, _, _mac = body.partition("_")
    return code if len(code) == 9 and code.startswith("s") and code[1:].isdigit() else None


def customer_token_matches(secret_key: str, request_id: int, code: str, token: str) -> bool:
    return hmac.compare_digest(customer_token(secret_key, request_id, code), token)
