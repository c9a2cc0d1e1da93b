"""Fallback load generator (when `wrk` is not available): aiohttp, one process.

    python -m bench.loadgen write|fetch URL [--connections 64 --warmup 3 --duration 12]

Does what bench/wrk_write.lua and bench/wrk_fetch.lua do: `connections` workers, each
on its own keep-alive connection, sending requests back to back; writes carry unique
content round-robin over `--configs` configs. Prints one JSON line:
{requests, ok, seconds, rps, p50_ms, p90_ms, p99_ms, max_ms, errors}. Latencies and
counts cover the measured window only; non-2xx answers and exceptions are errors.
Being Python, it costs far more CPU per request than wrk, so on a small machine it
takes a bigger share of the cores away from the system under test.

With CONFLUX_BENCH_TOKEN set, every request carries `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

import aiohttp


class Stats:
    def __init__(self) -> None:
        self.measuring = False
        self.latencies: list[float] = []
        self.ok = 0
        self.errors = 0

    def record(self, seconds: float, ok: bool) -> None:
        if not self.measuring:
            return
        self.latencies.append(seconds)
        if ok:
            self.ok += 1
        else:
            self.errors += 1


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


async def worker(
    session: aiohttp.ClientSession, args: argparse.Namespace, wid: int, stats: Stats
) -> None:
    n = 0
    while True:
        n += 1
        cfg = f"cfg{(n + wid) % args.configs:02d}"
        start = time.perf_counter()
        try:
            if args.kind == "write":
                content = json.dumps({"n": n, "w": wid, "r": args.nonce})
                url = f"{args.url}/api/v1/configs/bench/app/prod/{cfg}/versions"
                body = {"content": content, "message": "bench"}
                async with session.post(url, json=body) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            else:
                url = f"{args.url}/api/v1/fetch/bench/app/prod/{cfg}?client_id=bench-{wid}"
                async with session.get(url) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        stats.record(time.perf_counter() - start, ok)


async def run(args: argparse.Namespace) -> dict[str, float | int]:
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=10)
    token = os.environ.get("CONFLUX_BENCH_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:
        tasks = [
            asyncio.create_task(worker(session, args, i, stats)) for i in range(args.connections)
        ]
        await asyncio.sleep(args.warmup)
        stats.measuring = True
        started = time.perf_counter()
        await asyncio.sleep(args.duration)
        stats.measuring = False
        seconds = time.perf_counter() - started
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted(stats.latencies)
    ms = 1000.0
    return {
        "requests": len(latencies),
        "ok": stats.ok,
        "seconds": round(seconds, 3),
        "rps": round(stats.ok / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * ms, 2),
        "p90_ms": round(percentile(latencies, 90) * ms, 2),
        "p99_ms": round(percentile(latencies, 99) * ms, 2),
        "max_ms": round((latencies[-1] if latencies else 0.0) * ms, 2),
        "errors": stats.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.loadgen")
    parser.add_argument("kind", choices=["write", "fetch"])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--duration", type=float, default=12)
    parser.add_argument("--configs", type=int, default=16)
    parser.add_argument("--nonce", default="run")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
