"""Multi-process training: ``torchrun`` with 2 CPU processes and the gloo backend."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from synthkit import load

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("backend", ["vae", "gan"])  # DDP wrapper / manual all-reduce paths
def test_torchrun_two_processes(tmp_path: Path, backend: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        str(WORKER),
        str(tmp_path),
        backend,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [(tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1)]
    assert ranks[0][0] == ranks[1][0] == "2"  # both saw a world of 2
    assert ranks[0][1] == ranks[1][1]  # stopped on the same epoch
    # Gradients were averaged every step, so the replicas ended with the same weights.
    assert float(ranks[0][2]) == pytest.approx(float(ranks[1][2]), rel=1e-5)
    model = load(tmp_path / "model")
    assert len(model.sample(20)) == 20
    assert not list(tmp_path.glob(".model.*"))  # no second writer left a temporary dir
