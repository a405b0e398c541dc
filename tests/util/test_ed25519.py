"""Ed25519 helpers: keys on disk, signatures that verify only for the exact bytes and key."""

from __future__ import annotations

import stat

import pytest

from releasegate._util import ed25519
from releasegate.errors import InputError


def test_sign_and_verify_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = ed25519.generate_private_key()
    path = ed25519.write_private_key(key, tmp_path / "keys" / "alice.pem")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = ed25519.load_private_key(path)
    public = ed25519.public_key_b64(loaded)
    assert public == ed25519.public_key_b64(key)
    signature = ed25519.sign(loaded, b"decision bytes")
    assert ed25519.verify(public, b"decision bytes", signature)
    assert not ed25519.verify(public, b"decision bytez", signature)
    other = ed25519.public_key_b64(ed25519.generate_private_key())
    assert not ed25519.verify(other, b"decision bytes", signature)
    assert len(ed25519.key_id(public)) == ed25519.KEY_ID_LENGTH


@pytest.mark.parametrize(
    ("public", "signature"),
    [("not base64!", "AAAA"), ("QUJD", "AAAA"), (None, "not base64!"), (None, "")],
)
def test_malformed_keys_and_signatures_do_not_verify(public: str | None, signature: str) -> None:
    key = ed25519.generate_private_key()
    assert not ed25519.verify(public or ed25519.public_key_b64(key), b"m", signature)


def test_existing_key_file_is_never_overwritten(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "k.pem"
    path.write_text("precious")
    with pytest.raises(InputError, match="refusing to overwrite"):
        ed25519.write_private_key(ed25519.generate_private_key(), path)
    assert path.read_text() == "precious"


def test_bad_key_files_name_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=r"missing\.pem"):
        ed25519.load_private_key(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(InputError, match=r"junk\.pem"):
        ed25519.load_private_key(junk)
