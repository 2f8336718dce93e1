"""Shared pytest options and fixtures.

* ``--device`` (default ``cpu``) selects where models run; tests take the ``device`` fixture.
  ``gpu``-marked tests are skipped when CUDA is not available.
* Real tables come from ``../shared/data`` next to the repository; their fixtures skip
  when the file is absent, so a plain clone still passes.
* Session-scoped DataFrames are shared between tests: never modify them in place; take a
  ``.copy()`` first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--device",
        action="store",
        default="cpu",
        help="device for model tests: cpu (default), cuda, cuda:1, mps or auto",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return  # do not pay for importing torch unless a gpu test was selected
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _no_tracking_by_default() -> Iterator[None]:
    """CLI commands track to MLflow by default; tests opt in (tests/integration/test_mlflow.py).

    Otherwise every CLI test would create ./mlflow.db and pay for MLflow's imports.
    Session-scoped so that it is in force before module-scoped fixtures that run the CLI.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHKIT_TRACK", "0")
        yield


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> str:
    """The device given with ``--device`` (default ``"cpu"``)."""
    return str(request.config.getoption("--device"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data`` relative to the repository root (it may not exist)."""
    return (Path(__file__).parents[1] / ".." / "shared" / "data").resolve()


def _read_shared(data_dir: Path, name: str) -> pd.DataFrame:
    path = data_dir / name
    if not path.is_file():
        pytest.skip(f"shared dataset {path} is not available")
    return pd.read_parquet(path)


@pytest.fixture(scope="session")
def adult(data_dir: Path) -> pd.DataFrame:
    """UCI Adult, 32,561 rows x 15 columns (6 int, 9 string; nulls in 3 columns)."""
    return _read_shared(data_dir, "adult.parquet")


@pytest.fixture(scope="session")
def california(data_dir: Path) -> pd.DataFrame:
    """California housing, 20,640 rows x 10 columns (9 float, 1 string; nulls in 1)."""
    return _read_shared(data_dir, "california_housing.parquet")


@pytest.fixture(scope="session")
def diamonds(data_dir: Path) -> pd.DataFrame:
    """ggplot2 diamonds, 53,940 rows x 10 columns (6 float, 1 int, 3 string; no nulls)."""
    return _read_shared(data_dir, "diamonds.parquet")


def make_small_mixed(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """A small mixed-type table with correlated columns and some nulls.

    Columns: ``segment`` (string, 3 levels), ``region`` (string, 4 levels, ~4 % null),
    ``age`` (int64, depends on segment), ``income`` (float64, log-linear in age and
    segment, ~5 % null), ``active`` (bool, depends on segment and income), ``signup``
    (datetime64, depends on age, ~3 % null).
    """
    rng = np.random.default_rng(seed)
    segment = rng.choice(["retail", "corporate", "public"], size=n, p=[0.5, 0.3, 0.2])
    is_corp = segment == "corporate"
    is_public = segment == "public"

    age = np.clip(np.round(32 + 12 * is_corp + 8 * is_public + rng.normal(0, 8, n)), 18, 80)
    log_income = 9.6 + 0.015 * age + 0.5 * is_corp - 0.2 * is_public + rng.normal(0, 0.25, n)
    income = np.round(np.exp(log_income), 2)
    active = rng.random(n) < 0.25 + 0.4 * is_corp + 0.2 * (log_income > np.median(log_income))

    regions = np.array(["north", "south", "east", "west"])
    region_p = np.where(is_corp[:, None], [0.55, 0.15, 0.15, 0.15], [0.2, 0.3, 0.3, 0.2])
    region = regions[(rng.random(n)[:, None] > region_p.cumsum(axis=1)).sum(axis=1)]

    days = np.round(3 * (age - 18) + rng.normal(0, 60, n)).astype("int64")
    signup = pd.Timestamp("2015-01-01") + pd.to_timedelta(days, unit="D")

    df = pd.DataFrame(
        {
            "segment": pd.Series(segment, dtype="str"),
            "region": pd.Series(region, dtype="str"),
            "age": age.astype("int64"),
            "income": income,
            "active": active,
            "signup": signup,
        }
    )
    df.loc[rng.random(n) < 0.04, "region"] = np.nan
    df.loc[rng.random(n) < 0.05, "income"] = np.nan
    df.loc[rng.random(n) < 0.03, "signup"] = pd.NaT
    return df


@pytest.fixture(scope="session")
def small_mixed() -> pd.DataFrame:
    """~600 rows of float, int, bool, string and datetime columns with nulls (see above)."""
    return make_small_mixed()
