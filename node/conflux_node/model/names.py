"""Coordinates (tenant / app / env / name) and the naming rule they share."""

from __future__ import annotations

import re
from dataclasses import dataclass

from conflux_node.model.errors import InvalidName

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
MAX_NAME = 63
PARTS = ("tenant", "app", "env", "name")


def check_name(field: str, value: object) -> str:
    """Return `value` when it is a valid DNS-label-style name, else raise `InvalidName`."""
    if not isinstance(value, str) or len(value) > MAX_NAME or not NAME_RE.fullmatch(value):
        raise InvalidName(
            f"{field} must match [a-z0-9]([-a-z0-9_.]*[a-z0-9])? and be at most "
            f"{MAX_NAME} characters",
            field=field,
            value=value if isinstance(value, str) else None,
        )
    return value


@dataclass(frozen=True, slots=True)
class Coords:
    tenant: str
    app: str
    env: str
    name: str

    @classmethod
    def parse(cls, tenant: str, app: str, env: str, name: str) -> Coords:
        return cls(
            check_name("tenant", tenant),
            check_name("app", app),
            check_name("env", env),
            check_name("name", name),
        )

    @property
    def path(self) -> str:
        return f"{self.tenant}/{self.app}/{self.env}/{self.name}"

    def to_json(self) -> dict[str, str]:
        return {"tenant": self.tenant, "app": self.app, "env": self.env, "name": self.name}
