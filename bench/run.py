"""`make bench`: throughput and latency of a local 3-node Conflux cluster, with baselines.

Everything runs on this machine: three real node processes (fsync on, the default),
a load generator in its own process (wrk with bench/wrk_*.lua, or bench/loadgen.py
when wrk is missing) keeping 64 connections busy, and two baselines measured in the
same run: a raw 3-process pysyncobj cluster (bench/raw_pysyncobj.py) and a bare
aiohttp JSON handler (bench/bare_aiohttp.py); then 1,000 and 10,000 gRPC watch
streams on one node (bench/watch.py). Figures are printed as a table and written to
bench/results/latest.json. Nothing is asserted: targets are printed next to the
figures for comparison.

Every request to Conflux goes as the cluster's `admin` (LocalCluster's dev password):
the orchestrator logs in, creates the tenant `bench` and hands the token to the load
generators in the environment variable CONFLUX_BENCH_TOKEN (wrk's Lua scripts and
bench/loadgen.py send it as `Authorization: Bearer <token>`).

Ports: Conflux raft 7371-7373, http 7381-7383 and gRPC 7361-7363, bare aiohttp 7390,
pysyncobj 7391-7393 (clear of `make run` on 7071-7093). Data goes to a temporary
directory that is removed at the end; every process started here is stopped on exit
or Ctrl-C.
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
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conflux.rest import ApiError, RestClient, config_path
from conflux_node.devcluster import LocalCluster, NodeProc

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results" / "latest.json"

RAFT_BASE, HTTP_BASE, GRPC_BASE = 7371, 7381, 7361
BARE_PORT = 7390
RAW_PORTS = (7391, 7392, 7393)
CONFIGS = 16  # bench/app/prod/cfg00 .. cfg15
CONTENT = '{{"feature": true, "pool": 10, "name": "cfg{:02d}"}}'

TARGETS = {"writes_rps": 3000, "writes_p99_ms": 50, "fetch_rps": 8000}
TENANT = "bench"
TOKEN_ENV = "CONFLUX_BENCH_TOKEN"  # how the load generators get the admin token

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


def require_free(ports: Iterable[int]) -> None:
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
    """CPU of terminated, reaped children: here, the load generator runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> float:
    """CPU seconds the whole machine (all cores) has been busy, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CpuProbe:
    """CPU used during the measured window, in % of one core: each named process, the
    load generator, and `other` (everything else on the machine, e.g. other users)."""

    def __init__(self, pids: dict[str, int] | None = None) -> None:
        self.pids = pids or {}

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.procs0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.children0 = children_cpu()
        self.busy0 = machine_busy()

    def stop(self) -> dict[str, int]:
        wall = time.monotonic() - self.t0
        used = {name: cpu_seconds(pid) - self.procs0[name] for name, pid in self.pids.items()}
        used["loadgen"] = children_cpu() - self.children0
        other = machine_busy() - self.busy0 - sum(used.values())
        pct = {name: round(100 * seconds / wall) for name, seconds in used.items()}
        pct["other"] = max(0, round(100 * other / wall))
        return pct


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


def token_env(token: str | None) -> dict[str, str]:
    """This process's environment, with TOKEN_ENV set to `token` (or unset for None)."""
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if token:
        env[TOKEN_ENV] = token
    return env


def run_child(
    cmd: list[str], timeout: float, cwd: Path = REPO, env: dict[str, str] | None = None
) -> str:
    """Run a child to completion and return its stdout; it is killed on any exit path."""
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
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

    def run(
        self,
        kind: str,
        url: str,
        warmup: int,
        duration: int,
        probe: CpuProbe,
        token: str | None = None,
    ) -> Result:
        """`kind` is write or fetch; `probe` brackets the measured run (with the aiohttp
        fallback, warm-up and measurement are one process, so it brackets both); every
        request carries `Authorization: Bearer <token>` when a token is given."""
        nonce = uuid.uuid4().hex[:8]
        env = token_env(token)
        if not self.wrk:
            probe.start()
            result = self._aiohttp(kind, url, warmup, duration, nonce, env)
        else:
            warm = self._wrk(kind, url, warmup, nonce + "w", env) if warmup > 0 else {"ok": 0}
            probe.start()
            result = self._wrk(kind, url, duration, nonce, env)
            result["warmup_ok"] = warm["ok"]
        result["cpu_pct"] = probe.stop()
        return result

    def _wrk(self, kind: str, url: str, seconds: int, nonce: str, env: dict[str, str]) -> Result:
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
        out = run_child(cmd, timeout=seconds + 60, env=env)
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

    def _aiohttp(
        self, kind: str, url: str, warmup: int, duration: int, nonce: str, env: dict[str, str]
    ) -> Result:
        cmd = [
            sys.executable, "-m", "bench.loadgen", kind, url,
            "--connections", str(self.connections),
            "--warmup", str(warmup),
            "--duration", str(duration),
            "--configs", str(CONFIGS),
            "--nonce", nonce,
        ]  # fmt: skip
        result: Result = json.loads(run_child(cmd, timeout=warmup + duration + 60, env=env))
        result["warmup_ok"] = None  # not counted separately by bench/loadgen.py
        return result


# --- Conflux --------------------------------------------------------------------------


def coords(i: int) -> str:
    return config_path(TENANT, "app", "prod", f"cfg{i:02d}")


def ensure_tenant(client: RestClient, name: str = TENANT) -> None:
    """Create tenant `name` (as the admin) unless it exists."""
    try:
        client.post("/api/v1/tenants", {"name": name})
    except ApiError as error:
        if error.status != 409:  # 409: it exists already
            raise


def seed(client: RestClient) -> None:
    """Tenant `bench` and 16 JSON configs, each with one version released as the default."""
    ensure_tenant(client)
    for i in range(CONFIGS):
        client.put(coords(i), {"format": "json"})
        version = client.post(coords(i) + "/versions", {"content": CONTENT.format(i)})
        client.put(coords(i) + "/release", {"default_version": version["version"]})


def versions_total(client: RestClient) -> int:
    return sum(int(client.get(coords(i))["latest_version"]) for i in range(CONFIGS))


def conflux_phase(
    root: Path, loadgen: LoadGen, warmup: int, duration: int, *, fsync: bool, full: bool
) -> dict[str, Result]:
    """Start a 3-node cluster; writes to the leader, then (if `full`) writes to a
    follower and fetches from that follower; stop the cluster on every exit path."""
    require_free((*range(RAFT_BASE, RAFT_BASE + 3), *range(HTTP_BASE, HTTP_BASE + 3)))
    extra = () if fsync else ("--no-fsync",)
    cluster = LocalCluster(
        root=root,
        size=3,
        raft_base=RAFT_BASE,
        http_base=HTTP_BASE,
        grpc_base=GRPC_BASE,
        extra_args=extra,
    )
    mode = "fsync on" if fsync else "--no-fsync"
    suffix = "" if fsync else "_no_fsync"
    out: dict[str, Result] = {}
    try:
        log(f"starting 3 Conflux nodes ({mode}), data in {root}")
        cluster.start()
        cluster.wait_ready(timeout=60)
        leader = cluster.leader()
        follower = next(n for n in cluster.nodes if n is not leader)
        client = cluster.client(leader, timeout=10)  # sends the admin token
        token = cluster.token()
        seed(client)

        def probe() -> CpuProbe:
            role = {n.id: "leader" if n is leader else "follower" for n in cluster.nodes}
            pids = {
                f"{n.id}({role[n.id]})": n.process.pid
                for n in cluster.nodes
                if n.process is not None
            }
            return CpuProbe(pids)

        def writes(target: NodeProc, name: str) -> None:
            before = versions_total(client)
            log(f"writes -> {target.id} ({name}, {mode}): {warmup}s warm-up + {duration}s")
            result = loadgen.run("write", target.url, warmup, duration, probe(), token)
            time.sleep(0.5)  # requests cut off when the load generator stopped
            result["node"] = target.id
            result["leader_before"] = leader.id
            result["leader_after"] = cluster.leader().id
            result["versions_created"] = versions_total(client) - before
            out[f"conflux_writes_{name}{suffix}"] = result

        writes(leader, "leader")
        if full:
            writes(follower, "follower")
            log(f"fetch -> {follower.id} (follower): {warmup}s warm-up + {duration}s")
            result = loadgen.run("fetch", follower.url, warmup, duration, probe(), token)
            result["node"] = follower.id
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
    probe = CpuProbe()  # the members are grandchildren: all of their CPU shows as loadgen
    probe.start()
    out = run_child(cmd, timeout=warmup + duration + 90)
    cpu = probe.stop()
    result: Result = json.loads(out.strip().splitlines()[-1])
    result["cpu_pct"] = {"3 members": cpu["loadgen"], "other": cpu["other"]}
    return result


def bare_aiohttp_phase(loadgen: LoadGen, warmup: int, duration: int) -> Result:
    require_free((BARE_PORT,))
    cmd = [sys.executable, "-m", "bench.bare_aiohttp", "--port", str(BARE_PORT)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{BARE_PORT}"
        wait_http(url + "/ready")
        log(f"bare aiohttp fetch handler: {warmup}s warm-up + {duration}s")
        return loadgen.run("fetch", url, warmup, duration, CpuProbe({"server": proc.pid}))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- report -----------------------------------------------------------------------------

ROWS = [
    ("conflux_writes_leader", "Conflux writes -> leader (fsync on)"),
    ("conflux_writes_follower", "Conflux writes -> follower (fsync on)"),
    ("conflux_fetch", "Conflux fetch, one node (a follower)"),
    ("conflux_writes_leader_no_fsync", "Conflux writes -> leader (--no-fsync)"),
    ("raw_pysyncobj", "baseline: raw pysyncobj, 64 in flight"),
    ("bare_aiohttp_fetch", "baseline: bare aiohttp JSON handler"),
]


def ratio(a: Result | None, b: Result | None) -> float | None:
    if not a or not b or "rps" not in a or not b.get("rps"):
        return None
    return round(float(a["rps"]) / float(b["rps"]), 3)


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def row(label: str, r: Result) -> str:
    if "error" in r:
        return f"{label:<40}  FAILED: {r['error']}"
    cpu = " ".join(f"{k}={v}" for k, v in r.get("cpu_pct", {}).items())
    return (
        f"{label:<40}{fmt(r.get('rps'), '.0f'):>8}{fmt(r.get('p50_ms'), '.1f'):>8}"
        f"{fmt(r.get('p99_ms'), '.1f'):>8}{fmt(r.get('max_ms'), '.0f'):>8}"
        f"{fmt(r.get('errors'), 'd'):>7}  {cpu}"
    )


def table(report: Result) -> str:
    res, s, t = report["results"], report["settings"], report["targets"]
    lines = [
        f"Conflux benchmark, {report['date']}, {report['host']['cores']} cores, "
        f"Python {report['host']['python']}, code {report['code']}",
        f"load: {s['loadgen']}; {s['duration_s']}s measured after {s['warmup_s']}s warm-up; "
        f"{CONFIGS} configs round-robin; CPU in % of one core during the measured window",
        "",
        f"{'scenario':<40}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'errors':>7}  CPU %",
        "-" * 118,
    ]
    lines += [row(label, res[key]) for key, label in ROWS if key in res]
    ratios = report["ratios"]
    w = res.get("conflux_writes_leader") or {}
    f = res.get("conflux_fetch") or {}
    met = report["targets_met"]
    lines += [
        "",
        f"ratio  Conflux writes (leader) / raw pysyncobj: {fmt(ratios['writes_vs_raw'], '.3f')}",
        f"ratio  Conflux fetch / bare aiohttp:            {fmt(ratios['fetch_vs_bare'], '.3f')}",
        f"target writes >= {t['writes_rps']}/s with p99 <= {t['writes_p99_ms']} ms: measured "
        f"{fmt(w.get('rps'), '.0f')}/s, p99 {fmt(w.get('p99_ms'), '.1f')} ms "
        f"({'met' if met['writes'] else 'not met'})",
        f"target fetch >= {t['fetch_rps']}/s: measured {fmt(f.get('rps'), '.0f')}/s "
        f"({'met' if met['fetch'] else 'not met'})",
    ]
    for key in ("conflux_writes_leader", "conflux_writes_follower"):
        r = res.get(key) or {}
        if "versions_created" not in r:
            continue
        if r.get("warmup_ok") is None:
            counted = f"{r['ok']} 2xx counted in the measured window (warm-up not counted)"
        else:
            counted = f"{r['ok'] + r['warmup_ok']} 2xx counted in warm-up + measured window"
        lines.append(
            f"check  {key}: {r['versions_created']} versions created, {counted}; "
            "requests cut off when the load generator stops are not counted"
        )
        if r["leader_after"] != r["leader_before"]:
            lines.append(f"note   leadership moved: {r['leader_before']} -> {r['leader_after']}")
    for key, label in ROWS:
        cpu = (res.get(key) or {}).get("cpu_pct", {})
        if cpu.get("loadgen", 0) >= 90 and key != "raw_pysyncobj":
            lines.append(f"note   {label}: the load generator used a whole core; a lower bound")
        if cpu.get("other", 0) >= 20:
            lines.append(f"note   {label}: other processes used {cpu['other']}% CPU meanwhile")
    from bench.watch import table_lines  # imported here: bench.watch imports this module

    lines += table_lines(res)
    return "\n".join(lines)


def code_version() -> str:
    """The commit the node code comes from, marked when node/ has uncommitted changes."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "node")
    return head + (" + uncommitted changes in node/" if dirty else "")


def build_report(
    args: argparse.Namespace, loadgen: LoadGen, results: dict[str, Result], seconds: float
) -> Result:
    from bench.watch import report_section

    w = results.get("conflux_writes_leader") or {}
    f = results.get("conflux_fetch") or {}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "code": code_version(),
        "settings": {
            "loadgen": loadgen.description,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "configs": CONFIGS,
            "fsync": "on (the node default) unless the scenario says no_fsync",
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
                and w.get("p99_ms", float("inf")) <= TARGETS["writes_p99_ms"]
            ),
            "fetch": bool(f.get("rps", 0) >= TARGETS["fetch_rps"]),
        },
        "watch": report_section(results),
        "run_seconds": round(seconds),
    }


# --- main -------------------------------------------------------------------------------


def guarded(name: str, results: dict[str, Result], phase: Callable[[], dict[str, Result]]) -> None:
    """Run one phase; a failure is recorded under `name` and the other phases still run."""
    try:
        results.update(phase())
    except (RuntimeError, OSError, TimeoutError, ValueError, subprocess.SubprocessError) as error:
        log(f"{name} failed: {error}")
        results[name] = {"error": (str(error).splitlines() or [repr(error)])[0][:200]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=12, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per scenario")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "aiohttp"], default="auto")
    parser.add_argument("--skip-no-fsync", action="store_true", help="skip the --no-fsync run")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--skip-watch", action="store_true", help="skip the watch-stream runs")
    parser.add_argument(
        "--only-watch",
        action="store_true",
        help="run only the watch-stream scenarios; their figures replace the watch figures "
        "in the existing bench/results/latest.json",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep node data and logs")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the `finally`s below

    if args.only_watch:
        from bench.watch import only_watch

        return only_watch(RESULTS, keep_data=args.keep_data)
    wrk = None if args.loadgen == "aiohttp" else find_wrk()
    if args.loadgen == "wrk" and wrk is None:
        log("wrk is not available")
        return 2
    loadgen = LoadGen(wrk, args.connections, args.threads)
    root = Path(tempfile.mkdtemp(prefix="conflux-bench-"))
    results: dict[str, Result] = {}
    started = time.monotonic()
    w, d, c = args.warmup, args.duration, args.connections
    log(f"load generator: {loadgen.description}")
    try:
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
            guarded(
                "raw_pysyncobj", results, lambda: {"raw_pysyncobj": raw_pysyncobj_phase(w, d, c)}
            )
            guarded(
                "bare_aiohttp_fetch",
                results,
                lambda: {"bare_aiohttp_fetch": bare_aiohttp_phase(loadgen, w, d)},
            )
        if not args.skip_watch:
            from bench.watch import watch_phase

            guarded("watch", results, lambda: watch_phase(root / "watch"))
    except KeyboardInterrupt:
        log("interrupted; the processes started here have been stopped")
        return 130
    finally:
        if args.keep_data:
            log(f"node data and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    report = build_report(args, loadgen, results, time.monotonic() - started)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("\n" + table(report))
    print(
        f"\nfigures written to {RESULTS.relative_to(REPO)}; the run took {report['run_seconds']}s"
    )
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
