"""Run by ``torchrun`` in test_distributed.py: one rank of a distributed fit.

Each rank fits the same Synthesizer on the same table (every rank trains on its own shard)
and writes a checksum of its final weights; rank 0 also saves the model.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from synthkit import Synthesizer
from synthkit.training import dist_info


def main(out: Path, backend: str) -> None:
    rng = np.random.default_rng(0)
    n = 600
    g = rng.choice(["a", "b"], n)
    x = np.where(g == "a", 0.0, 3.0) + rng.normal(size=n)
    df = pd.DataFrame({"g": pd.Series(g, dtype="str"), "x": x, "y": 2 * x + rng.normal(size=n)})
    params = {"epochs": 4, "batch_size": 64}
    if backend == "gan":
        params |= {"generator_dims": (32,), "critic_dims": (32,), "pac": 4}
    else:
        params |= {"hidden_dims": (32,), "latent_dim": 4}
    syn = Synthesizer(backend, params, device="cpu", random_state=0).fit(df)
    info = dist_info()
    weights = torch.cat([p.detach().reshape(-1) for p in syn.backend_.net_.parameters()])
    (out / f"rank{info.rank}.txt").write_text(
        f"{info.world_size} {syn.backend_.fit_info_['epochs']} {weights.double().sum().item():.12e}"
    )
    syn.save(out / "model", overwrite=True)  # only rank 0 writes


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
