"""Release rules: which version a given client receives, and validation of release bodies.

Why here: every node must hand the same client the same version, so evaluation is a pure
function of (release spec, client identity, config path). Percentage rollouts hash the
client id with the config path and rule name, so a client stays in its bucket across
calls and nodes, while different rules and configs bucket clients independently.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from conflux_node.model.entities import ClientIdentity, Match, ReleaseSpec, Rule
from conflux_node.model.errors import InvalidInput, UnknownField
from conflux_node.model.names import check_name

BUCKETS = 10_000
MAX_RULES = 100
MAX_MESSAGE = 1024
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_TOP_KEYS = frozenset({"rules", "default_version", "message"})
_RULE_KEYS = frozenset({"name", "match", "version"})
_MATCH_KEYS = frozenset({"labels", "ip_cidrs", "client_ids", "percentage"})

_T = TypeVar("_T")
_Parse = Callable[[str, object], _T]


def bucket(client_id: str, config_path: str, rule_name: str) -> int:
    """Sticky bucket in [0, 10000): big-endian first 8 bytes of a sha256, mod 10000."""
    digest = hashlib.sha256(f"{client_id}\x00{config_path}\x00{rule_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def parse_cidr(field: str, value: object) -> IPNetwork:
    """Parse an IPv4/IPv6 CIDR (host bits allowed), else raise `InvalidInput` naming `field`."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a CIDR string", field=field)
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise InvalidInput(f"{field} is not a valid CIDR: {value!r}", field=field) from exc


@lru_cache(maxsize=1024)
def _network(cidr: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def _ip_in(ip: str | None, cidrs: tuple[str, ...]) -> bool:
    """Whether `ip` is inside any CIDR; an IPv4-mapped IPv6 address also counts as IPv4."""
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    networks = [n for n in map(_network, cidrs) if n is not None]
    return any(a in n for a in candidates for n in networks)


def _in_percentage(percentage: float, client_id: str | None, path: str, rule: str) -> bool:
    if client_id is None:
        return False
    return bucket(client_id, path, rule) < round(percentage * 100)


def rule_matches(match: Match, client: ClientIdentity, config_path: str, rule_name: str) -> bool:
    """Every criterion that is set must hold; an empty `Match` matches everyone."""
    if any(client.labels.get(k) != v for k, v in match.labels.items()):
        return False
    if match.ip_cidrs and not _ip_in(client.ip, match.ip_cidrs):
        return False
    if match.client_ids and client.client_id not in match.client_ids:
        return False
    return match.percentage is None or _in_percentage(
        match.percentage, client.client_id, config_path, rule_name
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """The version a client gets, and the rule that chose it (None: the default)."""

    version: int
    rule: str | None


def evaluate(spec: ReleaseSpec, client: ClientIdentity, config_path: str) -> Selection:
    """First matching rule wins; otherwise the default version."""
    for rule in spec.rules:
        if rule_matches(rule.match, client, config_path, rule.name):
            return Selection(rule.version, rule.name)
    return Selection(spec.default_version, None)


def _object(field: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be an object", field=field)
    return value


def _known(prefix: str, data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in data:
        if key not in allowed:
            raise UnknownField(f"unknown field '{key}'", field=f"{prefix}{key}")


def _version(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{field} must be an integer >= 1", field=field)
    return value


def _list(field: str, value: object) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{field} must be a non-empty list (omit it to match all)", field=field)
    return value


def _labels(field: str, value: object) -> dict[str, str]:
    labels = _object(field, value)
    for key, label in labels.items():
        if not isinstance(label, str):
            raise InvalidInput(f"{field}.{key} must be a string", field=f"{field}.{key}")
    return dict(labels)


def _client_ids(field: str, value: object) -> tuple[str, ...]:
    ids = _list(field, value)
    for i, client_id in enumerate(ids):
        if not isinstance(client_id, str) or not client_id:
            raise InvalidInput(f"{field}[{i}] must be a non-empty string", field=f"{field}[{i}]")
    return tuple(ids)


def _cidrs(field: str, value: object) -> tuple[str, ...]:
    cidrs = _list(field, value)
    for i, cidr in enumerate(cidrs):
        parse_cidr(f"{field}[{i}]", cidr)
    return tuple(cidrs)


def _percentage(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidInput(f"{field} must be a number between 0 and 100", field=field)
    return float(value)


def _optional(data: Mapping[str, Any], key: str, prefix: str, parse: _Parse[_T], default: _T) -> _T:
    """Parse `data[key]`, or return `default` when the key is absent or null."""
    value = data.get(key)
    return default if value is None else parse(f"{prefix}{key}", value)


def _match(field: str, value: object) -> Match:
    data = _object(field, value)
    prefix = f"{field}."
    _known(prefix, data, _MATCH_KEYS)
    return Match(
        labels=_optional(data, "labels", prefix, _labels, {}),
        ip_cidrs=_optional(data, "ip_cidrs", prefix, _cidrs, ()),
        client_ids=_optional(data, "client_ids", prefix, _client_ids, ()),
        percentage=_optional(data, "percentage", prefix, _percentage, None),
    )


def _rule(field: str, value: object) -> Rule:
    data = _object(field, value)
    prefix = f"{field}."
    _known(prefix, data, _RULE_KEYS)
    name = check_name(f"{prefix}name", data.get("name"))
    match = _optional(data, "match", prefix, _match, Match())
    return Rule(name=name, match=match, version=_version(f"{prefix}version", data.get("version")))


def _rules(field: str, value: object) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise InvalidInput(f"{field} must be a list", field=field)
    if len(value) > MAX_RULES:
        raise InvalidInput(f"at most {MAX_RULES} rules are allowed", field=field)
    rules = tuple(_rule(f"{field}[{i}]", item) for i, item in enumerate(value))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            name_field = f"{field}[{i}].name"
            raise InvalidInput(f"duplicate rule name '{rule.name}'", field=name_field)
        seen.add(rule.name)
    return rules


def _message(field: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_MESSAGE:
        raise InvalidInput(f"{field} must be a string of at most {MAX_MESSAGE} chars", field=field)
    return value


def check_release_spec(spec_json: object) -> ReleaseSpec:
    """Validate an untrusted `PUT .../release` body; optional fields may be absent or null."""
    data = _object("body", spec_json)
    _known("", data, _TOP_KEYS)
    if "default_version" not in data:
        raise InvalidInput("default_version is required", field="default_version")
    return ReleaseSpec(
        rules=_optional(data, "rules", "", _rules, ()),
        default_version=_version("default_version", data["default_version"]),
        message=_optional(data, "message", "", _message, ""),
    )
