"""Unit tests for conflux_node.model.rules: matching, evaluation, release body checks."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from conflux_node.model.entities import ClientIdentity, Match, ReleaseSpec, Rule
from conflux_node.model.errors import InvalidInput, InvalidName, UnknownField
from conflux_node.model.rules import (
    Selection,
    bucket,
    check_release_spec,
    evaluate,
    parse_cidr,
    rule_matches,
)

PATH = "acme/shop/prod/db"


def client(client_id: str | None = None, ip: str | None = None, **labels: str) -> ClientIdentity:
    return ClientIdentity(client_id=client_id, labels=labels, ip=ip)


# --- bucket / percentage ----------------------------------------------------------------


def test_bucket_matches_documented_hash() -> None:
    digest = hashlib.sha256(b"c1\x00acme/shop/prod/db\x00canary").digest()
    assert bucket("c1", PATH, "canary") == int.from_bytes(digest[:8], "big") % 10_000


def test_bucket_range_and_independence() -> None:
    values = [bucket(f"client-{i}", PATH, "r") for i in range(2000)]
    assert all(0 <= v < 10_000 for v in values)
    assert len(set(values)) > 1500
    moved = sum(
        bucket(f"client-{i}", PATH, "r") != bucket(f"client-{i}", PATH, "s") for i in range(200)
    )
    assert moved > 150  # a different rule name reshuffles clients


def test_percentage_is_sticky() -> None:
    match = Match(percentage=30.0)
    for i in range(200):
        who = client(f"client-{i}")
        first = rule_matches(match, who, PATH, "canary")
        assert all(rule_matches(match, who, PATH, "canary") == first for _ in range(5))


@pytest.mark.parametrize("percentage", [0.0, 30.0, 50.0, 100.0])
def test_percentage_distribution(percentage: float) -> None:
    match = Match(percentage=percentage)
    hits = sum(rule_matches(match, client(f"client-{i}"), PATH, "canary") for i in range(10_000))
    share = hits / 100  # percent of 10,000 clients
    if percentage in (0.0, 100.0):
        assert share == percentage
    else:
        assert percentage - 5 <= share <= percentage + 5


def test_percentage_boundary_is_exclusive() -> None:
    cid = "client-7"
    b = bucket(cid, PATH, "r")
    assert not rule_matches(Match(percentage=b / 100), client(cid), PATH, "r")
    assert rule_matches(Match(percentage=(b + 1) / 100), client(cid), PATH, "r")


def test_percentage_needs_client_id() -> None:
    assert not rule_matches(Match(percentage=100.0), client(None), PATH, "r")


def test_percentage_is_monotonic() -> None:
    ids = [f"client-{i}" for i in range(1000)]
    low = {i for i in ids if rule_matches(Match(percentage=10.0), client(i), PATH, "r")}
    high = {i for i in ids if rule_matches(Match(percentage=40.0), client(i), PATH, "r")}
    assert low <= high  # raising the percentage only adds clients


# --- criteria ---------------------------------------------------------------------------


def test_empty_match_matches_everyone() -> None:
    assert rule_matches(Match(), client(), PATH, "r")
    assert rule_matches(Match(), client("x", "10.0.0.1", zone="a"), PATH, "r")


def test_labels_must_all_be_equal() -> None:
    match = Match(labels={"zone": "eu", "tier": "web"})
    assert rule_matches(match, client(zone="eu", tier="web", extra="1"), PATH, "r")
    assert not rule_matches(match, client(zone="eu"), PATH, "r")
    assert not rule_matches(match, client(zone="eu", tier="db"), PATH, "r")


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("10.1.2.3", True),
        ("192.168.5.5", True),
        ("11.0.0.1", False),
        ("2001:db8::1", True),
        ("2001:db9::1", False),
        ("::ffff:10.0.0.1", True),  # IPv4-mapped IPv6 matches the IPv4 CIDR
        ("::ffff:11.0.0.1", False),
        ("not-an-ip", False),
        (None, False),
    ],
)
def test_ip_cidrs(ip: str | None, expected: bool) -> None:
    match = Match(ip_cidrs=("10.0.0.0/8", "192.168.5.5", "2001:db8::/32"))
    assert rule_matches(match, client(ip=ip), PATH, "r") is expected


def test_cidr_with_host_bits_is_accepted() -> None:
    assert rule_matches(Match(ip_cidrs=("10.0.0.7/8",)), client(ip="10.9.9.9"), PATH, "r")


def test_client_ids() -> None:
    match = Match(client_ids=("a", "b"))
    assert rule_matches(match, client("b"), PATH, "r")
    assert not rule_matches(match, client("c"), PATH, "r")
    assert not rule_matches(match, client(None), PATH, "r")


def test_criteria_are_anded() -> None:
    match = Match(labels={"zone": "eu"}, ip_cidrs=("10.0.0.0/8",), client_ids=("a",))
    assert rule_matches(match, client("a", "10.0.0.1", zone="eu"), PATH, "r")
    assert not rule_matches(match, client("b", "10.0.0.1", zone="eu"), PATH, "r")
    assert not rule_matches(match, client("a", "11.0.0.1", zone="eu"), PATH, "r")
    assert not rule_matches(match, client("a", "10.0.0.1", zone="us"), PATH, "r")
    assert not rule_matches(Match(client_ids=("a",), percentage=0.0), client("a"), PATH, "r")


# --- evaluate ---------------------------------------------------------------------------


SPEC = ReleaseSpec(
    rules=(
        Rule("vip", Match(client_ids=("boss",)), 5),
        Rule("eu", Match(labels={"zone": "eu"}), 4),
        Rule("all-eu-too", Match(labels={"zone": "eu"}), 3),
    ),
    default_version=2,
)


def test_first_match_wins() -> None:
    assert evaluate(SPEC, client("boss", zone="eu"), PATH) == Selection(5, "vip")
    assert evaluate(SPEC, client("someone", zone="eu"), PATH) == Selection(4, "eu")


def test_default_when_nothing_matches() -> None:
    assert evaluate(SPEC, client("someone", zone="us"), PATH) == Selection(2, None)
    assert evaluate(ReleaseSpec((), 7), client(), PATH) == Selection(7, None)


def test_percentage_rule_evaluation_uses_rule_name() -> None:
    spec = ReleaseSpec((Rule("canary", Match(percentage=50.0), 9),), 1)
    for i in range(100):
        cid = f"client-{i}"
        expected = 9 if bucket(cid, PATH, "canary") < 5000 else 1
        assert evaluate(spec, client(cid), PATH).version == expected


# --- check_release_spec -----------------------------------------------------------------


GOOD: dict[str, Any] = {
    "rules": [
        {
            "name": "canary",
            "match": {
                "labels": {"zone": "eu"},
                "ip_cidrs": ["10.0.0.0/8", "2001:db8::/32"],
                "client_ids": ["a", "b"],
                "percentage": 25,
            },
            "version": 3,
        },
        {"name": "everyone-else", "version": 2},
    ],
    "default_version": 1,
    "message": "roll out v3",
}


def test_check_release_spec_accepts_good_body() -> None:
    spec = check_release_spec(GOOD)
    assert spec.default_version == 1
    assert spec.message == "roll out v3"
    canary, rest = spec.rules
    assert canary == Rule(
        "canary",
        Match({"zone": "eu"}, ("10.0.0.0/8", "2001:db8::/32"), ("a", "b"), 25.0),
        3,
    )
    assert isinstance(canary.match.percentage, float)
    assert rest == Rule("everyone-else", Match(), 2)
    assert ReleaseSpec.from_json(spec.to_json()) == spec


def test_check_release_spec_minimal_and_nulls() -> None:
    assert check_release_spec({"default_version": 4}) == ReleaseSpec((), 4, "")
    body = {"default_version": 4, "rules": None, "message": None}
    assert check_release_spec(body) == ReleaseSpec((), 4, "")
    rule = {"name": "r", "version": 2, "match": {"percentage": None, "labels": None}}
    assert check_release_spec({"default_version": 1, "rules": [rule]}).rules[0].match == Match()


def with_rule(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": "r", "version": 2, "match": {}}
    for key, value in changes.items():
        if key.startswith("m_"):
            rule["match"][key[2:]] = value
        else:
            rule[key] = value
    return {"default_version": 1, "rules": [rule]}


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ([], InvalidInput, "body"),
        ({}, InvalidInput, "default_version"),
        ({"default_version": 0}, InvalidInput, "default_version"),
        ({"default_version": True}, InvalidInput, "default_version"),
        ({"default_version": 1.0}, InvalidInput, "default_version"),
        ({"default_version": "1"}, InvalidInput, "default_version"),
        ({"default_version": 1, "extra": 1}, UnknownField, "extra"),
        ({"default_version": 1, "message": 5}, InvalidInput, "message"),
        ({"default_version": 1, "message": "x" * 1025}, InvalidInput, "message"),
        ({"default_version": 1, "rules": {}}, InvalidInput, "rules"),
        ({"default_version": 1, "rules": ["r"]}, InvalidInput, "rules[0]"),
        (with_rule(name="Bad Name"), InvalidName, "rules[0].name"),
        (with_rule(name=None), InvalidName, "rules[0].name"),
        (with_rule(version=0), InvalidInput, "rules[0].version"),
        (with_rule(version=None), InvalidInput, "rules[0].version"),
        (with_rule(version=False), InvalidInput, "rules[0].version"),
        (with_rule(colour="red"), UnknownField, "rules[0].colour"),
        (with_rule(match=[]), InvalidInput, "rules[0].match"),
        (with_rule(m_country="nl"), UnknownField, "rules[0].match.country"),
        (with_rule(m_labels=["a"]), InvalidInput, "rules[0].match.labels"),
        (with_rule(m_labels={"zone": 1}), InvalidInput, "rules[0].match.labels.zone"),
        (with_rule(m_ip_cidrs="10.0.0.0/8"), InvalidInput, "rules[0].match.ip_cidrs"),
        (with_rule(m_ip_cidrs=[]), InvalidInput, "rules[0].match.ip_cidrs"),
        (
            with_rule(m_ip_cidrs=["10.0.0.0/8", "10.0.0.0/33"]),
            InvalidInput,
            "rules[0].match.ip_cidrs[1]",
        ),
        (with_rule(m_ip_cidrs=[10]), InvalidInput, "rules[0].match.ip_cidrs[0]"),
        (with_rule(m_client_ids=["a", ""]), InvalidInput, "rules[0].match.client_ids[1]"),
        (with_rule(m_client_ids=[1]), InvalidInput, "rules[0].match.client_ids[0]"),
        (with_rule(m_client_ids=[]), InvalidInput, "rules[0].match.client_ids"),
        (with_rule(m_percentage=101), InvalidInput, "rules[0].match.percentage"),
        (with_rule(m_percentage=-0.5), InvalidInput, "rules[0].match.percentage"),
        (with_rule(m_percentage=True), InvalidInput, "rules[0].match.percentage"),
        (with_rule(m_percentage="50"), InvalidInput, "rules[0].match.percentage"),
        (with_rule(m_percentage=float("nan")), InvalidInput, "rules[0].match.percentage"),
    ],
)
def test_check_release_spec_rejects(body: object, error: type[Exception], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_release_spec(body)
    assert type(info.value) is error
    assert info.value.details["field"] == field


def test_unknown_field_message() -> None:
    with pytest.raises(UnknownField) as info:
        check_release_spec({"default_version": 1, "colour": "red"})
    assert info.value.message == "unknown field 'colour'"


def test_duplicate_rule_names() -> None:
    rules = [{"name": "a", "version": 1}, {"name": "b", "version": 1}, {"name": "a", "version": 2}]
    with pytest.raises(InvalidInput) as info:
        check_release_spec({"default_version": 1, "rules": rules})
    assert info.value.details["field"] == "rules[2].name"
    assert "duplicate" in info.value.message


def test_rule_count_limit() -> None:
    rules = [{"name": f"r{i}", "version": 1} for i in range(101)]
    with pytest.raises(InvalidInput) as info:
        check_release_spec({"default_version": 1, "rules": rules})
    assert info.value.details["field"] == "rules"
    assert len(check_release_spec({"default_version": 1, "rules": rules[:100]}).rules) == 100


def test_parse_cidr() -> None:
    assert str(parse_cidr("f", "10.1.2.3/8")) == "10.0.0.0/8"
    assert str(parse_cidr("f", "2001:db8::1/32")) == "2001:db8::/32"
    with pytest.raises(InvalidInput) as info:
        parse_cidr("rules[3].match.ip_cidrs[0]", "nope")
    assert info.value.details["field"] == "rules[3].match.ip_cidrs[0]"
