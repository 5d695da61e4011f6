"""Ed25519 signatures (RFC 8032) with the standard library only.

The queue server signs what it hands an agent to run: the offer of an update, which names the
file's SHA-256 and size (:class:`sosqueue.updates.Offer`); the agent checks the signature with the
public key stamped into it at build, then the file against the offer. A checksum alone would not
do: anyone who can change the file can recompute it, but nobody without the server's private key
can make a signature that verifies.

Keys and signatures are bytes: a private key is a 32-byte seed, a public key 32 bytes, a
signature 64. In pure Python the curve arithmetic takes a few milliseconds per signature, and a
message is hashed with SHA-512 (twice to sign): a 20 MiB file would sign in about 80 ms and
verify in about 30, an offer in a few milliseconds. The arithmetic is the RFC's: points in
extended coordinates on the twisted Edwards curve -x² + y² = 1 + d·x²·y² over GF(2²⁵⁵ - 19). It
is not constant-time: sign only on the server, where an attacker cannot time the signing of
chosen messages.
"""

import hashlib
import os

__all__ = ["KEY_BYTES", "SIGNATURE_BYTES", "BadSignature", "generate_private_key", "public_key", "sign", "verify"]

KEY_BYTES = 32
SIGNATURE_BYTES = 64

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493  # the order of the base point
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


class BadSignature(ValueError):
    """The signature does not belong to this message and key (or is not a signature at all)."""


def _point_add(a: tuple, b: tuple) -> tuple:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e = (y1 - x1) * (y2 - x2) % _P
    f = (y1 + x1) * (y2 + x2) % _P
    g = 2 * t1 * t2 * _D % _P
    h = 2 * z1 * z2 % _P
    e, f, g, h = f - e, h - g, h + g, f + e
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _point_double(a: tuple) -> tuple:
    return _point_add(a, a)


def _multiply(scalar: int, point: tuple) -> tuple:
    result = (0, 1, 1, 0)  # the neutral element
    while scalar:
        if scalar & 1:
            result = _point_add(result, point)
        point = _point_double(point)
        scalar >>= 1
    return result


def _equal(a: tuple, b: tuple) -> bool:
    x1, y1, z1, _ = a
    x2, y2, z2, _ = b
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    return _P - x if (x & 1) != sign else x


_BASE_Y = 4 * pow(5, -1, _P) % _P
_BASE_X = _recover_x(_BASE_Y, 0)
_BASE = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % _P)


def _compress(point: tuple) -> bytes:
    x, y, z, _ = point
    inverse = pow(z, -1, _P)
    x, y = x * inverse % _P, y * inverse % _P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _decompress(data: bytes) -> tuple | None:
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


def _hash_int(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def _expand(private_key: bytes) -> tuple[int, bytes]:
    if len(private_key) != KEY_BYTES:
        raise ValueError(f"an Ed25519 private key is {KEY_BYTES} bytes, not {len(private_key)}")
    digest = hashlib.sha512(private_key).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def generate_private_key() -> bytes:
    """A new private key (32 random bytes from the operating system)."""
    return os.urandom(KEY_BYTES)


def public_key(private_key: bytes) -> bytes:
    """The 32-byte public key of a private key."""
    scalar, _prefix = _expand(private_key)
    return _compress(_multiply(scalar, _BASE))


def sign(private_key: bytes, message: bytes) -> bytes:
    """The 64-byte signature of ``message``."""
    scalar, prefix = _expand(private_key)
    public = _compress(_multiply(scalar, _BASE))
    nonce = _hash_int(prefix, message) % _L
    commitment = _compress(_multiply(nonce, _BASE))
    challenge = _hash_int(commitment, public, message) % _L
    return commitment + int.to_bytes((nonce + challenge * scalar) % _L, 32, "little")


def verify(public: bytes, message: bytes, signature: bytes) -> None:
    """Return if ``signature`` is ``public``'s signature of ``message``; else raise :class:`BadSignature`."""
    if len(public) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        raise BadSignature(f"an Ed25519 key has {KEY_BYTES} bytes and a signature {SIGNATURE_BYTES}")
    key_point = _decompress(public)
    commitment = _decompress(signature[:32])
    response = int.from_bytes(signature[32:], "little")
    if key_point is None or commitment is None or response >= _L:
        raise BadSignature("the key or the signature is not a point of the curve")
    challenge = _hash_int(signature[:32], public, message) % _L
    left = _multiply(response, _BASE)
    right = _point_add(commitment, _multiply(challenge, key_point))
    if not _equal(left, right):
        raise BadSignature("the signature does not match the file and the key")

