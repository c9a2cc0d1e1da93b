"""API keys: format, parsing, hashing and constant-time verification."""

from __future__ import annotations

import re

import pytest

from conflux_node.auth.apikeys import (
    generate_api_key,
    hash_secret,
    parse_api_key,
    verify_secret,
)

GOOD_SECRET = "A" * 43
GOOD = f"cfx_abcdefghijkl_{GOOD_SECRET}"


def test_generated_key_has_the_documented_shape() -> None:
    key_id, key = generate_api_key()
    assert re.fullmatch(r"[a-z2-7]{12}", key_id)
    assert re.fullmatch(rf"cfx_{key_id}_[A-Za-z0-9_-]{{43}}", key)


def test_generated_keys_are_unique() -> None:
    keys = [generate_api_key() for _ in range(200)]
    assert len({key_id for key_id, _ in keys}) == 200
    assert len({key for _, key in keys}) == 200


def test_parse_round_trip() -> None:
    key_id, key = generate_api_key()
    parsed = parse_api_key(key)
    assert parsed is not None
    assert parsed[0] == key_id
    assert key == f"cfx_{key_id}_{parsed[1]}"


def test_secret_may_contain_the_separator() -> None:
    secret = "_-" + "b" * 41
    assert parse_api_key(f"cfx_abcdefghijkl_{secret}") == ("abcdefghijkl", secret)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "cfx_",
        GOOD.replace("cfx_", "cfy_"),
        GOOD.replace("cfx_", "CFX_"),
        f"cfx_abcdefghijk_{GOOD_SECRET}",  # id too short
        f"cfx_abcdefghijklm_{GOOD_SECRET}",  # id too long
        f"cfx_ABCDEFGHIJKL_{GOOD_SECRET}",  # id upper case
        f"cfx_abcdefghijk0_{GOOD_SECRET}",  # 0 is not base32
        f"cfx_abcdefghijkl_{'A' * 42}",  # secret too short
        f"cfx_abcdefghijkl_{'A' * 42}=",  # padding is not urlsafe-unpadded
        f"cfx_abcdefghijkl_{'A' * 42}+",
        f"cfx_abcdefghijkl{GOOD_SECRET}",  # no separator
        f" {GOOD}",
        f"{GOOD}\n",
        f"Bearer {GOOD}",
        GOOD + "A" * 300,  # far too long
    ],
)
def test_malformed_keys_parse_to_none(text: str) -> None:
    assert parse_api_key(text) is None


def test_non_string_parses_to_none() -> None:
    assert parse_api_key(None) is None  # type: ignore[arg-type]
    assert parse_api_key(b"cfx_x") is None  # type: ignore[arg-type]


def test_hash_is_sha256_hex_and_not_the_secret() -> None:
    digest = hash_secret(GOOD_SECRET)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert GOOD_SECRET not in digest
    # Known answer, so a change of function is caught.
    assert hash_secret("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_verify_secret() -> None:
    _, key = generate_api_key()
    parsed = parse_api_key(key)
    assert parsed is not None
    stored = hash_secret(parsed[1])
    assert verify_secret(stored, parsed[1]) is True
    assert verify_secret(stored, parsed[1][:-1] + ("A" if parsed[1][-1] != "A" else "B")) is False
    assert verify_secret(stored, "") is False


@pytest.mark.parametrize("corrupt", ["", "zz", "é" * 64, hash_secret("x").upper(), "0" * 63])
def test_corrupt_stored_hash_is_false(corrupt: str) -> None:
    assert verify_secret(corrupt, "x") is False
