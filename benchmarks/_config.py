"""Suite definitions: datasets, sizes, budgets and per-method settings for quick and full.

Budgets (2 CPU cores; see docs/benchmarks.md):

* synthkit backends are EM models today (gmm, naive_bayes); they run to convergence.
  Backends registered later are picked up from ``synthkit.backends.available()``. If their
  constructor takes a time-budget argument (one of ``TIME_BUDGET_PARAMS``) it is set to the
  suite's ``neural_budget_s``; otherwise they run with their own defaults.
* SDV's CTGAN and TVAE get a FIXED number of epochs (not a timer, so runs are reproducible),
  sized so that training takes about ``neural_budget_s`` on 2 CPU cores at the suite's table
  size. Measured on the 2-core dev box (shared with other jobs) at 4,000 rows: CTGAN ~3.5 s
  per epoch on california, up to ~13 s on adult; TVAE ~0.3-6 s per epoch. So quick gives
  CTGAN 10 and TVAE 40 epochs (far below SDV's default 300: quick CTGAN/TVAE numbers are
  under-trained and only check the plumbing); full uses SDV's default 300 epochs. CTGAN's
  mode-specific normaliser (a Bayesian GMM per numeric column) adds preprocessing time on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIME_BUDGET_PARAMS = ("time_budget", "time_budget_s", "max_time", "max_seconds", "budget_s")

SYNTHESIS_DATASETS = {
    # name: (file, target column)
    "adult": ("adult.parquet", "income"),
    "california_housing": ("california_housing.parquet", "median_house_value"),
    "diamonds": ("diamonds.parquet", "price"),
}

ADBENCH_ALL = [
    "2_annthyroid", "4_breastw", "6_cardio", "7_Cardiotocography", "10_cover", "14_glass",
    "16_http", "18_Ionosphere", "19_landsat", "20_letter", "22_magic.gamma", "23_mammography",
    "25_musk", "26_optdigits", "27_PageBlocks", "28_pendigits", "29_Pima", "30_satellite",
    "31_satimage-2", "32_shuttle", "34_smtp", "38_thyroid", "39_vertebral", "40_vowels",
    "42_WBC", "43_WDBC", "45_wine", "46_WPBC",
]  # fmt: skip
CATEGORICAL_AD_ALL = [
    "census_nominal_ad", "kddcup99_u2r_ad", "kddcup99_probe_ad", "covertype_nominal_ad",
    "solar_flare_ad",
]  # fmt: skip

PYOD_DETECTORS = ["IForest", "ECOD", "COPOD", "HBOS", "KNN", "LOF", "PCA", "OCSVM", "GMM"]
# PyOD detectors that need standardised numeric features (distance / variance based).
NEEDS_SCALING = {"KNN", "LOF", "PCA", "OCSVM"}


@dataclass(frozen=True)
class Suite:
    """What one suite runs."""

    name: str
    synthesis_max_rows: int | None  # subsample each synthesis table to this many rows first
    neural_budget_s: int  # training budget of neural generators (ours and SDV's)
    ctgan_epochs: int
    tvae_epochs: int
    adbench: list[str]
    categorical_ad: list[str]
    seeds: list[int]
    job_timeout_s: int
    split_seed: int = 0
    holdout_fraction: float = 0.2
    ad_max_rows: int = 10_000
    ad_test_fraction: float = 0.3
    extra: dict = field(default_factory=dict)


SUITES = {
    "quick": Suite(
        name="quick",
        synthesis_max_rows=4_000,  # 3,200 train / 800 holdout
        neural_budget_s=30,
        ctgan_epochs=10,  # ~30 s of training at 3,200 rows on 2 (busy) cores
        tvae_epochs=40,  # ~30 s
        adbench=["4_breastw", "14_glass", "29_Pima", "39_vertebral", "42_WBC", "6_cardio"],
        categorical_ad=["solar_flare_ad"],
        seeds=[0],
        job_timeout_s=300,
    ),
    "full": Suite(
        name="full",
        synthesis_max_rows=None,
        neural_budget_s=600,
        ctgan_epochs=300,  # SDV's default; ~10 min at full size on 2 cores
        tvae_epochs=300,
        adbench=list(ADBENCH_ALL),
        categorical_ad=list(CATEGORICAL_AD_ALL),
        seeds=[0, 1, 2],
        job_timeout_s=3 * 3600,
    ),
    # Neural detectors on every anomaly table at a short budget, one seed, beside the fast
    # baselines run in the same invocation (full's 3 seeds x 600 s would take days on 2 cores).
    "neural": Suite(
        name="neural",
        synthesis_max_rows=4_000,
        neural_budget_s=30,
        ctgan_epochs=10,
        tvae_epochs=40,
        adbench=list(ADBENCH_ALL),
        categorical_ad=list(CATEGORICAL_AD_ALL),
        seeds=[0],
        job_timeout_s=900,
    ),
}


def synthkit_params(backend: str, purpose: str, suite: Suite) -> dict:
    """Per-backend hyper-parameters for the benchmark (``purpose``: synthesis or anomaly)."""
    import inspect

    from synthkit.backends import get_backend_class

    known = {
        "gmm": {"n_components": 10},
        "naive_bayes": {"n_classes": 10},
    }
    params = dict(known.get(backend, {}))
    try:
        sig = inspect.signature(get_backend_class(backend))
    except Exception:  # an unimportable backend fails later, in its own subprocess
        return params
    for name in TIME_BUDGET_PARAMS:
        if name in sig.parameters:
            params[name] = suite.neural_budget_s
            break
    return params
