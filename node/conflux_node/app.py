"""Wire a node together from its settings: store, state machine, Raft, services, HTTP.

`Node` owns the lifecycle. `start()` opens RocksDB, joins the Raft group and starts
serving; `stop()` undoes it in reverse order so the journal is synced and RocksDB is
closed cleanly on SIGTERM or Ctrl-C. A small background task bootstraps the identity
(the `admin` user and the token key) once a leader exists, if this node leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging

from aiohttp import web

from conflux_node.api.grpc_watch import GrpcEdge, start_grpc
from conflux_node.api.server import build_app
from conflux_node.consensus.bridge import RaftProposer
from conflux_node.consensus.machine import StateMachine
from conflux_node.consensus.raft import RaftNode, RaftOptions
from conflux_node.service.access import AccessControl
from conflux_node.service.bootstrap import run_bootstrap
from conflux_node.service.cluster import ClusterInfo, MemberInfo
from conflux_node.service.identity import IdentityAdmin
from conflux_node.service.reads import ConfigReads
from conflux_node.service.sessions import Sessions
from conflux_node.service.watch import WatchHub
from conflux_node.service.writes import ConfigWrites
from conflux_node.settings import Settings
from conflux_node.storage.rocks import RocksStore
from conflux_node.tls import client_context, grpc_credentials, server_context

log = logging.getLogger(__name__)


def build_raft_options(settings: Settings) -> RaftOptions:
    raft = settings.raft
    return RaftOptions(
        self_address=raft.address,
        peer_addresses=tuple(m.raft for m in settings.peers),
        data_dir=settings.data_dir,
        durable=raft.fsync,
        election_min=raft.election_min,
        election_max=raft.election_max,
        compaction_min_entries=raft.compaction_min_entries,
        compaction_min_seconds=raft.compaction_min_seconds,
        secret=raft.secret,
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name or a wildcard such as 0.0.0.0: reachable from elsewhere


def exposure_warnings(settings: Settings) -> list[str]:
    """What an operator should hear about plain-text exposure (TLS and the Raft secret
    stay optional, as in etcd and Consul, but never silently off beyond loopback)."""
    warnings = []
    if not settings.tls.enabled and not _loopback(settings.http.host):
        warnings.append(
            f"serving plain HTTP and gRPC on {settings.http.host}: tokens and keys cross the "
            "network in the clear; set tls.cert_file and tls.key_file"
        )
    raft_hosts = [m.raft.rpartition(":")[0] for m in settings.members]
    if settings.raft.secret is None and not all(_loopback(h) for h in raft_hosts):
        warnings.append("Raft traffic between members is not encrypted; set raft.secret")
    return warnings


class Node:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: RocksStore | None = None
        self.raft: RaftNode | None = None
        self._runner: web.AppRunner | None = None
        self._grpc: GrpcEdge | None = None
        self._bootstrap: asyncio.Task[None] | None = None

    async def start(self) -> None:
        s = self.settings
        for warning in exposure_warnings(s):
            log.warning("%s", warning)
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = RocksStore(s.data_dir / "db")
        reads = ConfigReads(self.store)
        machine = StateMachine(self.store, reads.on_events)
        machine.on_restore(reads.on_restore)
        hub = WatchHub(reads, asyncio.get_running_loop())
        machine.subscribe(hub.on_events)
        machine.on_restore(hub.on_restore)
        self.raft = RaftNode(build_raft_options(s), machine)
        members = tuple(MemberInfo(m.id, m.raft, m.http) for m in s.members)
        cluster = ClusterInfo(s.node_id, members, self.raft)
        proposer = RaftProposer(self.raft, s.limits.request_timeout)
        sessions = Sessions(
            self.store,
            token_ttl=s.auth.token_ttl,
            signing_key=s.auth.token_key,
            previous_key=s.auth.previous_token_key,
        )
        access = AccessControl(self.store, sessions, proposer)
        app = build_app(
            ConfigWrites(reads, proposer, max_content_bytes=s.limits.max_content_bytes),
            reads,
            cluster,
            digest=self.store.digest,
            max_content_bytes=s.limits.max_content_bytes,
            hub=hub,
            identity=IdentityAdmin(self.store, proposer),
            sessions=sessions,
            access=access,
            peer_ssl=client_context(s.tls),
            metrics_open=s.auth.metrics_open,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        context = server_context(s.tls)
        await web.TCPSite(self._runner, s.http.host, s.http.port, ssl_context=context).start()
        if s.grpc_port is not None:
            self._grpc = await start_grpc(
                hub, access, s.http.host, s.grpc_port, grpc_credentials(s.tls)
            )
        raft = self.raft
        self._bootstrap = asyncio.create_task(
            run_bootstrap(
                self.store, proposer, s.auth.admin_password, lambda: raft.status().is_leader
            ),
            name="bootstrap",
        )
        log.info(
            "node %s serving %s://%s:%d, raft %s, data %s",
            s.node_id, "https" if s.tls.enabled else "http", s.http.host, s.http.port,
            s.raft.address, s.data_dir,
        )  # fmt: skip

    async def stop(self) -> None:
        if self._bootstrap is not None:
            self._bootstrap.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._bootstrap
        if self._grpc is not None:
            await self._grpc.stop(grace=1.0)
        if self._runner is not None:
            await self._runner.cleanup()
        if self.raft is not None:
            await asyncio.to_thread(self.raft.destroy_synchronous)
        if self.store is not None:
            self.store.close()
        log.info("node %s stopped", self.settings.node_id)
