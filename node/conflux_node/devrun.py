"""`make run`: a local 3-node cluster with a demo config, stopped cleanly by Ctrl-C.

Data lives under `.conflux/dev` and survives restarts; the demo config is seeded only
where it is missing, so a second `make run` keeps whatever you changed.

The dev cluster's `admin` password is generated once into `.conflux/dev/admin-password`
(mode 0600) and handed to the nodes for their bootstrap; each run logs in first, writes a
fresh admin token to `.conflux/dev/token` (mode 0600) for the examples to use, and seeds
the tenant `demo` and its config with that token.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path

from conflux.rest import ApiError, RestClient
from conflux_node.devcluster import LocalCluster

TENANT = "demo"
DEMO = f"/api/v1/configs/{TENANT}/shop/prod/app"
DEMO_CONTENT = json.dumps({"db": {"pool_size": 10, "host": "db.internal"}, "feature": False})


def seed(client: RestClient) -> None:
    """Create the demo tenant, config, a version and a release, each only where missing."""
    try:
        client.post("/api/v1/tenants", {"name": TENANT})
    except ApiError as error:
        if error.status != 409:  # 409: it exists (an earlier run made it)
            raise
    try:
        client.get(DEMO)
    except ApiError as error:
        if error.status != 404:
            raise
        client.put(DEMO, {"format": "json", "labels": {"team": "demo"}})
    try:
        client.get(DEMO + "/release")
    except ApiError as error:
        if error.status != 404:
            raise
        version = client.post(DEMO + "/versions", {"content": DEMO_CONTENT, "message": "seeded"})
        client.put(DEMO + "/release", {"default_version": version["version"]})


def write_secret(path: Path, value: str) -> None:
    """Write `value` to `path`, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    path.chmod(0o600)


def dev_password(root: Path) -> str:
    """The dev cluster's admin password: made once, then read back on every run."""
    path = root / "admin-password"
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(18))
    return path.read_text().strip()


def write_token(client: RestClient, root: Path, password: str, wait: float = 15) -> Path | None:
    """Log in as admin (retrying while the leader bootstraps) and store the token.

    On success the token is also set on `client` (`client.token`), for the seeding after.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            answer = client.post("/api/v1/auth/login", {"username": "admin", "password": password})
        except ApiError as error:
            if error.status not in (401, 503) or time.monotonic() > deadline:
                print(f"no dev token: login failed ({error.code})", flush=True)
                return None
            time.sleep(0.3)
            continue
        path = root / "token"
        write_secret(path, answer["token"])
        client.token = answer["token"]
        return path


def wait_bootstrapped(cluster: LocalCluster, timeout: float = 15) -> None:
    """Wait until every node holds the admin (so the first login is not a failed attempt:
    failed logins are rate-limited); give up quietly after `timeout`."""
    deadline = time.monotonic() + timeout
    while not all(cluster.is_bootstrapped(n) for n in cluster.nodes):
        if time.monotonic() > deadline:
            return
        time.sleep(0.2)


def busy_ports(cluster: LocalCluster) -> list[int]:
    """The ports of `cluster` something else already listens on."""
    ports = [p for n in cluster.nodes for p in (n.raft_port, n.http_port, n.grpc_port)]
    busy = []
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    return busy


def banner(cluster: LocalCluster) -> str:
    urls = "\n".join(f"  {n.id}: {n.url}   (raft 127.0.0.1:{n.raft_port})" for n in cluster.nodes)
    base = cluster.nodes[0].url
    return f"""
Conflux is running: 3 nodes, data in {cluster.root}
{urls}

Admin: user admin, password in {cluster.root}/admin-password, a token in {cluster.root}/token
Try (the token also serves the `conflux` CLI through CONFLUX_TOKEN):
  export CONFLUX_TOKEN="$(cat {cluster.root}/token)"
  curl -s -H "Authorization: Bearer $CONFLUX_TOKEN" {base}/api/v1/auth/whoami
  curl -s -H "Authorization: Bearer $CONFLUX_TOKEN" {base}/api/v1/cluster/status
  curl -s -H "Authorization: Bearer $CONFLUX_TOKEN" {base}/api/v1/fetch/demo/shop/prod/app
  curl -s -H "Authorization: Bearer $CONFLUX_TOKEN" -XPOST {base}{DEMO}/versions \\
       -d '{{"content": "{{\\"feature\\": true}}"}}'
  curl -s -H "Authorization: Bearer $CONFLUX_TOKEN" -XPUT {base}{DEMO}/release \\
       -d '{{"default_version": 2}}'
Logs: {cluster.root}/n*.log      Ctrl-C stops everything.
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="conflux-dev")
    parser.add_argument("--root", default=".conflux/dev", type=Path)
    args = parser.parse_args()
    password = dev_password(args.root)
    cluster = LocalCluster(root=args.root, admin_password=password)
    busy = busy_ports(cluster)
    if busy:
        print(f"ports in use: {busy}; is another `make run` going? Stop it first.", flush=True)
        sys.exit(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start()
        cluster.wait_ready(timeout=60)
        client = RestClient([n.url for n in cluster.nodes])
        wait_bootstrapped(cluster)
        write_token(client, args.root, password)  # first: seeding sends the token
        try:
            seed(client)
        except ApiError as error:
            print(f"demo config not seeded: {error}", flush=True)
        print(banner(cluster), flush=True)
        signal.pause()
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        cluster.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
