"""The API server's access keys: `<config dir>/.fgform/api-keys.json`, a private file (0600,
in a 0700 directory, written atomically and never through a link) holding each key's name,
access key id, secret access key, IAM policy documents and creation time.

The secret is shown once, by `fgform api-key create` / `rotate`; nothing else prints it,
and it never goes into state. A running server's `KeyStore.find` re-reads the file when it
changed, so a `revoke` or `rotate` takes effect without a restart.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fgform.api.policy import validate_policy
from fgform.errors import FgformError
from fgform.safefile import PRIVATE_MODE, read_regular, refuse_symlink, replace_file

KEYS_DIR = ".fgform"
KEYS_FILE = "api-keys.json"
FILE_VERSION = 1
# AWS's access key ids: "AKIA" and 16 upper-case letters and digits (base32's alphabet);
# secrets: 40 characters of base64's alphabet.
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ACCESS_KEY_ID_RE = re.compile(r"AKIA[A-Z0-9]{16}")
# IAM user names (the key's name becomes `arn:aws:iam::ACCOUNT:user/NAME` in messages).
NAME_RE = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)


@dataclass(frozen=True)
class ApiKey:
    """One access key: what `fgform api-key create` made. `policies` are IAM policy
    documents (validated when the key was created)."""

    name: str
    access_key_id: str
    secret_access_key: str
    policies: tuple[dict, ...]
    created: str

    def __repr__(self) -> str:
        # Never the secret, whatever prints a key (a log line, a traceback's locals).
        return (f"ApiKey(name={self.name!r}, access_key_id={self.access_key_id!r}, "
                f"policies={len(self.policies)}, created={self.created!r})")

    __str__ = __repr__


def new_access_key_id() -> str:
    """A fresh access key id in AWS's form: AKIA + 16 upper-case letters/digits."""
    return "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    """A fresh 40-character secret access key (about 240 bits of randomness)."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_name(name: str) -> None:
    """Raise unless `name` is a valid key name (IAM's user name rules)."""
    if not NAME_RE.fullmatch(name):
        raise FgformError(
            f"invalid API key name {name!r}: use 1 to 64 letters, digits and + = , . @ _ -",
            hint="The name becomes the IAM user name in AWS-style messages "
                 "(arn:aws:iam::ACCOUNT:user/NAME).")


class KeyStore:
    """The access keys of one configuration directory (`<dir>/.fgform/api-keys.json`).

    Changes (`create`, `rotate`, `revoke`) hold an exclusive lock on a lock file beside the
    keys file while they read, change and atomically replace it, so two commands at once
    never lose a key. `find` is safe to call from many threads."""

    def __init__(self, dir: Path) -> None:
        self.dir = Path(dir)
        self.path = self.dir / KEYS_DIR / KEYS_FILE
        self._cache_lock = threading.Lock()
        self._cache_sig: tuple[int, int, int, int] | None = None
        self._cache: dict[str, ApiKey] = {}

    # -- reading ------------------------------------------------------------------------------
    def _read(self) -> tuple[list[ApiKey], tuple[int, int, int, int] | None]:
        """The keys in the file (none when it does not exist) and the file's signature."""
        try:
            data, st = read_regular(self.path, nofollow=True)
        except FileNotFoundError:
            return [], None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FgformError(f"refusing to read {self.path}: it is a symbolic link, and "
                                  "fgform keeps access keys only in a private file") from None
            raise FgformError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        if st.st_mode & 0o077:
            raise FgformError(
                f"{self.path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                "it holds secret access keys",
                hint=f"Run: chmod 600 {self.path}")
        return self._parse(data), (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _parse(self, data: bytes) -> list[ApiKey]:
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FgformError(f"{self.path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise FgformError(f"{self.path}: expected an object with a \"keys\" list")
        if doc.get("version") != FILE_VERSION:
            raise FgformError(f"{self.path}: unsupported version {doc.get('version')!r} "
                              f"(this fgform reads version {FILE_VERSION})")
        keys = []
        for i, item in enumerate(doc["keys"]):
            try:
                keys.append(ApiKey(
                    name=_str(item, "name"), access_key_id=_str(item, "access_key_id"),
                    secret_access_key=_str(item, "secret_access_key"),
                    policies=tuple(item["policies"]), created=_str(item, "created")))
            except (KeyError, TypeError, ValueError):
                raise FgformError(f"{self.path}: keys[{i}] is malformed") from None
            if not isinstance(item["policies"], list):
                raise FgformError(f"{self.path}: keys[{i}].policies must be a list")
            # A hand-edited file is checked as `create` checks: evaluation relies on it.
            for j, doc in enumerate(keys[-1].policies):
                problems = validate_policy(doc)
                if problems:
                    raise FgformError(f"{self.path}: keys[{i}].policies[{j}] (key "
                                      f"{keys[-1].name!r}): {problems[0]}")
        return keys

    def list(self) -> list[ApiKey]:
        """Every key, sorted by name."""
        return sorted(self._read()[0], key=lambda k: k.name)

    def get(self, name: str) -> ApiKey | None:
        """The key named `name`, or None."""
        return next((k for k in self._read()[0] if k.name == name), None)

    def find(self, access_key_id: str) -> ApiKey | None:
        """The key with this access key id, or None. The file is re-read whenever it
        changed (inode, size, mtime, ctime), so a revoke or rotate takes effect on a running
        server at its next request."""
        try:
            st = os.lstat(self.path)
            sig: tuple[int, int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns,
                                                     st.st_ctime_ns)
        except FileNotFoundError:
            sig = None
        with self._cache_lock:
            if sig != self._cache_sig or sig is None:
                keys, sig = self._read()
                self._cache = {k.access_key_id: k for k in keys}
                self._cache_sig = sig
            return self._cache.get(access_key_id)

    # -- changing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[ApiKey]]:
        """The keys, under the exclusive change lock; write them with `_write`."""
        folder = self.path.parent
        refuse_symlink(folder, "access keys into")
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The directory may predate the keys (workspace selection lives there too): only
        # its owner may list or enter it once it holds them.
        st = os.stat(folder)
        if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.getuid():
            os.chmod(folder, 0o700)
        lock_path = folder / (KEYS_FILE + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0), PRIVATE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._read()[0]
        finally:
            os.close(fd)

    def _write(self, keys: Sequence[ApiKey]) -> None:
        refuse_symlink(self.path, "access keys to")
        doc: dict[str, Any] = {
            "version": FILE_VERSION,
            "keys": [{"name": k.name, "access_key_id": k.access_key_id,
                      "secret_access_key": k.secret_access_key,
                      "policies": list(k.policies), "created": k.created}
                     for k in sorted(keys, key=lambda k: k.name)],
        }
        data = (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode()
        replace_file(self.path, data, PRIVATE_MODE)

    def create(self, name: str, policies: Sequence[dict]) -> ApiKey:
        """A new key named `name` bound to `policies` (validated); an error if a key of
        that name exists or a policy is invalid."""
        check_name(name)
        for i, doc in enumerate(policies):
            problems = validate_policy(doc)
            if problems:
                where = f"policy {i + 1}: " if len(policies) > 1 else ""
                raise FgformError(f"{where}{problems[0]}")
        with self._locked() as keys:
            if any(k.name == name for k in keys):
                raise FgformError(f"an API key named {name!r} already exists",
                                  hint="Run `fgform api-key rotate NAME` for a new secret, or "
                                       "`fgform api-key revoke NAME` first.")
            key = ApiKey(name, self._fresh_id(keys), new_secret_access_key(),
                         tuple(json.loads(json.dumps(p)) for p in policies), _now())
            self._write([*keys, key])
        return key

    def rotate(self, name: str) -> ApiKey:
        """Give the key `name` a new access key id and secret; the old ones stop working at
        once (the server re-reads the file)."""
        with self._locked() as keys:
            old = next((k for k in keys if k.name == name), None)
            if old is None:
                raise self._no_such(name)
            key = ApiKey(name, self._fresh_id(keys), new_secret_access_key(), old.policies,
                         _now())
            self._write([key if k.name == name else k for k in keys])
        return key

    def revoke(self, name: str) -> None:
        """Delete the key `name`; requests signed with it are refused from then on."""
        with self._locked() as keys:
            if not any(k.name == name for k in keys):
                raise self._no_such(name)
            self._write([k for k in keys if k.name != name])

    def _no_such(self, name: str) -> FgformError:
        return FgformError(f"no API key named {name!r}",
                           hint="Run `fgform api-key list` to see the keys.")

    @staticmethod
    def _fresh_id(keys: Sequence[ApiKey]) -> str:
        taken = {k.access_key_id for k in keys}
        while True:
            key_id = new_access_key_id()
            if key_id not in taken:
                return key_id


def _str(item: Any, field: str) -> str:
    value = item[field]
    if not isinstance(value, str):
        raise TypeError(field)
    return value
