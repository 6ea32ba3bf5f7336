"""The access key store (fgform.api.keys): a private file, AWS-shaped ids and secrets,
create/rotate/revoke, and `find` seeing changes made by another process without a restart."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from fgform.api.keys import ACCESS_KEY_ID_RE, ApiKey, KeyStore
from fgform.errors import FgformError

POLICY = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]}


def keys_file(d: Path) -> Path:
    return d / ".fgform" / "api-keys.json"


def test_create_makes_an_aws_shaped_key_in_a_private_file(tmp_path: Path) -> None:
    key = KeyStore(tmp_path).create("ci", [POLICY])
    assert ACCESS_KEY_ID_RE.fullmatch(key.access_key_id)
    assert len(key.access_key_id) == 20 and key.access_key_id.startswith("AKIA")
    assert len(key.secret_access_key) == 40
    assert key.policies == (POLICY,)
    assert key.created.endswith("Z") and "T" in key.created
    path = keys_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    on_disk = json.loads(path.read_text())
    assert on_disk["version"] == 1
    assert on_disk["keys"][0]["secret_access_key"] == key.secret_access_key


def test_ids_and_secrets_are_fresh(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    made = [store.create(f"k{i}", [POLICY]) for i in range(5)]
    assert len({k.access_key_id for k in made}) == 5
    assert len({k.secret_access_key for k in made}) == 5


def test_the_secret_never_shows_in_repr(tmp_path: Path) -> None:
    key = KeyStore(tmp_path).create("ci", [POLICY])
    assert key.secret_access_key not in repr(key)
    assert key.secret_access_key not in str(key)
    assert key.access_key_id in repr(key)


def test_list_is_sorted_by_name_and_get_finds_by_name(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    for name in ("zeta", "alpha", "mid"):
        store.create(name, [POLICY])
    assert [k.name for k in store.list()] == ["alpha", "mid", "zeta"]
    assert store.get("mid").name == "mid"
    assert store.get("nope") is None
    assert KeyStore(tmp_path / "empty").list() == []


def test_a_duplicate_name_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create("ci", [POLICY])
    with pytest.raises(FgformError, match="an API key named 'ci' already exists"):
        store.create("ci", [POLICY])
    assert len(store.list()) == 1


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 65, "é"])
def test_a_bad_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(FgformError, match="invalid API key name"):
        KeyStore(tmp_path).create(name, [POLICY])


def test_an_invalid_policy_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    bad = {"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}
    with pytest.raises(FgformError, match=r'Statement\[0\]\.Effect: must be "Allow"'):
        KeyStore(tmp_path).create("ci", [bad])
    with pytest.raises(FgformError, match=r"policy 2: Statement\[0\]\.Effect"):
        KeyStore(tmp_path).create("ci", [POLICY, bad])
    assert not keys_file(tmp_path).exists()


def test_rotate_replaces_id_and_secret(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    old = store.create("ci", [POLICY])
    new = store.rotate("ci")
    assert new.name == "ci" and new.policies == old.policies
    assert new.access_key_id != old.access_key_id
    assert new.secret_access_key != old.secret_access_key
    assert store.find(old.access_key_id) is None
    assert store.find(new.access_key_id) == new
    with pytest.raises(FgformError, match="no API key named 'nope'"):
        store.rotate("nope")


def test_revoke(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    a = store.create("a", [POLICY])
    b = store.create("b", [POLICY])
    store.revoke("a")
    assert [k.name for k in store.list()] == ["b"]
    assert store.find(a.access_key_id) is None
    assert store.find(b.access_key_id) == b
    with pytest.raises(FgformError, match="no API key named 'a'"):
        store.revoke("a")
    assert stat.S_IMODE(keys_file(tmp_path).stat().st_mode) == 0o600


def test_find_sees_changes_made_by_another_store_without_a_restart(tmp_path: Path) -> None:
    """A running server's store and a CLI's store are different objects (processes)."""
    server = KeyStore(tmp_path)
    cli = KeyStore(tmp_path)
    assert server.find("AKIAAAAAAAAAAAAAAAAA") is None  # no file yet
    key = cli.create("ci", [POLICY])
    assert server.find(key.access_key_id) == key
    rotated = cli.rotate("ci")
    assert server.find(key.access_key_id) is None
    assert server.find(rotated.access_key_id) == rotated
    cli.revoke("ci")
    assert server.find(rotated.access_key_id) is None


def test_find_reads_the_file_only_when_it_changed(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = KeyStore(tmp_path)
    key = store.create("ci", [POLICY])
    reads = []
    real = store._read
    monkeypatch.setattr(store, "_read", lambda: reads.append(1) or real())
    for _ in range(5):
        assert store.find(key.access_key_id) == key
    assert len(reads) == 1
    KeyStore(tmp_path).create("other", [POLICY])
    store.find(key.access_key_id)
    assert len(reads) == 2


def test_concurrent_creates_lose_no_key(tmp_path: Path) -> None:
    errors = []

    def make(i: int) -> None:
        try:
            KeyStore(tmp_path).create(f"k{i:02d}", [POLICY])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [k.name for k in KeyStore(tmp_path).list()] == [f"k{i:02d}" for i in range(20)]


def test_a_keys_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    key = store.create("ci", [POLICY])
    os.chmod(keys_file(tmp_path), 0o644)
    with pytest.raises(FgformError, match=r"readable by others \(mode 0644\)") as info:
        KeyStore(tmp_path).find(key.access_key_id)
    assert "chmod 600" in info.value.hint


def test_a_symlinked_keys_file_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    KeyStore(elsewhere).create("ci", [POLICY])
    (tmp_path / ".fgform").mkdir(mode=0o700)
    keys_file(tmp_path).symlink_to(keys_file(elsewhere))
    with pytest.raises(FgformError, match="symbolic link"):
        KeyStore(tmp_path).list()
    with pytest.raises(FgformError, match="symbolic link"):
        KeyStore(tmp_path).create("other", [POLICY])
    assert [k.name for k in KeyStore(elsewhere).list()] == ["ci"]  # untouched


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"keys": {}}', 'expected an object with a "keys" list'),
    ('{"version": 9, "keys": []}', "unsupported version 9"),
    ('{"version": 1, "keys": [{"name": "x"}]}', r"keys\[0\] is malformed"),
    ('{"version": 1, "keys": [{"name": "x", "access_key_id": "AKIAAAAAAAAAAAAAAAAA", '
     '"secret_access_key": "s", "created": "t", "policies": "p"}]}',
     r"keys\[0\]\.policies must be a list"),
    ('{"version": 1, "keys": [{"name": "x", "access_key_id": "AKIAAAAAAAAAAAAAAAAA", '
     '"secret_access_key": "s", "created": "t", "policies": [{"Statement": '
     '{"Effect": "Allow", "Action": "*"}}]}]}',
     r"keys\[0\]\.policies\[0\] \(key 'x'\): Statement: missing Resource"),
])
def test_a_damaged_keys_file_is_a_clear_error(tmp_path: Path, content: str,
                                              message: str) -> None:
    path = keys_file(tmp_path)
    path.parent.mkdir(mode=0o700)
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(FgformError, match=message):
        KeyStore(tmp_path).list()


def test_api_key_is_frozen() -> None:
    key = ApiKey("ci", "AKIAAAAAAAAAAAAAAAAA", "s" * 40, (), "2026-01-01T00:00:00Z")
    with pytest.raises(AttributeError):
        key.name = "other"  # type: ignore[misc]


def test_an_existing_open_fgform_directory_is_made_private(tmp_path: Path) -> None:
    (tmp_path / ".fgform").mkdir(mode=0o755)
    os.chmod(tmp_path / ".fgform", 0o755)
    (tmp_path / ".fgform" / "environment").write_text("default")
    KeyStore(tmp_path).create("ci", [POLICY])
    assert stat.S_IMODE((tmp_path / ".fgform").stat().st_mode) == 0o700
    assert (tmp_path / ".fgform" / "environment").read_text() == "default"
