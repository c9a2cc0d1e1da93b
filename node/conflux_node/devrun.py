"""`make run`: a local 3-node cluster with a demo config, stopped cleanly by Ctrl-C.

Data lives under `.conflux/dev` and survives restarts; the demo config is seeded only
where it is missing, so a second `make run` keeps whatever you changed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from conflux.rest import ApiError, RestClient
from conflux_node.devcluster import LocalCluster

DEMO = "/api/v1/configs/demo/shop/prod/app"
DEMO_CONTENT = json.dumps({"db": {"pool_size": 10, "host": "db.internal"}, "feature": False})


def seed(client: RestClient) -> None:
    """Create the demo config, a version and a release, each only where missing."""
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


def banner(cluster: LocalCluster) -> str:
    urls = "\n".join(f"  {n.id}: {n.url}   (raft 127.0.0.1:{n.raft_port})" for n in cluster.nodes)
    base = cluster.nodes[0].url
    return f"""
Conflux is running: 3 nodes, data in {cluster.root}
{urls}

Try:
  curl -s {base}/api/v1/cluster/status
  curl -s {base}/api/v1/fetch/demo/shop/prod/app
  curl -s -XPOST {base}{DEMO}/versions -d '{{"content": "{{\\"feature\\": true}}"}}'
  curl -s -XPUT {base}{DEMO}/release -d '{{"default_version": 2}}'
Logs: {cluster.root}/n*.log      Ctrl-C stops everything.
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="conflux-dev")
    parser.add_argument("--root", default=".conflux/dev", type=Path)
    args = parser.parse_args()
    cluster = LocalCluster(root=args.root)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start()
        cluster.wait_ready(timeout=60)
        seed(RestClient([n.url for n in cluster.nodes]))
        print(banner(cluster), flush=True)
        signal.pause()
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        cluster.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
