"""The identity routes end to end over the real app: tenants, users, bindings, API keys,
login, whoami and the audit log, and that no secret leaks into state, answers or logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from conflux_node.consensus.bridge import LocalProposer
from conflux_node.consensus.machine import StateMachine
from conflux_node.service import sessions as sessions_module
from conflux_node.service.bootstrap import bootstrap_once
from conflux_node.storage.memory import MemoryStore
from tests.unit.api.conftest import authed, make_app

Client = TestClient[Any, Any]
ADMIN_PASSWORD = "Adm1n-Pa55-for-tests"
BOB_PASSWORD = "b0b-S3cret-pass"


async def bootstrapped_store() -> MemoryStore:
    store = MemoryStore()
    assert await bootstrap_once(store, LocalProposer(StateMachine(store)), ADMIN_PASSWORD)
    return store


@pytest.fixture
async def env() -> AsyncIterator[tuple[Client, MemoryStore]]:
    store = await bootstrapped_store()
    async with authed(make_app(store=store)) as test_client:
        yield test_client, store


async def login(client: Client, username: str, password: str) -> Any:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def admin_headers(client: Client) -> dict[str, str]:
    response = await login(client, "admin", ADMIN_PASSWORD)
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


NONE = {"Authorization": ""}


async def until_audited(client: Client, actor: str) -> None:
    """Denials are recorded in the background: wait until `actor` has a record."""
    for _ in range(100):
        page = await (await client.get(f"/api/v1/audit?actor={actor}")).json()
        if page["items"]:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no audit record for {actor}")


def store_text(store: MemoryStore) -> str:
    return "\n".join(k.decode() + "=" + v.decode() for k, v in store.scan(b""))


async def test_tenants(env: tuple[Client, MemoryStore]) -> None:
    client, _ = env
    created = await client.post("/api/v1/tenants", json={"name": "acme"})
    assert created.status == 201
    assert (await created.json())["name"] == "acme"
    assert (await client.post("/api/v1/tenants", json={"name": "acme"})).status == 409
    assert (await client.post("/api/v1/tenants", json={"nam": "x"})).status == 400
    assert (await client.post("/api/v1/tenants", json={"name": "Bad Name"})).status == 400
    listed = await (await client.get("/api/v1/tenants")).json()
    assert [t["name"] for t in listed["items"]] == ["acme"]
    assert (await client.get("/api/v1/tenants/acme")).status == 200
    missing = await client.get("/api/v1/tenants/nope")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "tenant_not_found"
    assert (await client.delete("/api/v1/tenants/acme")).status == 200
    assert (await client.delete("/api/v1/tenants/acme")).status == 404


async def test_users_and_bindings(env: tuple[Client, MemoryStore]) -> None:
    client, store = env
    created = await client.post("/api/v1/users", json={"username": "bob", "password": BOB_PASSWORD})
    assert created.status == 201
    body = await created.json()
    assert body["username"] == "bob" and "password_hash" not in body
    again = await client.post("/api/v1/users", json={"username": "bob", "password": "x"})
    assert again.status == 409
    assert (await client.post("/api/v1/users", json={"username": "eve"})).status == 400
    assert (
        await client.post("/api/v1/users", json={"username": "eve", "password": ""})
    ).status == 400
    users = await (await client.get("/api/v1/users")).json()
    assert {u["username"] for u in users["items"]} == {"admin", "bob"}
    assert all("password_hash" not in u for u in users["items"])
    assert (await client.get("/api/v1/users/nobody")).status == 404
    assert BOB_PASSWORD not in store_text(store)

    await client.post("/api/v1/tenants", json={"name": "acme"})
    bind = await client.post(
        "/api/v1/tenants/acme/bindings", json={"user": "bob", "role": "editor"}
    )
    assert bind.status == 201
    dup = await client.post("/api/v1/tenants/acme/bindings", json={"user": "bob", "role": "viewer"})
    assert dup.status == 409
    bad = await client.post("/api/v1/tenants/acme/bindings", json={"user": "bob", "role": "god"})
    assert bad.status == 400
    ghost = await client.post(
        "/api/v1/tenants/none/bindings", json={"user": "bob", "role": "viewer"}
    )
    assert ghost.status == 404
    listed = await (await client.get("/api/v1/tenants/acme/bindings")).json()
    assert [(b["user"], b["role"]) for b in listed["items"]] == [("bob", "editor")]
    bob = await (await client.get("/api/v1/users/bob")).json()
    assert bob["bindings"] == [{"tenant": "acme", "role": "editor"}]
    one = await (await client.get("/api/v1/tenants/acme/bindings/bob")).json()
    assert (one["user"], one["role"], one["tenant"]) == ("bob", "editor", "acme")
    none = await client.get("/api/v1/tenants/acme/bindings/admin")
    assert none.status == 404 and (await none.json())["error"]["code"] == "binding_not_found"
    assert (await client.delete("/api/v1/tenants/acme/bindings/bob")).status == 204
    assert (await client.delete("/api/v1/tenants/acme/bindings/bob")).status == 404
    assert (await client.delete("/api/v1/users/bob")).status == 204
    assert (await client.delete("/api/v1/users/bob")).status == 404


async def test_api_key_shown_once_and_only_its_hash_stored(env: tuple[Client, MemoryStore]) -> None:
    client, store = env
    await client.post("/api/v1/tenants", json={"name": "acme"})
    created = await client.post(
        "/api/v1/tenants/acme/apikeys", json={"name": "svc", "role": "client"}
    )
    assert created.status == 201
    assert created.headers["Cache-Control"] == "no-store"
    body = await created.json()
    key, key_id = body["key"], body["id"]
    assert key.startswith(f"cfx_{key_id}_")
    secret = key.split("_", 2)[2]
    state = store_text(store)
    assert key not in state and secret not in state
    listed = await (await client.get("/api/v1/tenants/acme/apikeys")).json()
    assert [k["id"] for k in listed["items"]] == [key_id]
    assert "key" not in listed["items"][0] and "secret_hash" not in listed["items"][0]
    one = await client.get(f"/api/v1/tenants/acme/apikeys/{key_id}")
    assert one.status == 200
    assert (await one.json()) == listed["items"][0]
    elsewhere = await client.get(f"/api/v1/tenants/other/apikeys/{key_id}")
    assert elsewhere.status == 404  # a key is found only under its own tenant
    whole_key = await client.get(f"/api/v1/tenants/acme/apikeys/{key}")
    assert whole_key.status == 404 and key not in await whole_key.text()
    assert key not in str(listed)
    dup = await client.post("/api/v1/tenants/acme/apikeys", json={"name": "svc", "role": "client"})
    assert dup.status == 409
    bad = await client.post("/api/v1/tenants/acme/apikeys", json={"name": "x", "role": "root"})
    assert bad.status == 400
    past = await client.post(
        "/api/v1/tenants/acme/apikeys",
        json={"name": "old", "role": "client", "expires_at": "2000-01-01T00:00:00+00:00"},
    )
    assert past.status == 400
    ghost = await client.post("/api/v1/tenants/none/apikeys", json={"name": "a", "role": "client"})
    assert ghost.status == 404

    who = await client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {key}"})
    assert who.status == 200
    assert await who.json() == {
        "subject": key_id,
        "kind": "apikey",
        "name": "svc",
        "tenant": "acme",
        "role": "client",
        "system_admin": False,
    }
    revoked = await client.delete(f"/api/v1/tenants/acme/apikeys/{key_id}")
    assert revoked.status == 200 and (await revoked.json())["revoked"] is True
    after = await client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {key}"})
    assert after.status == 401
    assert key not in await after.text()
    unknown = await client.delete("/api/v1/tenants/acme/apikeys/aaaaaaaaaaaa")
    assert unknown.status == 404
    whole = await client.delete(f"/api/v1/tenants/acme/apikeys/{key}")
    assert whole.status == 404 and key not in await whole.text()


async def test_login_and_whoami(env: tuple[Client, MemoryStore]) -> None:
    client, _ = env
    response = await login(client, "admin", ADMIN_PASSWORD)
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert set(body) == {"token", "expires_at"}
    who = await client.get(
        "/api/v1/auth/whoami", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert who.status == 200
    me = await who.json()
    assert (me["subject"], me["kind"], me["system_admin"]) == ("admin", "user", True)

    wrong = await login(client, "admin", "not-it")
    assert wrong.status == 401
    assert (await wrong.json())["error"]["code"] == "unauthenticated"
    assert (await login(client, "ghost", "whatever")).status == 401
    assert (await client.post("/api/v1/auth/login", json={"username": "admin"})).status == 400

    token = body["token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for header in (f"Bearer {tampered}", "Bearer nonsense", "Basic abc", "Bearer cfx_nope"):
        refused = await client.get("/api/v1/auth/whoami", headers={"Authorization": header})
        assert refused.status == 401, header
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert tampered not in await refused.text()
    assert (await client.get("/api/v1/auth/whoami", headers={"Authorization": ""})).status == 401


async def test_login_is_rate_limited_on_the_sixth_attempt(env: tuple[Client, MemoryStore]) -> None:
    client, _ = env
    for _ in range(5):
        assert (await login(client, "admin", "wrong-password")).status == 401
    limited = await login(client, "admin", ADMIN_PASSWORD)
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await limited.json())["error"]["code"] == "too_many_requests"
    # Another user from the same address is not affected.
    assert (await login(client, "ghost", "wrong-password")).status == 401


async def test_audit_records_actor_and_outcome_without_secrets(
    env: tuple[Client, MemoryStore],
) -> None:
    client, _ = env
    headers = await admin_headers(client)
    await client.post("/api/v1/tenants", json={"name": "acme"}, headers=headers)
    await client.post("/api/v1/tenants", json={"name": "acme"}, headers=headers)
    await client.post(
        "/api/v1/users", json={"username": "bob", "password": BOB_PASSWORD}, headers=headers
    )
    created = await client.post(
        "/api/v1/tenants/acme/apikeys", json={"name": "svc", "role": "client"}, headers=headers
    )
    key = (await created.json())["key"]
    bob = await login(client, "bob", BOB_PASSWORD)
    bob_headers = {"Authorization": f"Bearer {(await bob.json())['token']}"}
    refused = await client.post("/api/v1/tenants", json={"name": "anon"}, headers=bob_headers)
    assert refused.status == 403
    assert (await client.post("/api/v1/tenants", json={"name": "x"}, headers=NONE)).status == 401
    await until_audited(client, "user:bob")

    response = await client.get("/api/v1/audit")
    assert response.status == 200
    page = await response.json()
    rows = [(r["actor"], r["action"], r["target"], r["outcome"]) for r in page["items"]]
    assert rows[1:] == [
        ("user:admin", "create_tenant", "tenant/acme", "ok"),
        ("user:admin", "create_tenant", "tenant/acme", "rejected:conflict"),
        ("user:admin", "create_user", "user/bob", "ok"),
        ("user:admin", "create_api_key", f"apikey/{key.split('_')[1]}", "ok"),
        ("user:bob", "tenant.admin", "POST /api/v1/tenants", "denied"),
    ]
    assert rows[0][3] == "ok" and rows[0][2] == "user/admin"
    assert page["next"] is None
    text = await response.text()
    assert BOB_PASSWORD not in text and ADMIN_PASSWORD not in text and key not in text

    acme = await (await client.get("/api/v1/audit?tenant=acme")).json()
    assert {r["tenant"] for r in acme["items"]} == {"acme"}
    bobs = await (await client.get("/api/v1/audit?actor=user:bob")).json()
    assert [r["outcome"] for r in bobs["items"]] == ["denied"]
    first = await (await client.get("/api/v1/audit?limit=2")).json()
    assert len(first["items"]) == 2 and first["next"] == 2
    rest = await (await client.get(f"/api/v1/audit?after={first['next']}&limit=1000")).json()
    assert len(rest["items"]) == len(rows) - 2
    future = await (await client.get("/api/v1/audit?since=2999-01-01T00:00:00%2B00:00")).json()
    assert future["items"] == []
    for bad in ("limit=0", "limit=x", "since=yesterday", "since=2024-01-01T00:00:00", "x=1"):
        assert (await client.get(f"/api/v1/audit?{bad}")).status == 400, bad


async def test_no_secret_reaches_the_logs(
    env: tuple[Client, MemoryStore], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = env
    caplog.set_level(logging.DEBUG)
    headers = await admin_headers(client)
    token = headers["Authorization"].split()[1]
    await client.post("/api/v1/tenants", json={"name": "acme"}, headers=headers)
    await client.post(
        "/api/v1/users", json={"username": "bob", "password": BOB_PASSWORD}, headers=headers
    )
    created = await client.post(
        "/api/v1/tenants/acme/apikeys", json={"name": "svc", "role": "client"}, headers=headers
    )
    key = (await created.json())["key"]
    await client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {key}"})
    await client.get("/api/v1/auth/whoami", headers=headers)
    await login(client, "bob", BOB_PASSWORD)
    await login(client, "bob", "a-wrong-password")
    await client.get("/api/v1/audit")
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in (ADMIN_PASSWORD, BOB_PASSWORD, "a-wrong-password", token, key):
        assert secret not in logged


async def test_login_before_bootstrap_is_503_and_costs_no_attempt() -> None:
    async with authed(make_app(store=MemoryStore())) as client:
        for _ in range(7):
            early = await login(client, "admin", "whatever")
            assert early.status == 503
            assert early.headers["Retry-After"] == "1"


async def test_one_address_spraying_usernames_is_limited_too(
    env: tuple[Client, MemoryStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = env
    monkeypatch.setattr(sessions_module, "verify_password", lambda stored, password: False)
    for i in range(sessions_module.ADDRESS_FAILURES):
        assert (await login(client, f"user{i}", "wrong-password")).status == 401
    sprayed = await login(client, "yet-another-user", "wrong-password")
    assert sprayed.status == 429
    assert int(sprayed.headers["Retry-After"]) >= 1


async def test_audit_retention_is_set_by_a_system_admin_and_prunes(
    env: tuple[Client, MemoryStore],
) -> None:
    client, _ = env
    headers = await admin_headers(client)
    path = "/api/v1/audit/retention"
    assert await (await client.get(path, headers=headers)).json() == {
        "keep_last": None,
        "keep_days": None,
    }
    for bad in ({"keep_last": 0}, {"keep_days": "7"}, {"keep": 1}, [], {"keep_last": True}):
        assert (await client.put(path, json=bad, headers=headers)).status == 400, bad
    changed = await client.put(path, json={"keep_last": 3}, headers=headers)
    assert await changed.json() == {"keep_last": 3, "keep_days": None}
    for name in ("t1", "t2", "t3", "t4"):
        await client.post("/api/v1/tenants", json={"name": name}, headers=headers)
    page = await (await client.get("/api/v1/audit", headers=headers)).json()
    assert [r["target"] for r in page["items"]] == ["tenant/t2", "tenant/t3", "tenant/t4"]
