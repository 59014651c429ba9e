"""The committed stubs match what generate.sh makes from the proto."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent
COMMITTED = PACKAGE / "src" / "eventstream_client" / "v1"


@pytest.mark.skipif(not (PACKAGE / "../../proto").is_dir(), reason="proto not available")
def test_committed_stubs_are_up_to_date(tmp_path: Path) -> None:
    env = dict(os.environ, EVENTSTREAM_PYTHON=sys.executable)
    subprocess.run([str(PACKAGE / "generate.sh"), str(tmp_path)], check=True, env=env, timeout=60,
                   capture_output=True)
    for name in ("eventstream_pb2.py", "eventstream_pb2.pyi", "eventstream_pb2_grpc.py"):
        assert (tmp_path / name).read_text() == (COMMITTED / name).read_text(), (
            f"{name} is stale: run clients/python/generate.sh"
        )
