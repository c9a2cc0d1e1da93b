"""Configs, versions and releases through the HTTP API, good input and bad."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.unit.api.conftest import LIMIT, C, authed, make_app, setup_config

Client = TestClient[Any, Any]


async def error_of(response: Any) -> dict[str, Any]:
    body = await response.json()
    assert set(body) == {"error"}
    return dict(body["error"])


async def test_put_config_creates_then_updates(client: Client) -> None:
    first = await client.put(C, json={"format": "json", "labels": {"team": "a"}})
    assert first.status == 201
    second = await client.put(C, json={"format": "json", "labels": {"team": "b"}})
    assert second.status == 200
    described = await (await client.get(C)).json()
    assert described["labels"] == {"team": "b"}
    assert described["latest"] is None and described["release"] is None


async def test_versions_are_numbered_and_duplicates_are_not_created(client: Client) -> None:
    await setup_config(client, ['{"a": 1}', '{"a": 2}'])
    again = await client.post(C + "/versions", json={"content": '{"a": 2}'})
    assert again.status == 200
    assert (await again.json())["created"] is False
    assert (await again.json())["version"] == 2
    one = await (await client.get(C + "/versions/1")).json()
    assert one["content"] == '{"a": 1}' and one["author"] == "user:admin"


async def test_versions_paginate_newest_first(client: Client) -> None:
    await setup_config(client, [f'{{"n": {i}}}' for i in range(25)])
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        query = {"limit": "10"} | ({"after": str(cursor)} if cursor else {})
        page = await (await client.get(C + "/versions", params=query)).json()
        seen += [item["version"] for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == list(range(25, 0, -1))


async def test_release_rollback_and_history(client: Client) -> None:
    await setup_config(client, ['{"v": 1}', '{"v": 2}'])
    assert (await client.put(C + "/release", json={"default_version": 2})).status == 200
    rollback = await client.put(C + "/release", json={"default_version": 1, "message": "undo"})
    assert (await rollback.json())["revision"] == 2
    fetched = await (await client.get("/api/v1/fetch/acme/shop/prod/db")).json()
    assert fetched["version"] == 1 and fetched["release_revision"] == 2
    history = await (await client.get(C + "/releases")).json()
    assert [r["default_version"] for r in history["items"]] == [1, 2]


async def test_if_match_guards_the_release(client: Client) -> None:
    await setup_config(client, ['{"v": 1}'])
    await client.put(C + "/release", json={"default_version": 1})
    stale = await client.put(C + "/release", json={"default_version": 1}, headers={"If-Match": "0"})
    assert stale.status == 412
    assert (await error_of(stale))["details"] == {"current": 1, "expected": 0}
    fresh = await client.put(
        C + "/release", json={"default_version": 1}, headers={"If-Match": '"1"'}
    )
    assert fresh.status == 200


async def test_release_of_missing_version_is_422_and_writes_nothing(client: Client) -> None:
    await setup_config(client, ['{"v": 1}'])
    body = {"rules": [{"name": "canary", "match": {"percentage": 5}, "version": 7}],
            "default_version": 1}  # fmt: skip
    response = await client.put(C + "/release", json=body)
    assert response.status == 422
    assert (await error_of(response))["details"]["versions"] == [7]
    assert (await client.get(C + "/release")).status == 404


async def test_delete_removes_everything(client: Client) -> None:
    await setup_config(client, ['{"v": 1}'])
    assert (await client.delete(C)).status == 204
    assert (await client.get(C)).status == 404
    assert (await client.get(C + "/versions/1")).status == 404
    assert (await client.delete(C)).status == 404


async def test_recreated_config_does_not_serve_old_cached_versions(client: Client) -> None:
    await setup_config(client, ['{"old": true}'])
    await client.put(C + "/release", json={"default_version": 1})
    assert (await (await client.get("/api/v1/fetch/acme/shop/prod/db")).json())["version"] == 1
    await client.delete(C)
    await setup_config(client, ['{"new": true}'])
    await client.put(C + "/release", json={"default_version": 1})
    fetched = await (await client.get("/api/v1/fetch/acme/shop/prod/db")).json()
    assert fetched["content"] == '{"new": true}'


async def test_malformed_body(client: Client) -> None:
    response = await client.put(C, data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await error_of(response))["code"] == "malformed_body"
    array = await client.put(C, json=[1, 2])
    assert (await error_of(array))["code"] == "malformed_body"


async def test_unknown_field_is_named(client: Client) -> None:
    response = await client.put(C, json={"format": "json", "colour": "red"})
    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "unknown_field" and error["details"]["field"] == "colour"
    assert (await client.get(C)).status == 404


async def test_bad_names(client: Client) -> None:
    for path in ("/api/v1/configs/Acme/shop/prod/db", "/api/v1/configs/acme/shop/prod/-db"):
        response = await client.put(path, json={"format": "json"})
        assert response.status == 400
        assert (await error_of(response))["code"] == "invalid_name"


async def test_content_must_parse_and_follow_schema(client: Client) -> None:
    schema = {"type": "object", "properties": {"size": {"type": "integer"}}}
    await client.put(C, json={"format": "yaml", "schema": schema})
    broken = await client.post(C + "/versions", json={"content": "a: [1,"})
    assert broken.status == 422
    assert (await error_of(broken))["code"] == "content_invalid"
    wrong = await client.post(C + "/versions", json={"content": "size: big"})
    assert wrong.status == 422
    error = await error_of(wrong)
    assert error["code"] == "schema_violation" and error["details"]["path"] == "/size"
    assert (await (await client.get(C)).json())["latest_version"] == 0


async def test_content_over_the_limit_is_413(client: Client) -> None:
    await setup_config(client, [], fmt="text")
    response = await client.post(C + "/versions", json={"content": "x" * (LIMIT + 1)})
    assert response.status == 413
    assert (await error_of(response))["details"]["limit"] == LIMIT
    huge = await client.post(C + "/versions", json={"content": "x" * (LIMIT * 10)})
    assert huge.status == 413
    assert (await (await client.get(C)).json())["latest_version"] == 0


async def test_unknown_config_is_404(client: Client) -> None:
    for method, path, body in (
        ("GET", C, None),
        ("POST", C + "/versions", {"content": "{}"}),
        ("PUT", C + "/release", {"default_version": 1}),
        ("GET", "/api/v1/fetch/acme/shop/prod/db", None),
    ):
        response = await client.request(method, path, json=body)
        assert response.status == 404, (method, path)
        assert (await error_of(response))["code"] == "config_not_found"


async def test_unknown_route_is_json_404(client: Client) -> None:
    response = await client.get("/api/v1/nope")
    assert response.status == 404
    assert (await error_of(response))["code"] == "route_not_found"


class ExplodingStore:
    def get(self, key: bytes) -> bytes | None:
        raise RuntimeError("secret internals")

    def scan(self, prefix: bytes, *, reverse: bool = False) -> Any:
        raise RuntimeError("secret internals")

    applied_index = 0


async def test_internal_errors_carry_no_trace() -> None:
    async with authed(make_app(store=ExplodingStore())) as client:
        response = await client.get(C)
        assert response.status == 500
        text = await response.text()
        assert "Traceback" not in text and "secret" not in text
        assert (await response.json())["error"]["code"] == "internal"


class NoLeaderProposer:
    async def propose(self, payload: bytes) -> Any:
        from conflux_node.model.errors import NoLeader

        raise NoLeader("no leader")


async def test_no_leader_is_503_with_retry_after() -> None:
    async with authed(make_app(proposer=NoLeaderProposer())) as client:
        response = await client.put(C, json={"format": "json"})
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["error"]["code"] == "no_leader"


async def test_list_configs_of_an_env_by_name(client: Client) -> None:
    for name in ("cache", "db", "auth", "queue"):
        assert (
            await client.put(f"/api/v1/configs/acme/shop/prod/{name}", json={"format": "json"})
        ).status == 201
    await client.put("/api/v1/configs/acme/shop/staging/other", json={"format": "json"})
    await client.put("/api/v1/configs/acme/shop/prod-eu/other", json={"format": "json"})
    first = await (await client.get("/api/v1/configs/acme/shop/prod", params={"limit": "3"})).json()
    assert [c["name"] for c in first["items"]] == ["auth", "cache", "db"]
    assert first["next"] == "db"
    rest = await (await client.get("/api/v1/configs/acme/shop/prod", params={"after": "db"})).json()
    assert [c["name"] for c in rest["items"]] == ["queue"] and rest["next"] is None
    assert rest["items"][0]["format"] == "json" and rest["items"][0]["latest_version"] == 0
    bad = await client.get("/api/v1/configs/Acme/shop/prod")
    assert bad.status == 400


async def test_metrics_in_prometheus_text(client: Client) -> None:
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert '# TYPE conflux_raft_term gauge\nconflux_raft_term{node="n1"} 1\n' in text
    assert 'conflux_watchers{node="n1"} 0' in text


async def test_the_state_digest_needs_a_credential(client: Client) -> None:
    assert (await client.get("/api/v1/cluster/digest", headers={"Authorization": ""})).status == 401
    report = await (await client.get("/api/v1/cluster/digest")).json()
    assert report == {"id": "n1", "last_applied": 5, "digest": "digest", "settled": True}
    me = await (await client.get("/api/v1/cluster/self", headers={"Authorization": ""})).json()
    assert "digest" not in me and me["id"] == "n1"
