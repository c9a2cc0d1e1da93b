"""`make bench`: throughput and latency of a local 3-node Conflux cluster, with baselines.

Everything runs on this machine: three real node processes (fsync on, the default),
a load generator in its own process (wrk with bench/wrk_*.lua, or bench/loadgen.py
when wrk is missing) keeping 64 connections busy, and two baselines measured in the
same run: a raw 3-process pysyncobj cluster (bench/raw_pysyncobj.py) and a bare
aiohttp JSON handler (bench/bare_aiohttp.py). Figures are printed as a table and
written to bench/results/latest.json. Nothing is asserted: targets are printed next to
the figures for comparison.

Ports: Conflux raft 7371-7373 and http 7381-7383, bare aiohttp 7390, pysyncobj
7391-7393 (clear of `make run` on 7071-7083). Data goes to a temporary directory that
is removed at the end; every process started here is stopped on exit or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conflux.rest import RestClient, config_path
from conflux_node.devcluster import LocalCluster, NodeProc

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results" / "latest.json"

RAFT_BASE, HTTP_BASE = 7371, 7381
BARE_PORT = 7390
RAW_PORTS = (7391, 7392, 7393)
CONFIGS = 16  # bench/app/prod/cfg00 .. cfg15
CONTENT = '{{"feature": true, "pool": 10, "name": "cfg{:02d}"}}'

TARGETS = {"writes_rps": 3000, "writes_p99_ms": 50, "fetch_rps": 8000}

Result = dict[str, Any]


# --- helpers ------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def require_free(ports: Iterator[int] | tuple[int, ...] | range) -> None:
    busy = [p for p in ports if port_in_use(p)]
    if busy:
        raise RuntimeError(f"ports already in use: {busy}; is another benchmark running?")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc (0 when unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.1)


def run_child(cmd: list[str], timeout: float, cwd: Path = REPO) -> str:
    """Run a child to completion and return its stdout; it is killed on any exit path."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {err.strip()[-800:]}")
    return out


# --- load generation ------------------------------------------------------------------


def find_wrk() -> str | None:
    found = shutil.which("wrk") or ("/usr/bin/wrk" if os.access("/usr/bin/wrk", os.X_OK) else None)
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    log("wrk not found; trying `apt-get install -y wrk`")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=180,
            check=False,
        )
    return shutil.which("wrk")


class LoadGen:
    """Runs the load generator as a separate process: a warm-up run, then a measured one."""

    def __init__(self, wrk: str | None, connections: int, threads: int) -> None:
        self.wrk = wrk
        self.connections = connections
        self.threads = threads

    @property
    def description(self) -> str:
        if self.wrk:
            version = subprocess.run(
                [self.wrk, "-v"], capture_output=True, text=True, check=False
            ).stdout.split(" [")[0]
            return f"{version} ({self.threads} threads, {self.connections} connections)"
        return f"bench/loadgen.py (aiohttp, {self.connections} connections)"

    def run(self, kind: str, url: str, warmup: int, duration: int) -> Result:
        nonce = uuid.uuid4().hex[:8]
        if not self.wrk:
            return self._aiohttp(kind, url, warmup, duration, nonce)
        warm = self._wrk(kind, url, warmup, nonce + "w") if warmup > 0 else {"ok": 0}
        before = children_cpu()
        result = self._wrk(kind, url, duration, nonce)
        result["loadgen_cpu_s"] = round(children_cpu() - before, 2)
        result["warmup_ok"] = warm["ok"]
        return result

    def _wrk(self, kind: str, url: str, seconds: int, nonce: str) -> Result:
        assert self.wrk is not None
        cmd = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds}s",
            "--timeout", "10s",
            "-s", str(BENCH / f"wrk_{kind}.lua"),
            url,
            "--", nonce, str(CONFIGS),
        ]  # fmt: skip
        out = run_child(cmd, timeout=seconds + 60)
        line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no BENCH_JSON line:\n{out[-800:]}")
        raw = json.loads(line.removeprefix("BENCH_JSON "))
        secs = raw["duration_us"] / 1e6
        socket_errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors"))
        ok = raw["requests"] - raw["status_errors"]
        return {
            "requests": raw["requests"],
            "ok": ok,
            "seconds": round(secs, 3),
            "rps": round(ok / secs, 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2),
            "p90_ms": round(raw["p90_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2),
            "max_ms": round(raw["max_us"] / 1000, 2),
            "errors": raw["status_errors"] + socket_errors + raw["timeouts"],
            "non_2xx": raw["status_errors"],
            "socket_errors": socket_errors,
            "timeouts": raw["timeouts"],
        }

    def _aiohttp(self, kind: str, url: str, warmup: int, duration: int, nonce: str) -> Result:
        cmd = [
            sys.executable, "-m", "bench.loadgen", kind, url,
            "--connections", str(self.connections),
            "--warmup", str(warmup),
            "--duration", str(duration),
            "--configs", str(CONFIGS),
            "--nonce", nonce,
        ]  # fmt: skip
        before = children_cpu()
        result: Result = json.loads(run_child(cmd, timeout=warmup + duration + 60))
        result["loadgen_cpu_s"] = round(children_cpu() - before, 2)
        return result


# --- Conflux --------------------------------------------------------------------------


def seed(client: RestClient) -> None:
    """16 JSON configs, each with one version released as the default."""
    for i in range(CONFIGS):
        path = config_path("bench", "app", "prod", f"cfg{i:02d}")
        client.put(path, {"format": "json"})
        version = client.post(path + "/versions", {"content": CONTENT.format(i)})
        client.put(path + "/release", {"default_version": version["version"]})


def versions_total(client: RestClient) -> int:
    total = 0
    for i in range(CONFIGS):
        total += int(
            client.get(config_path("bench", "app", "prod", f"cfg{i:02d}"))["latest_version"]
        )
    return total


def measured(load: Callable[[], Result], procs: dict[str, NodeProc]) -> Result:
    """Run `load` and attach the CPU each node process used during it (in % of one core)."""
    pids = {name: n.process.pid for name, n in procs.items() if n.process is not None}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    result = load()
    wall = time.monotonic() - started
    result["cpu_pct"] = {
        name: round(100 * (cpu_seconds(pid) - before[name]) / wall) for name, pid in pids.items()
    }
    return result


def conflux_phase(
    root: Path, loadgen: LoadGen, warmup: int, duration: int, *, fsync: bool, full: bool
) -> dict[str, Result]:
    require_free(range(RAFT_BASE, RAFT_BASE + 3))
    require_free(range(HTTP_BASE, HTTP_BASE + 3))
    extra = () if fsync else ("--no-fsync",)
    cluster = LocalCluster(
        root=root, size=3, raft_base=RAFT_BASE, http_base=HTTP_BASE, extra_args=extra
    )
    mode = "fsync on" if fsync else "--no-fsync"
    out: dict[str, Result] = {}
    try:
        log(f"starting 3 Conflux nodes ({mode}), data in {root}")
        cluster.start()
        cluster.wait_ready(timeout=60)
        leader = cluster.leader()
        followers = [n for n in cluster.nodes if n is not leader]
        roles = {f"leader {leader.id}": leader} | {f"follower {n.id}": n for n in followers}
        client = RestClient([leader.url])
        seed(client)
        suffix = "" if fsync else "_no_fsync"

        def writes(target: NodeProc, name: str) -> None:
            before = versions_total(client)
            log(f"writes -> {target.id} ({name}, {mode}): {warmup}s warm-up + {duration}s")
            result = measured(lambda: loadgen.run("write", target.url, warmup, duration), roles)
            time.sleep(0.5)
            result["node"] = target.id
            result["versions_created"] = versions_total(client) - before
            result["leader_after"] = cluster.leader().id
            out[f"conflux_writes_{name}{suffix}"] = result

        writes(leader, "leader")
        if full:
            writes(followers[0], "follower")
            target = followers[0]
            log(f"fetch -> {target.id} (follower): {warmup}s warm-up + {duration}s")
            result = measured(lambda: loadgen.run("fetch", target.url, warmup, duration), roles)
            result["node"] = target.id
            out["conflux_fetch"] = result
    finally:
        cluster.stop()
    return out


# --- baselines --------------------------------------------------------------------------


def raw_pysyncobj_phase(warmup: int, duration: int, inflight: int) -> Result:
    require_free(RAW_PORTS)
    log(f"raw pysyncobj, 3 processes, {inflight} in flight: {warmup}s warm-up + {duration}s")
    cmd = [
        sys.executable, "-m", "bench.raw_pysyncobj",
        "--warmup", str(warmup), "--duration", str(duration), "--inflight", str(inflight),
    ]  # fmt: skip
    out = run_child(cmd, timeout=warmup + duration + 90)
    result: Result = json.loads(out.strip().splitlines()[-1])
    return result


def bare_aiohttp_phase(loadgen: LoadGen, warmup: int, duration: int) -> Result:
    require_free((BARE_PORT,))
    cmd = [sys.executable, "-m", "bench.bare_aiohttp", "--port", str(BARE_PORT)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{BARE_PORT}"
        wait_http(url + "/ready")
        log(f"bare aiohttp fetch handler: {warmup}s warm-up + {duration}s")
        before = cpu_seconds(proc.pid)
        started = time.monotonic()
        result = loadgen.run("fetch", url, warmup, duration)
        result["cpu_pct"] = {
            "server": round(100 * (cpu_seconds(proc.pid) - before) / (time.monotonic() - started))
        }
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- report -----------------------------------------------------------------------------

ROWS = [
    ("conflux_writes_leader", "Conflux version writes -> leader (fsync on)"),
    ("conflux_writes_follower", "Conflux version writes -> follower (fsync on)"),
    ("conflux_fetch", "Conflux fetch, one node (follower)"),
    ("conflux_writes_leader_no_fsync", "Conflux version writes -> leader (--no-fsync)"),
    ("raw_pysyncobj", "baseline: raw pysyncobj commits (64 in flight)"),
    ("bare_aiohttp_fetch", "baseline: bare aiohttp JSON handler"),
]


def ratio(a: Result | None, b: Result | None) -> float | None:
    if not a or not b or "rps" not in a or not b.get("rps"):
        return None
    return round(a["rps"] / b["rps"], 3)


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(report: Result) -> str:
    res = report["results"]
    lines = [
        f"Conflux benchmark  {report['date']}  {report['host']['cores']} cores  "
        f"Python {report['host']['python']}",
        f"load: {report['settings']['loadgen']}; {report['settings']['duration_s']}s measured "
        f"after {report['settings']['warmup_s']}s warm-up; {CONFIGS} configs round-robin",
        "",
        f"{'scenario':<48}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
        "  CPU % of one core",
        "-" * 112,
    ]
    for key, label in ROWS:
        r = res.get(key)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"{label:<48}  FAILED: {r['error']}")
            continue
        cpu = " ".join(f"{k}={v}" for k, v in r.get("cpu_pct", {}).items())
        if "loadgen_cpu_s" in r and r.get("seconds"):
            cpu += f" loadgen={round(100 * r['loadgen_cpu_s'] / r['seconds'])}"
        lines.append(
            f"{label:<48}{fmt(r.get('rps'), '.0f'):>9}{fmt(r.get('p50_ms'), '.2f'):>9}"
            f"{fmt(r.get('p99_ms'), '.2f'):>9}{fmt(r.get('max_ms'), '.1f'):>9}"
            f"{fmt(r.get('errors'), 'd'):>8}  {cpu}"
        )
    ratios = report["ratios"]
    t = report["targets"]
    w = res.get("conflux_writes_leader") or {}
    f = res.get("conflux_fetch") or {}
    lines += [
        "",
        f"ratio  Conflux writes (leader) / raw pysyncobj = {fmt(ratios['writes_vs_raw'], '.3f')}",
        f"ratio  Conflux fetch / bare aiohttp            = {fmt(ratios['fetch_vs_bare'], '.3f')}",
        "",
        f"target writes >= {t['writes_rps']}/s with p99 <= {t['writes_p99_ms']} ms: "
        f"measured {fmt(w.get('rps'), '.0f')}/s, p99 {fmt(w.get('p99_ms'), '.1f')} ms"
        f" -> {'met' if report['targets_met']['writes'] else 'NOT met'}",
        f"target fetch  >= {t['fetch_rps']}/s: measured {fmt(f.get('rps'), '.0f')}/s"
        f" -> {'met' if report['targets_met']['fetch'] else 'NOT met'}",
    ]
    for key, _ in ROWS[:2]:
        r = res.get(key) or {}
        if "versions_created" in r:
            lines.append(
                f"check  {key}: {r['versions_created']} versions created, "
                f"{r['warmup_ok'] + r['ok'] if 'warmup_ok' in r else r['ok']} acknowledged "
                f"(warm-up + measured; the difference is requests cut off when wrk stops)"
            )
        if (
            r.get("leader_after")
            and key == "conflux_writes_leader"
            and r["leader_after"] != r["node"]
        ):
            lines.append(
                f"note   leadership moved during {key}: {r['node']} -> {r['leader_after']}"
            )
    return "\n".join(lines)


def guarded(name: str, results: dict[str, Result], fn: Callable[[], Any]) -> None:
    """Run one phase; a failure is recorded and reported, and the other phases still run."""
    try:
        value = fn()
    except (RuntimeError, OSError, TimeoutError, ValueError, subprocess.SubprocessError) as error:
        log(f"{name} failed: {error}")
        results[name] = {"error": str(error).splitlines()[0][:200]}
        return
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) and value:
        results.update(value)
    else:
        results[name] = value


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=12, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "aiohttp"], default="auto")
    parser.add_argument("--skip-no-fsync", action="store_true", help="skip the --no-fsync run")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--keep-data", action="store_true", help="keep node data and logs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    wrk = None if args.loadgen == "aiohttp" else find_wrk()
    if args.loadgen == "wrk" and wrk is None:
        log("wrk is not available")
        return 2
    loadgen = LoadGen(wrk, args.connections, args.threads)
    root = Path(tempfile.mkdtemp(prefix="conflux-bench-"))
    results: dict[str, Result] = {}
    started = time.monotonic()
    log(f"load generator: {loadgen.description}")
    try:
        w, d = args.warmup, args.duration
        guarded(
            "conflux_writes_leader",
            results,
            lambda: conflux_phase(root / "fsync", loadgen, w, d, fsync=True, full=True),
        )
        if not args.skip_no_fsync:
            guarded(
                "conflux_writes_leader_no_fsync",
                results,
                lambda: conflux_phase(root / "nofsync", loadgen, w, d, fsync=False, full=False),
            )
        if not args.skip_baselines:
            guarded("raw_pysyncobj", results, lambda: raw_pysyncobj_phase(w, d, args.connections))
            guarded("bare_aiohttp_fetch", results, lambda: bare_aiohttp_phase(loadgen, w, d))
    except KeyboardInterrupt:
        log("interrupted; everything started here has been stopped")
        return 130
    finally:
        if args.keep_data:
            log(f"data and node logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    report = build_report(args, loadgen, results, time.monotonic() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(report))
    print(f"\nfigures written to {RESULTS.relative_to(REPO)}; run took {report['run_seconds']}s")
    return 1 if any("error" in r for r in results.values()) else 0


def build_report(
    args: argparse.Namespace, loadgen: LoadGen, results: dict[str, Result], seconds: float
) -> Result:
    w = results.get("conflux_writes_leader") or {}
    f = results.get("conflux_fetch") or {}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "loadgen": loadgen.description,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "configs": CONFIGS,
            "fsync": "on (node default) unless the scenario says --no-fsync",
        },
        "targets": TARGETS,
        "results": results,
        "ratios": {
            "writes_vs_raw": ratio(w, results.get("raw_pysyncobj")),
            "fetch_vs_bare": ratio(f, results.get("bare_aiohttp_fetch")),
        },
        "targets_met": {
            "writes": bool(
                w.get("rps", 0) >= TARGETS["writes_rps"]
                and w.get("p99_ms", 1e9) <= TARGETS["writes_p99_ms"]
            ),
            "fetch": bool(f.get("rps", 0) >= TARGETS["fetch_rps"]),
        },
        "run_seconds": round(seconds),
    }


if __name__ == "__main__":
    sys.exit(main())
