"""One watch load process for bench/watch.py: many gRPC watch streams on one node.

Opens `--streams` `ConfluxWatch/Watch` streams on `--target`, `--per-channel` streams
per grpc.aio channel (each channel its own TCP connection), all watching one config and
holding a stale sha256, so the node answers each stream at once with an initial event.

Talks to the orchestrator over stdin/stdout, one line each:
  out `READY <streams> <failed>`  every stream got its initial event (or failed)
  out `GOT <revision>`            every live stream got the event of that release
  in  `STOP`                      cancel the streams, close the channels, then
  out `RESULT <json>`             {"recv": {revision: [receive time, ...]}, ...}
Receive times are `time.time()` taken as each event comes out of the stream.
With CONFLUX_BENCH_TOKEN set, every stream sends `authorization: Bearer <token>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict

import grpc

from conflux.v1 import watch_pb2, watch_pb2_grpc

STALE_SHA = "0" * 64
TOKEN = os.environ.get("CONFLUX_BENCH_TOKEN")
METADATA = (("authorization", f"Bearer {TOKEN}"),) if TOKEN else None


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Load:
    def __init__(self, streams: int) -> None:
        self.streams = streams
        self.initial = 0
        self.failed = 0
        self.errors: list[str] = []
        self.recv: dict[int, list[float]] = defaultdict(list)
        self.ready = asyncio.Event()
        self.batch_done = asyncio.Event()
        self.opened = 0
        self.stopping = False

    def _check_ready(self) -> None:
        if self.initial + self.failed >= self.opened and not self.batch_done.is_set():
            self.batch_done.set()
        if not self.ready.is_set() and self.initial + self.failed >= self.streams:
            self.ready.set()
            say(f"READY {self.initial} {self.failed}")

    async def stream(self, stub: watch_pb2_grpc.ConfluxWatchStub, request: object) -> None:
        first = True
        try:
            async for event in stub.Watch(request, metadata=METADATA):
                now = time.time()
                if first:
                    first = False
                    self.initial += 1
                    self._check_ready()
                    continue
                for update in event.updates:
                    times = self.recv[update.release_revision]
                    times.append(now)
                    if len(times) == self.streams - self.failed:
                        say(f"GOT {update.release_revision}")
                if event.resync:
                    self.errors.append("resync")
        except asyncio.CancelledError:
            raise
        except grpc.aio.AioRpcError as error:
            if not self.stopping:
                self.errors.append(f"{error.code().name}: {error.details()}"[:200])
        if not self.stopping:  # the stream ended or failed before STOP
            self.failed += 1
            if first:
                self._check_ready()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--per-channel", type=int, default=100)
    parser.add_argument("--config", required=True, help="tenant/app/env/name")
    parser.add_argument("--client-prefix", default="w")
    parser.add_argument(
        "--batch", type=int, default=250, help="streams opened before waiting for their answers"
    )
    args = parser.parse_args()

    tenant, app, env, name = args.config.split("/")
    ref = watch_pb2.ConfigRef(tenant=tenant, app=app, env=env, name=name)
    load = Load(args.streams)
    # A local subchannel pool: channels with the same target and arguments would
    # otherwise share one TCP connection.
    options = [("grpc.use_local_subchannel_pool", 1)]
    n_channels = -(-args.streams // args.per_channel)
    channels = [grpc.aio.insecure_channel(args.target, options=options) for _ in range(n_channels)]
    tasks = []
    # Streams are opened in batches: the gRPC core server randomly rejects new calls
    # (CANCELLED) once more than 1000 wait for the Python server to pick them up.
    for start in range(0, args.streams, args.batch):
        load.batch_done.clear()
        for i in range(start, min(args.streams, start + args.batch)):
            stub = watch_pb2_grpc.ConfluxWatchStub(channels[i // args.per_channel])
            request = watch_pb2.WatchRequest(
                configs=[watch_pb2.Held(config=ref, sha256=STALE_SHA)],
                client_id=f"{args.client_prefix}{i}",
            )
            tasks.append(asyncio.create_task(load.stream(stub, request)))
            load.opened += 1
        await load.batch_done.wait()

    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() not in ("STOP", ""):
        pass
    load.stopping = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(channel.close() for channel in channels))
    say(
        "RESULT "
        + json.dumps(
            {
                "streams": args.streams,
                "initial": load.initial,
                "failed": load.failed,
                "errors": sorted(set(load.errors))[:5],
                "error_count": len(load.errors),
                "recv": {str(rev): times for rev, times in load.recv.items()},
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
