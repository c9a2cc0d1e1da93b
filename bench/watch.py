"""Watch streams: 1,000 and 10,000 concurrent gRPC watch streams on one node.

A fresh 3-node cluster (fsync on, the same ports as bench/run.py) holds one JSON config
with two versions. For each scenario, `--procs` load processes (bench/watch_load.py)
open N `ConfluxWatch/Watch` streams on ONE follower (100 streams per grpc.aio channel,
one TCP connection per channel), all watching that config and holding a stale sha256,
so the node answers every stream at once. Once all N initial events have arrived, the
node's RSS is read again: RSS per watcher = (RSS after - RSS before) / N.

Then K changes are published: `PUT .../release` to the leader, alternating the default
version between the two versions. The publish time is taken just before the PUT is
sent; each watcher takes its receive time with time.time() as the event comes out of
its stream (same machine, same clock); latency = receive - publish, over every delivery.
The next change is published once every watcher got the previous one (or after a
timeout), plus a short pause, so changes do not overlap.

`make bench` runs it after the other scenarios (bench/run.py `--skip-watch`,
`--only-watch`); `.venv/bin/python -m bench.watch --help` runs it alone with other
settings. Run alone, its figures replace the watch figures in bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bench.run import (
    GRPC_BASE,
    HTTP_BASE,
    RAFT_BASE,
    REPO,
    RESULTS,
    CpuProbe,
    Result,
    code_version,
    ensure_tenant,
    fmt,
    log,
    require_free,
    token_env,
)
from conflux.rest import RestClient, config_path
from conflux_node.devcluster import LocalCluster, NodeProc

CONFIG = ("bench", "watch", "prod", "flags")
CONTENTS = ('{"feature": true, "pool": 10}', '{"feature": false, "pool": 20}')
WATCHERS = (1000, 10000)
P99_TARGET_MS = {1000: 50, 10000: 1000}  # by watcher count
RSS_TARGET_KB = 50  # per watcher
NACOS_MS, APOLLO_MS = 100, 1000  # for comparison: Nacos <= 100 ms, Apollo about 1 s


def vm_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


class LoadProc:
    """One bench/watch_load.py process; its stdout lines arrive on a queue."""

    def __init__(
        self, target: str, streams: int, per_channel: int, prefix: str, token: str | None = None
    ) -> None:
        """`token` reaches the process in CONFLUX_BENCH_TOKEN; its streams send it."""
        cmd = [
            sys.executable, "-m", "bench.watch_load",
            "--target", target,
            "--streams", str(streams),
            "--per-channel", str(per_channel),
            "--config", "/".join(CONFIG),
            "--client-prefix", prefix,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=token_env(token),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the orchestrator, which stops us
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.stderr.append(line)
            del self.stderr[:-20]

    def expect(self, prefix: str, deadline: float) -> str | None:
        """The next line starting with `prefix` (others are skipped), or None at the
        deadline; raise when the process ended."""
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                tail = "".join(self.stderr).strip()[-600:]
                raise RuntimeError(f"watch load process exited ({self.proc.poll()}): {tail}")
            if line.startswith(prefix):
                return line

    def send(self, line: str) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def scenario(
    client: RestClient,
    node: NodeProc,
    others: list[NodeProc],
    versions: tuple[int, int],
    watchers: int,
    changes: int,
    procs: int,
    per_channel: int,
    pause: float,
    token: str | None = None,
) -> Result:
    assert node.process is not None
    pid = node.process.pid
    path = config_path(*CONFIG)
    rss_before = vm_rss_kb(pid)
    log(f"watch: {watchers} streams on {node.id} (follower) from {procs} processes")
    shares = [watchers // procs + (1 if i < watchers % procs else 0) for i in range(procs)]
    loads = [
        LoadProc(node.grpc_target, share, per_channel, f"p{i}w", token)
        for i, share in enumerate(shares)
    ]
    try:
        opened = time.monotonic()
        initial = failed = 0
        for load in loads:
            line = load.expect("READY", opened + 120)
            if line is None:
                raise RuntimeError(f"watch streams not established within 120s ({watchers})")
            got, lost = (int(x) for x in line.split()[1:])
            initial, failed = initial + got, failed + lost
        open_s = time.monotonic() - opened
        time.sleep(0.5)  # let the node finish what it started for the streams
        rss_open = vm_rss_kb(pid)
        log(
            f"watch: {initial} initial events in {open_s:.1f}s, {failed} failed; "
            f"node RSS {rss_before / 1024:.0f} -> {rss_open / 1024:.0f} MiB"
        )

        pids = {f"{node.id}(watched)": pid}
        pids.update({n.id: n.process.pid for n in others if n.process is not None})
        pids.update({f"load{i}": load.proc.pid for i, load in enumerate(loads)})
        probe = CpuProbe(pids)
        probe.start()
        published: dict[int, float] = {}
        acks: list[float] = []
        late = 0
        for k in range(changes):
            version = versions[(k + 1) % 2]  # versions[0] is released at the start
            t_pub = time.time()  # just before the PUT is sent
            answer = client.put(path + "/release", {"default_version": version})
            acks.append(time.time() - t_pub)
            revision = int(answer["revision"])
            published[revision] = t_pub
            deadline = time.monotonic() + 15
            for load in loads:
                if load.expect(f"GOT {revision}", deadline) is None:
                    late += 1
            time.sleep(pause)
        cpu = probe.stop()
        cpu.pop("loadgen", None)  # the load processes are still running: counted by pid
        rss_end = vm_rss_kb(pid)

        results = []
        for load in loads:
            load.send("STOP")
            line = load.expect("RESULT", time.monotonic() + 60)
            if line is None:
                raise RuntimeError("a watch load process did not report")
            results.append(json.loads(line.removeprefix("RESULT ")))
            load.proc.wait(30)
    finally:
        for load in loads:
            load.stop()

    latencies: list[float] = []
    unexpected = 0
    per_change = []
    for revision, t_pub in published.items():
        times = [t for r in results for t in r["recv"].get(str(revision), [])]
        lat = sorted(t - t_pub for t in times)
        latencies += lat
        per_change.append(
            {
                "revision": revision,
                "delivered": len(lat),
                "min_ms": round(lat[0] * 1000, 1) if lat else None,
                "p50_ms": round(percentile(lat, 50) * 1000, 1),
                "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            }
        )
    for r in results:
        unexpected += sum(len(v) for k, v in r["recv"].items() if int(k) not in published)
    latencies.sort()
    acks.sort()
    return {
        "watchers": watchers,
        "node": node.id,
        "load_processes": procs,
        "streams_per_channel": per_channel,
        "pause_s": pause,
        "initial_events": initial,
        "failed_streams": sum(r["failed"] for r in results),
        "stream_errors": sorted({e for r in results for e in r["errors"]}),
        "open_s": round(open_s, 2),
        "rss_before_kb": rss_before,
        "rss_open_kb": rss_open,
        "rss_end_kb": rss_end,
        "rss_kb_per_watcher": round((rss_open - rss_before) / max(1, initial), 1),
        "changes": changes,
        "expected": watchers * changes,
        "delivered": len(latencies),
        "unexpected": unexpected,
        "late_changes": late,
        "min_ms": round(latencies[0] * 1000, 1) if latencies else None,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "publish_ack_p50_ms": round(percentile(acks, 50) * 1000, 1),
        "per_change": per_change,
        "cpu_pct": cpu,
    }


def watch_phase(
    root: Path,
    watchers: tuple[int, ...] = WATCHERS,
    changes: int = 10,
    procs: int = 2,
    per_channel: int = 100,
    pause: float = 0.3,
) -> dict[str, Result]:
    """Start a 3-node cluster, run one scenario per watcher count (each on its own
    follower when there are enough), stop the cluster on every exit path."""
    require_free(
        (
            *range(RAFT_BASE, RAFT_BASE + 3),
            *range(HTTP_BASE, HTTP_BASE + 3),
            *range(GRPC_BASE, GRPC_BASE + 3),
        )
    )
    cluster = LocalCluster(
        root=root, size=3, raft_base=RAFT_BASE, http_base=HTTP_BASE, grpc_base=GRPC_BASE
    )
    out: dict[str, Result] = {}
    try:
        log(f"starting 3 Conflux nodes for the watch scenarios, data in {root}")
        cluster.start()
        cluster.wait_ready(timeout=60)
        leader = cluster.leader()
        followers = [n for n in cluster.nodes if n is not leader]
        client = cluster.client(leader, timeout=10)  # sends the admin token
        token = cluster.token()
        ensure_tenant(client, CONFIG[0])
        path = config_path(*CONFIG)
        client.put(path, {"format": "json"})
        v1, v2 = (int(client.post(path + "/versions", {"content": c})["version"]) for c in CONTENTS)
        revision = client.put(path + "/release", {"default_version": v1})["revision"]
        for follower in followers:  # wait until the followers serve the release
            reader = cluster.client(follower, timeout=10)
            deadline = time.monotonic() + 10
            while reader.get(path).get("release_revision") != revision:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{follower.id} did not apply the release")
                time.sleep(0.05)
        for i, n in enumerate(watchers):
            node = followers[i % len(followers)]
            others = [x for x in cluster.nodes if x is not node]
            out[f"watch_{n}"] = scenario(
                client, node, others, (v1, v2), n, changes, procs, per_channel, pause, token
            )
    finally:
        cluster.stop()
    return out


# --- report -----------------------------------------------------------------------------


def table_lines(results: dict[str, Result]) -> list[str]:
    keys = sorted((k for k in results if k.startswith("watch_")), key=lambda k: int(k[6:]))
    if "watch" in results:  # the whole phase failed (bench.run's `guarded`)
        return ["", f"{'watch streams':<30}  FAILED: {results['watch'].get('error')}"]
    if not keys:
        return []
    lines = [
        "",
        f"{'watch streams, one follower':<30}{'delivered':>15}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'KB/watcher':>11}  CPU % (publish window)",
        "-" * 118,
    ]
    for key in keys:
        r = results[key]
        if "error" in r:
            lines.append(f"{key:<30}  FAILED: {r['error']}")
            continue
        cpu = " ".join(f"{k}={v}" for k, v in r.get("cpu_pct", {}).items())
        label = f"{r['watchers']} watchers x {r['changes']} changes"
        lines.append(
            f"{label:<30}{str(r['delivered']) + '/' + str(r['expected']):>15}"
            f"{fmt(r['p50_ms'], '.1f'):>8}{fmt(r['p99_ms'], '.1f'):>8}{fmt(r['max_ms'], '.0f'):>8}"
            f"{fmt(r['rss_kb_per_watcher'], '.1f'):>11}  {cpu}"
        )
    for key in keys:
        r = results[key]
        if "error" in r:
            continue
        p99_target = P99_TARGET_MS.get(r["watchers"])
        if p99_target is not None:
            met = "met" if r["p99_ms"] <= p99_target else "not met"
            lines.append(
                f"target {r['watchers']} watchers p99 <= {p99_target} ms: "
                f"measured {r['p99_ms']:.1f} ms ({met})"
            )
        rss_met = r["rss_kb_per_watcher"] <= RSS_TARGET_KB
        lines.append(
            f"target {r['watchers']} watchers RSS <= {RSS_TARGET_KB} KB/watcher: "
            f"measured {r['rss_kb_per_watcher']:.1f} ({'met' if rss_met else 'not met'}); "
            f"node RSS {r['rss_before_kb'] // 1024} -> {r['rss_open_kb'] // 1024} MiB with the "
            f"streams open, {r['rss_end_kb'] // 1024} MiB after the changes"
        )
        if r.get("cpu_pct", {}).get("other", 0) >= 20:
            lines.append(
                f"note   {key}: other processes used {r['cpu_pct']['other']}% CPU meanwhile"
            )
        if r["failed_streams"] or r["unexpected"] or r["late_changes"] or r["stream_errors"]:
            lines.append(
                f"note   {key}: {r['failed_streams']} streams failed, {r['late_changes']} late "
                f"GOTs, {r['unexpected']} unexpected events, errors {r['stream_errors']}"
            )
    lines.append(
        f"compare: Nacos publishes within ~{NACOS_MS} ms, Apollo in about "
        f"{APOLLO_MS / 1000:.0f} s; latency = receive time - time just "
        "before the release PUT was sent"
    )
    return lines


def targets_met(results: dict[str, Result]) -> dict[str, bool]:
    met = {}
    for key, r in results.items():
        if not key.startswith("watch_") or "error" in r:
            continue
        p99_target = P99_TARGET_MS.get(r["watchers"], float("inf"))
        met[key] = bool(
            r["delivered"] == r["expected"]
            and r["p99_ms"] <= p99_target
            and r["rss_kb_per_watcher"] <= RSS_TARGET_KB
        )
    return met


def report_section(results: dict[str, Result]) -> Result:
    """The `watch` part of bench/results/latest.json: when, how, targets."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": code_version(),
        "method": "N streams on one follower from separate load processes (100 per "
        "channel), all on one config; K release changes alternating two versions; latency "
        "= time.time() at receipt - time.time() just before the release PUT was sent",
        "targets": {
            "p99_ms": {str(n): ms for n, ms in P99_TARGET_MS.items()},
            "rss_kb_per_watcher": RSS_TARGET_KB,
        },
        "comparison": {"nacos_publish_ms": NACOS_MS, "apollo_publish_ms": APOLLO_MS},
        "targets_met": targets_met(results),
    }


def only_watch(results_file: Path, keep_data: bool = False, **options: Any) -> int:
    """Run the watch scenarios alone; their figures replace the watch figures in
    `results_file` (the other figures there are kept). Exit status as bench.run."""
    root = Path(tempfile.mkdtemp(prefix="conflux-bench-watch-"))
    started = time.monotonic()
    try:
        results = watch_phase(root, **options)
    except KeyboardInterrupt:
        log("interrupted; the processes started here have been stopped")
        return 130
    except (RuntimeError, OSError, TimeoutError, ValueError, subprocess.SubprocessError) as error:
        log(f"watch failed: {error}")
        results = {"watch": {"error": (str(error).splitlines() or [repr(error)])[0][:200]}}
    finally:
        if keep_data:
            log(f"node data and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    report: Result = {"results": {}}
    if results_file.exists():
        report = json.loads(results_file.read_text())
    kept = {k: v for k, v in report.get("results", {}).items() if not k.startswith("watch")}
    report["results"] = {**kept, **results}
    report["watch"] = report_section(results)
    report["watch"]["run_seconds"] = round(time.monotonic() - started)
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(table_lines(results)))
    print(
        f"\nwatch figures written to {results_file.relative_to(REPO)}; "
        f"the run took {report['watch']['run_seconds']}s"
    )
    return 1 if "watch" in results else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.watch", description=__doc__.split("\n")[0])
    parser.add_argument("--watchers", default=",".join(map(str, WATCHERS)))
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--procs", type=int, default=2, help="load processes")
    parser.add_argument("--per-channel", type=int, default=100)
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between changes")
    parser.add_argument("--keep-data", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the `finally`s
    return only_watch(
        RESULTS,
        keep_data=args.keep_data,
        watchers=tuple(int(x) for x in args.watchers.split(",")),
        changes=args.changes,
        procs=args.procs,
        per_channel=args.per_channel,
        pause=args.pause,
    )


if __name__ == "__main__":
    sys.exit(main())
