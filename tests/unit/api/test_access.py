"""Access at the HTTP edge: tenant isolation, bad credentials on real routes, denials in
the audit log, and policy changes taking effect at the next request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conflux_node.auth.errors import Unauthenticated
from conflux_node.auth.tokens import issue_token, new_jti
from conflux_node.model.identity import read_jwt_key
from conflux_node.service.access import DenialBudget
from conflux_node.service.sessions import Sessions
from conflux_node.storage.memory import MemoryStore
from tests.unit.api.conftest import (
    ADMIN_PASSWORD,
    Client,
    authed,
    bearer,
    make_app,
    seeded_store,
    token_for,
)

ACME = "/api/v1/configs/acme/shop/prod/db"
GLOBEX = "/api/v1/configs/globex/shop/prod/db"
NONE = {"Authorization": ""}


@pytest.fixture
async def env() -> AsyncIterator[tuple[Client, MemoryStore]]:
    """acme and globex, each with a released config; `bob` is globex's editor."""
    store = seeded_store(("acme", "globex"))
    async with authed(make_app(store=store)) as client:
        for path in (ACME, GLOBEX):
            assert (await client.put(path, json={"format": "json"})).status == 201
            await client.post(path + "/versions", json={"content": '{"a": 1}'})
            await client.put(path + "/release", json={"default_version": 1})
        await add_user(client, "bob", "globex", "editor")
        yield client, store


async def add_user(client: Client, name: str, tenant: str, role: str) -> None:
    user = {"username": name, "password": ADMIN_PASSWORD}
    assert (await client.post("/api/v1/users", json=user)).status == 201
    binding = {"user": name, "role": role}
    response = await client.post(f"/api/v1/tenants/{tenant}/bindings", json=binding)
    assert response.status == 201


async def new_key(client: Client, tenant: str, role: str = "client") -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/tenants/{tenant}/apikeys", json={"name": f"k-{role}", "role": role}
    )
    assert response.status == 201
    body: dict[str, Any] = await response.json()
    return body


async def audit_of(client: Client, actor: str) -> list[dict[str, Any]]:
    for _ in range(100):  # denials are proposed in the background
        items: list[dict[str, Any]] = (
            await (await client.get(f"/api/v1/audit?actor={actor}")).json()
        )["items"]
        if items:
            return items
        await asyncio.sleep(0.01)
    return []


async def test_one_tenant_cannot_read_write_fetch_or_watch_another(
    env: tuple[Client, MemoryStore],
) -> None:
    client, store = env
    bob = bearer(token_for(store, "user:bob"))
    key = bearer((await new_key(client, "globex"))["key"])
    refused = [
        await client.get(ACME, headers=bob),
        await client.get(ACME + "/versions/1", headers=bob),
        await client.post(ACME + "/versions", json={"content": "{}"}, headers=bob),
        await client.put(ACME, json={"format": "json"}, headers=bob),
        await client.get("/api/v1/fetch/acme/shop/prod/db", headers=key),
        await client.get("/api/v1/watch?config=acme/shop/prod/db&wait=1", headers=key),
        await client.get(
            "/api/v1/watch?config=globex/shop/prod/db&config=acme/shop/prod/db", headers=key
        ),
    ]
    assert [r.status for r in refused] == [403] * len(refused)
    body = await refused[0].json()
    assert body["error"]["code"] == "forbidden"
    assert body["error"]["details"] == {"action": "config.read", "tenant": "acme"}
    # ... while their own tenant answers.
    assert (await client.get(GLOBEX, headers=bob)).status == 200
    fetched = await client.get("/api/v1/fetch/globex/shop/prod/db", headers=key)
    assert fetched.status == 200 and (await fetched.json())["version"] == 1


async def test_denials_are_audited_with_actor_action_target_and_tenant(
    env: tuple[Client, MemoryStore],
) -> None:
    client, store = env
    bob = bearer(token_for(store, "user:bob"))
    assert (await client.delete(ACME, headers=bob)).status == 403
    records = await audit_of(client, "user:bob")
    denial = records[-1]
    assert (denial["action"], denial["target"], denial["tenant"], denial["outcome"]) == (
        "config.write",
        f"DELETE {ACME}",
        "acme",
        "denied",
    )
    assert (await client.get(ACME)).status == 200  # nothing was deleted


async def test_bad_credentials_are_refused_on_every_kind_of_route(
    env: tuple[Client, MemoryStore],
) -> None:
    client, store = env
    key = read_jwt_key(store)
    assert key is not None
    past = datetime.now(UTC) - timedelta(hours=2)
    expired, _ = issue_token(key.encode(), "user:admin", past, timedelta(hours=1), jti=new_jti())
    good = token_for(store)
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    forged, _ = issue_token(
        b"another-key-0123456789abcdef0123456789abcdef",
        "user:admin",
        datetime.now(UTC),
        timedelta(hours=1),
        jti=new_jti(),
    )
    revoked = await new_key(client, "acme")
    deleted = await client.delete(f"/api/v1/tenants/acme/apikeys/{revoked['id']}")
    assert deleted.status == 200
    headers = [
        NONE,
        bearer(expired),
        bearer(tampered),
        bearer(forged),
        bearer(revoked["key"]),
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
    ]
    for header in headers:
        for method, path in (("GET", ACME), ("GET", "/api/v1/fetch/acme/shop/prod/db")):
            response = await client.request(method, path, headers=header)
            assert response.status == 401, (header, path)
            text = await response.text()
            assert good not in text and revoked["key"] not in text


async def test_policy_changes_apply_at_the_next_request(env: tuple[Client, MemoryStore]) -> None:
    client, store = env
    bob = bearer(token_for(store, "user:bob"))
    assert (await client.get(GLOBEX, headers=bob)).status == 200
    assert (await client.delete("/api/v1/tenants/globex/bindings/bob")).status == 204
    assert (await client.get(GLOBEX, headers=bob)).status == 403
    await client.post("/api/v1/tenants/acme/bindings", json={"user": "bob", "role": "viewer"})
    assert (await client.get(ACME, headers=bob)).status == 200
    assert (await client.post(ACME + "/versions", json={"content": "{}"}, headers=bob)).status == (
        403
    )
    assert (await client.delete("/api/v1/users/bob")).status == 204
    assert (await client.get(ACME, headers=bob)).status == 401


async def test_a_client_key_fetches_and_watches_but_reads_no_history(
    env: tuple[Client, MemoryStore],
) -> None:
    client, _ = env
    key = bearer((await new_key(client, "acme"))["key"])
    assert (await client.get("/api/v1/fetch/acme/shop/prod/db", headers=key)).status == 200
    watch = await client.get("/api/v1/watch?config=acme/shop/prod/db&wait=0.05", headers=key)
    assert watch.status == 200  # it holds nothing yet, so the answer comes at once
    for path in (ACME, ACME + "/versions", ACME + "/releases", "/api/v1/tenants/acme/apikeys"):
        assert (await client.get(path, headers=key)).status == 403, path


async def test_writes_name_the_verified_caller_as_actor(env: tuple[Client, MemoryStore]) -> None:
    client, store = env
    bob = bearer(token_for(store, "user:bob"))
    created = await client.post(GLOBEX + "/versions", json={"content": '{"b": 2}'}, headers=bob)
    assert created.status == 201
    version = await (await client.get(GLOBEX + "/versions/2")).json()
    assert version["author"] == "user:bob"


def test_the_denial_budget_refills_over_time() -> None:
    budget = DenialBudget(rate=2.0, burst=3.0, tokens=3.0, last=0.0)
    assert [budget.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert budget.take(0.5) is True  # one token back after half a second at 2/s
    assert budget.take(0.5) is False


async def test_a_config_needs_an_existing_tenant(env: tuple[Client, MemoryStore]) -> None:
    client, store = env
    missing = await client.put("/api/v1/configs/initech/shop/prod/db", json={"format": "json"})
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "tenant_not_found"
    bob = bearer(token_for(store, "user:bob"))  # not a system admin: refused before that
    refused = await client.put(
        "/api/v1/configs/initech/shop/prod/db", json={"format": "json"}, headers=bob
    )
    assert refused.status == 403
    assert (await client.post("/api/v1/tenants", json={"name": "initech"})).status == 201
    created = await client.put("/api/v1/configs/initech/shop/prod/db", json={"format": "json"})
    assert created.status == 201


async def test_separate_releaser_refuses_the_author(env: tuple[Client, MemoryStore]) -> None:
    client, store = env
    await add_user(client, "rita", "globex", "releaser")
    await add_user(client, "tara", "globex", "tenant-admin")
    tara, rita = (bearer(token_for(store, f"user:{n}")) for n in ("tara", "rita"))
    locked = await client.put(
        GLOBEX, json={"format": "json", "separate_releaser": True}, headers=tara
    )
    assert locked.status == 200 and (await locked.json())["separate_releaser"] is True
    pushed = await client.post(GLOBEX + "/versions", json={"content": '{"t": 1}'}, headers=tara)
    version = (await pushed.json())["version"]
    own = await client.put(GLOBEX + "/release", json={"default_version": version}, headers=tara)
    assert own.status == 403
    error = (await own.json())["error"]
    assert error["code"] == "releaser_is_author"
    assert error["details"] == {"version": version, "author": "user:tara"}
    other = await client.put(GLOBEX + "/release", json={"default_version": version}, headers=rita)
    assert other.status == 200
    served = await (await client.get("/api/v1/fetch/globex/shop/prod/db")).json()
    assert served["version"] == version


async def test_passwords_change_with_proof_and_old_tokens_stop_working(
    env: tuple[Client, MemoryStore],
) -> None:
    client, _ = env
    login = {"username": "bob", "password": ADMIN_PASSWORD}
    first = await (await client.post("/api/v1/auth/login", json=login)).json()
    bob = bearer(first["token"])
    path = "/api/v1/users/bob/password"
    new = "a brand new passphrase"
    no_proof = await client.put(path, json={"password": new}, headers=bob)
    assert no_proof.status == 400
    assert (await no_proof.json())["error"]["details"]["field"] == "current_password"
    wrong = {"password": new, "current_password": "not the password"}
    assert (await client.put(path, json=wrong, headers=bob)).status == 403
    other = {"password": new, "current_password": ADMIN_PASSWORD}
    assert (await client.put("/api/v1/users/admin/password", json=other, headers=bob)).status == (
        403
    )
    await asyncio.sleep(1.01)  # tokens carry whole seconds: the change must be later
    changed = await client.put(path, json=other, headers=bob)
    assert changed.status == 204
    assert (await client.get(GLOBEX, headers=bob)).status == 401
    again = await client.post("/api/v1/auth/login", json={"username": "bob", "password": new})
    assert again.status == 200
    # A system admin resets it without the old one.
    reset = await client.put(path, json={"password": "reset by the admin"})
    assert reset.status == 204
    records = await audit_of(client, "user:admin")
    assert any(r["action"] == "set_password" and r["target"] == "user/bob" for r in records)


def test_a_token_key_from_settings_replaces_the_bootstrap_key() -> None:
    store = seeded_store()
    settings_key = "k" * 40
    sessions = Sessions(store, token_ttl=60, signing_key=settings_key)
    now = datetime.now(UTC)
    mine, _ = issue_token(settings_key.encode(), "user:admin", now, timedelta(minutes=1), jti="a")
    assert sessions.principal(f"Bearer {mine}").actor == "user:admin"
    with pytest.raises(Unauthenticated):  # signed with the bootstrap key: no longer good
        sessions.principal(f"Bearer {token_for(store)}")


async def test_a_long_poll_answer_after_a_revocation_carries_no_content(
    env: tuple[Client, MemoryStore],
) -> None:
    client, _ = env
    created = await new_key(client, "acme")
    held = (await (await client.get("/api/v1/fetch/acme/shop/prod/db")).json())["sha256"]
    url = f"/api/v1/watch?config=acme/shop/prod/db:{held}&wait=5"
    poll = asyncio.create_task(client.get(url, headers=bearer(created["key"])))
    await asyncio.sleep(0.1)
    assert (await client.delete(f"/api/v1/tenants/acme/apikeys/{created['id']}")).status == 200
    await client.post(ACME + "/versions", json={"content": '{"a": 2}'})
    await client.put(ACME + "/release", json={"default_version": 2})
    answer = await asyncio.wait_for(poll, 5)
    assert answer.status == 401
    assert '{\\"a\\": 2}' not in await answer.text()


def test_a_rotation_keeps_tokens_of_the_previous_key_until_they_expire() -> None:
    store = seeded_store()
    old, new = "o" * 40, "n" * 40
    sessions = Sessions(store, token_ttl=60, signing_key=new, previous_key=old)
    now = datetime.now(UTC)
    minute = timedelta(minutes=1)
    by_old, _ = issue_token(old.encode(), "user:admin", now, minute, jti="a")
    by_new, _ = issue_token(new.encode(), "user:admin", now, minute, jti="b")
    stranger, _ = issue_token(b"s" * 40, "user:admin", now, minute, jti="c")
    assert sessions.principal(f"Bearer {by_old}").actor == "user:admin"
    assert sessions.principal(f"Bearer {by_new}").actor == "user:admin"
    with pytest.raises(Unauthenticated):
        sessions.principal(f"Bearer {stranger}")
    expired, _ = issue_token(old.encode(), "user:admin", now - 2 * minute, minute, jti="d")
    with pytest.raises(Unauthenticated):
        sessions.principal(f"Bearer {expired}")
