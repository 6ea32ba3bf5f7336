"""Hashing and cryptography as Terraform's functions do it: bcrypt (Go's x/crypto/bcrypt:
the $2a$ prefix, cost 10 by default and below the minimum), PKCS #1 v1.5 RSA decryption,
and name-based (version 5) UUIDs."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fgform.config.fn_base import FuncError

_NAMESPACES = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL,
               "oid": uuid.NAMESPACE_OID, "x500": uuid.NAMESPACE_X500}


def bcrypt_hash(password: str, *cost: int | float) -> str:
    """A bcrypt hash of `password` (random salt), as Go's bcrypt writes it."""
    import bcrypt  # only configurations that hash passwords load it

    rounds = cost[0] if cost else 10
    if isinstance(rounds, float):
        raise FuncError("value must be a whole number, between -9223372036854775808 and "
                        "9223372036854775807", None)
    if rounds < 4:  # Go's GenerateFromPassword takes the default for a cost below 4
        rounds = 10
    if rounds > 31:
        raise FuncError("error occured generating password crypto/bcrypt: cost "
                        f"{rounds} is outside allowed range (4,31)", None)
    data = password.encode()
    if len(data) > 72:
        raise FuncError("error occured generating password bcrypt: password length exceeds "
                        "72 bytes", None)
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds, prefix=b"2a")).decode()


def rsadecrypt(ciphertext: str, private_key: str) -> str:
    """Base64 ciphertext decrypted with an RSA private key (PEM, PKCS #1 or #8) by PKCS #1
    v1.5 padding."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        data = base64.b64decode(ciphertext, validate=True)
    except ValueError:
        raise FuncError(f'failed to decode input "{ciphertext}": cipher text must be '
                        "base64-encoded", 0) from None
    if "-----BEGIN" not in private_key:
        raise FuncError("invalid private key: ssh: no key found", 1)
    try:
        key: Any = load_pem_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError) as e:
        raise FuncError(f"invalid private key: {e}", 1) from None
    except Exception as e:  # cryptography's UnsupportedAlgorithm and friends
        raise FuncError(f"invalid private key: {e}", 1) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise FuncError(f"invalid private key type {type(key).__name__}", 1)
    try:
        plain = key.decrypt(data, padding.PKCS1v15())
    except ValueError:
        raise FuncError("failed to decrypt: crypto/rsa: decryption error", None) from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise FuncError("the message is not valid UTF-8", None) from None


def _parse_uuid(text: str) -> uuid.UUID:
    """Go's uuid.Parse: 36 characters, or in braces, or urn:uuid:, or 32 hexadecimal."""
    n = len(text)
    body = text
    if n == 45 and text[:9].lower() == "urn:uuid:":
        body = text[9:]
    elif n == 38 and text[0] == "{" and text[-1] == "}":
        body = text[1:-1]
    elif n not in (36, 32):
        raise ValueError(f"invalid UUID length: {n}")
    if len(body) == 36 and not all(body[i] == "-" for i in (8, 13, 18, 23)):
        raise ValueError("invalid UUID format")
    hexdigits = body.replace("-", "") if len(body) == 36 else body
    if len(hexdigits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in hexdigits):
        raise ValueError("invalid UUID format")
    return uuid.UUID(hex=hexdigits)


def uuidv5(namespace: str, name: str) -> str:
    """The version 5 UUID of `name` in a namespace ("dns", "url", "oid", "x500" or a UUID)."""
    ns = _NAMESPACES.get(namespace)
    if ns is None:
        try:
            ns = _parse_uuid(namespace)
        except ValueError as e:
            raise FuncError(f"uuidv5() doesn't support namespace {namespace} ({e})",
                            None) from None
    return str(uuid.uuid5(ns, name))
