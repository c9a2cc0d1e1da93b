"""Baseline: raw pysyncobj, three processes, one @replicated counter.

Same library and version as the node, `appendEntriesUseBatch=False` like the node, but
pysyncobj's own in-memory journal (no journal file, no fsync), no HTTP, no RocksDB.
It is the ceiling of pysyncobj's replication on this machine.

    python -m bench.raw_pysyncobj [--warmup 3 --duration 12 --inflight 64]

starts three members (`python -m bench.raw_pysyncobj member ...`, ports 7391-7393),
waits for a leader and tells the leader to drive: it keeps `inflight` commands
outstanding, issuing a new one from each command's callback, and reports commits/s and
latency percentiles as one JSON line. Members talk to the orchestrator over
stdin/stdout and exit when their stdin closes, so none outlives it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated

PORTS = (7391, 7392, 7393)


class Counter(SyncObj):  # type: ignore[misc]
    def __init__(self, self_address: str, partners: list[str]) -> None:
        conf = SyncObjConf(appendEntriesUseBatch=False, dynamicMembershipChange=True)
        super().__init__(self_address, partners, conf)
        self.value = 0

    @replicated  # type: ignore[untyped-decorator]
    def incr(self, n: int) -> int:
        self.value += n
        return self.value


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


class Driver:
    """Keeps `inflight` commands outstanding; callbacks run on pysyncobj's thread."""

    def __init__(self, obj: Counter, inflight: int) -> None:
        self.obj = obj
        self.inflight = inflight
        self.measuring = False
        self.stopping = False
        self.latencies: list[float] = []
        self.completed: list[float] = []  # completion times, for commits per second
        self.errors = 0

    def issue(self) -> None:
        start = time.perf_counter()

        def callback(_result: Any, reason: int) -> None:
            if self.measuring:
                if reason == FAIL_REASON.SUCCESS:
                    now = time.perf_counter()
                    self.latencies.append(now - start)
                    self.completed.append(now)
                else:
                    self.errors += 1
            if not self.stopping:
                self.issue()

        self.obj.incr(1, callback=callback)

    def run(self, warmup: float, duration: float) -> dict[str, Any]:
        for _ in range(self.inflight):
            self.issue()
        time.sleep(warmup)
        self.measuring = True
        started = time.perf_counter()
        time.sleep(duration)
        self.measuring = False
        seconds = time.perf_counter() - started
        self.stopping = True
        latencies = sorted(self.latencies)
        per_second = [0] * max(1, int(seconds + 0.5))
        for done in self.completed:
            per_second[min(len(per_second) - 1, int(done - started))] += 1
        time.sleep(0.5)  # let the outstanding commands finish
        ms = 1000.0
        return {
            "requests": len(latencies),
            "seconds": round(seconds, 3),
            "rps": round(len(latencies) / seconds, 1),
            "p50_ms": round(percentile(latencies, 50) * ms, 2),
            "p90_ms": round(percentile(latencies, 90) * ms, 2),
            "p99_ms": round(percentile(latencies, 99) * ms, 2),
            "max_ms": round((latencies[-1] if latencies else 0.0) * ms, 2),
            "errors": self.errors,
            "inflight": self.inflight,
            "per_second": per_second,
            "value": self.obj.value,
        }


def reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def exit_with_parent(parent: int) -> None:
    """Leave at once if the orchestrator dies, even in the middle of a drive."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def member(self_address: str, partners: list[str]) -> None:
    """One cluster member: answer `status` and `drive W D N` lines until stdin closes."""
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    obj = Counter(self_address, partners)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            status = obj.getStatus()
            leader = status.get("leader")
            is_leader = leader is not None and str(leader) == self_address
            if words[0] == "status":
                reply({"self": self_address, "leader": str(leader) if leader else None})
            elif words[0] == "drive" and is_leader:
                warmup, duration, inflight = float(words[1]), float(words[2]), int(words[3])
                reply(Driver(obj, inflight).run(warmup, duration))
            elif words[0] == "drive":
                reply({"error": f"{self_address} is not the leader (leader: {leader})"})
    finally:
        obj.destroy()


def orchestrate(warmup: float, duration: float, inflight: int, timeout: float = 30) -> None:
    addresses = [f"127.0.0.1:{port}" for port in PORTS]
    procs: list[subprocess.Popen[str]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        for address in addresses:
            partners = [a for a in addresses if a != address]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.raw_pysyncobj", "member", address, *partners],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        leader = wait_for_leader(procs, addresses, timeout)
        proc = procs[addresses.index(leader)]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"drive {warmup} {duration} {inflight}\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
        result["leader"] = leader
        print(json.dumps(result), flush=True)
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()  # members exit on EOF
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_leader(
    procs: list[subprocess.Popen[str]], addresses: list[str], timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leaders = set()
        for proc in procs:
            assert proc.stdin is not None and proc.stdout is not None
            if proc.poll() is not None:
                raise RuntimeError(f"a pysyncobj member exited with {proc.returncode}")
            proc.stdin.write("status\n")
            proc.stdin.flush()
            leaders.add(json.loads(proc.stdout.readline())["leader"])
        if len(leaders) == 1 and (leader := leaders.pop()) in addresses:
            return str(leader)
        time.sleep(0.2)
    raise TimeoutError("the pysyncobj cluster elected no leader")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "member":
        member(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(prog="bench.raw_pysyncobj")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--duration", type=float, default=12)
    parser.add_argument("--inflight", type=int, default=64)
    args = parser.parse_args()
    orchestrate(args.warmup, args.duration, args.inflight)


if __name__ == "__main__":
    main()
