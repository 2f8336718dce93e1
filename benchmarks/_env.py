"""Hardware and version facts recorded beside every benchmark result."""

from __future__ import annotations

import os
import platform
from pathlib import Path

DATA_DIR = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, str]:
    import numpy
    import pandas
    import torch

    import synthkit

    return {
        "cpu": cpu_name(),
        "cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "synthkit": synthkit.__version__,
    }
