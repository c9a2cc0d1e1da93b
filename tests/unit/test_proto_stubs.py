"""The committed gRPC stubs match proto/: regenerate them and compare."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = ("watch_pb2.py", "watch_pb2.pyi", "watch_pb2_grpc.py", "watch_pb2_grpc.pyi")


def test_generated_stubs_are_up_to_date(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
         f"--python_out={tmp_path}", f"--grpc_python_out={tmp_path}",
         f"--mypy_out={tmp_path}", f"--mypy_grpc_out={tmp_path}",
         str(ROOT / "proto/conflux/v1/watch.proto")],
        check=True, env=env,
    )  # fmt: skip
    for name in FILES:
        fresh = (tmp_path / "conflux/v1" / name).read_text()
        committed = (ROOT / "sdk/conflux/v1" / name).read_text()
        assert fresh == committed, f"sdk/conflux/v1/{name} is stale: run `make proto`"
