"""Regenerate docs/benchmarks.md (tables) and docs/img/bench_*.png (plots) from the CSVs."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._config import SUITES
from benchmarks._env import RESULTS_DIR, environment
from benchmarks._results import ANOMALY_KEY, SYNTHESIS_KEY

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
IMG = DOCS / "img"


NOTES = [
    "Notes on reading these numbers:",
    "",
    "- Each synthesis method runs in a fresh `multiprocessing` 'spawn' subprocess. *Peak RSS* is "
    "the subprocess's peak resident memory during fit + sample (Linux VmHWM, reset just before "
    "the fit via /proc/self/clear_refs, so it covers torch allocations and is not masked by "
    "earlier peaks; `getrusage` maxrss where that is not possible); *Δ* is that peak minus "
    "the resident memory at the start of the fit (data loaded, libraries imported). "
    "Metrics are computed afterwards in the same subprocess with BLAS/OpenMP limited to "
    "one thread (`threadpoolctl`): on a busy 2-core machine scikit-learn's OpenMP trees were "
    "~10x slower with 2 threads.",
    "- `real_holdout` is the noise floor: the held-out real rows scored against the training rows "
    "(shape, trend, C2ST). TSTR/TRTR use fixed, untuned `HistGradientBoosting` (100 iterations, "
    "learning rate 0.1, 31 leaves, no early stopping); binary targets ROC AUC (higher is "
    "better), regression targets RMSE in target units (lower is better) and RMSE / std.",
    "- C2ST: 5-fold cross-validated AUC of the same trees separating the training rows from an "
    "equal number of synthetic rows. DCR share: synthetic rows strictly closer to a "
    "holdout-size training subsample than to the holdout (ideal ≈ 0.5); the full-train variant "
    "is to be compared with n_train / (n_train + n_holdout).",
    "- SDV baselines: SDV 2.x single-table API, metadata auto-detected from the training frame, "
    "except that semantic sdtypes SDV guesses from column names (california's `longitude` / "
    "`latitude`) are reset to numerical: SDV would otherwise replace them with Faker values. "
    "SDV has no `random_state`; the global numpy / torch generators are seeded. CTGAN / TVAE "
    "get a fixed epoch count (see Suite settings); in `quick` that is far below SDV's default "
    "300, so quick CTGAN / TVAE rows are under-trained and only show the plumbing works.",
    "- SDV 2.0 requires pandas < 3; the bench extra therefore resolves pandas 2.x.",
    "",
]


def _load(path: Path, key: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    df = pd.read_csv(path)
    if df.empty:
        return df
    return df.drop_duplicates(subset=list(key), keep="last").reset_index(drop=True)


def _f(v: float, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def _first(d: pd.DataFrame, col: str) -> object:
    if col not in d.columns or not d[col].notna().any():
        return float("nan")
    return d[col].dropna().iloc[0]


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v) for v in r.tolist()) + " |")
    return "\n".join(lines)


def _synthesis_section(df: pd.DataFrame, suite: str) -> list[str]:
    out = [f"## Synthesis ({suite})", ""]
    ok = df[df["status"] == "ok"]
    for dataset, d in ok.groupby("dataset", sort=False):
        first = d.iloc[0]
        reg = _first(d, "efficacy_task") == "regression"
        eff = "RMSE" if reg else "ROC AUC"
        rows = []
        for _, r in d.iterrows():
            row = {
                "method": r["method"],
                "fit s": _f(r.get("fit_s"), 1),
                "sample rows/s": _f(r.get("sample_rows_per_s"), 0),
                "peak RSS MB (Δ)": (
                    f"{_f(r.get('peak_rss_mb'), 0)} ({_f(r.get('peak_rss_delta_mb'), 0)})"
                ),
                "shape err %": _f(r.get("shape_error_pct"), 2),
                "trend err %": _f(r.get("trend_error_pct"), 2),
                "C2ST AUC": _f(r.get("c2st_auc"), 3),
                f"TSTR {eff}": _f(r.get("tstr"), 3),
                f"TRTR {eff}": _f(r.get("trtr"), 3),
            }
            if reg:
                row["TSTR RMSE/std"] = _f(r.get("tstr_rmse_over_std"), 3)
                row["TRTR RMSE/std"] = _f(r.get("trtr_rmse_over_std"), 3)
            row.update(
                {
                    "DCR share (ideal ≈0.5)": _f(r.get("dcr_share"), 3),
                    "DCR share full train": _f(r.get("dcr_share_full_train"), 3),
                    "exact copies": _f(r.get("exact_copy_rate"), 4),
                }
            )
            rows.append(row)
        out += [
            f"### {dataset}",
            "",
            f"{int(first['n_train'])} training / {int(first['n_holdout'])} held-out rows "
            f"(split seed {int(first['split_seed'])}); synthetic rows = training rows. "
            "`real_holdout` is the noise floor (held-out real rows in place of synthetic ones). "
            f"DCR share vs the full training set of a fresh real sample ≈ "
            f"{_f(_first(d, 'dcr_share_full_train_expected'), 3)}; "
            f"exact-copy rate of held-out real rows: "
            f"{_f(_first(d, 'exact_copy_rate_holdout'), 4)}.",
            "",
            _md_table(pd.DataFrame(rows)),
            "",
        ]
    bad = df[df["status"] != "ok"]
    if len(bad):
        out += ["Failed synthesis runs:", ""]
        for _, r in bad.iterrows():
            err = str(r.get("error", "")).splitlines()[0][:200]
            out.append(f"- {r['method']} / {r['dataset']}: {r['status']}: `{err}`")
        out.append("")
    return out


def _anomaly_tables(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ok = df[df["status"] == "ok"]
    tables = {}
    for metric in ("auroc", "auprc", "fit_score_s"):
        t = ok.pivot_table(index="dataset", columns="detector", values=metric, aggfunc="mean")
        tables[metric] = t
    return tables


def _anomaly_section(df: pd.DataFrame, suite: str) -> list[str]:
    out = [f"## Anomaly detection ({suite})", ""]
    seeds = sorted(df["seed"].unique().tolist())
    out += [
        f"ADBench protocol: tables above 10,000 rows stratified-subsampled once (seed 0); "
        f"stratified 70/30 split for seeds {seeds}; fit on the training part without labels; "
        "PyOD's KNN, LOF, PCA and OCSVM on standardised features (one-hot for categorical "
        "tables); synthkit backends score = -log-likelihood. Values are means over seeds.",
        "",
    ]
    tabs = _anomaly_tables(df)
    order = None
    for metric, title in (("auroc", "AUROC"), ("auprc", "AUPRC")):
        t = tabs[metric]
        if t.empty:
            continue
        ranks = t.rank(axis=1, ascending=False)
        mean, rank = t.mean(axis=0), ranks.mean(axis=0)
        if order is None:
            order = rank.sort_values().index.tolist()
        t = t[order]
        show = t.map(lambda v: _f(v, 3)).reset_index()
        show.loc[len(show)] = ["**mean**", *[f"**{_f(mean[c], 3)}**" for c in order]]
        show.loc[len(show)] = ["**avg rank**", *[f"**{_f(rank[c], 2)}**" for c in order]]
        out += [f"### {title}", "", _md_table(show), ""]
    t = tabs["fit_score_s"]
    if not t.empty and order is not None:
        t = t[[c for c in order if c in t.columns]]
        show = t.map(lambda v: _f(v, 2)).reset_index()
        show.loc[len(show)] = ["**total**", *[f"**{_f(t[c].sum(), 1)}**" for c in t.columns]]
        out += ["### Fit + score time (s)", "", _md_table(show), ""]
    bad = df[df["status"] != "ok"]
    if len(bad):
        out += ["Failed detector runs:", ""]
        for _, r in bad.iterrows():
            err = str(r.get("error", "")).splitlines()[0][:200]
            out.append(f"- {r['detector']} / {r['dataset']} / seed {r['seed']}: `{err}`")
        out.append("")
    return out


def _plots(syn: pd.DataFrame, ad: pd.DataFrame, suite: str) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: plots skipped")
        return []
    IMG.mkdir(parents=True, exist_ok=True)
    links = []
    if not syn.empty:
        ok = syn[(syn["status"] == "ok") & (syn["method"] != "real_holdout")]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        markers = dict(zip(ok["dataset"].unique(), "osD^v", strict=False))
        colors = {m: f"C{i}" for i, m in enumerate(ok["method"].unique())}
        for ax, col, label in (
            (axes[0], "c2st_auc", "C2ST AUC (0.5 = indistinguishable)"),
            (axes[1], "trend_error_pct", "trend error %"),
        ):
            for _, r in ok.iterrows():
                ax.scatter(
                    max(r["fit_s"], 1e-2),
                    r[col],
                    color=colors[r["method"]],
                    marker=markers[r["dataset"]],
                    s=50,
                )
            floor = syn[syn["method"] == "real_holdout"]
            for _, r in floor.iterrows():
                ax.axhline(r[col], color="grey", lw=0.6, ls=":")
            ax.set_xscale("log")
            ax.set_xlabel("fit time (s, log)")
            ax.set_ylabel(label)
        for m, c in colors.items():
            axes[0].scatter([], [], color=c, label=m)
        for d, mk in markers.items():
            axes[0].scatter([], [], color="k", marker=mk, label=d)
        axes[0].legend(fontsize=7, loc="best")
        fig.suptitle(f"Synthesis quality vs fit time ({suite}; dotted: real-holdout noise floor)")
        fig.tight_layout()
        path = IMG / f"bench_{suite}_quality_vs_time.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        links.append(f"![quality vs fit time](img/{path.name})")
    if not ad.empty:
        t = _anomaly_tables(ad)["auroc"]
        if not t.empty:
            fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(t) + 3), 4.2))
            x = np.arange(len(t))
            for i, det in enumerate(t.columns):
                synthkit_det = det[0].islower()
                ax.scatter(
                    x + (i - len(t.columns) / 2) * 0.06,
                    t[det],
                    label=det,
                    marker="*" if synthkit_det else "o",
                    s=90 if synthkit_det else 30,
                )
            ax.set_xticks(x, t.index, rotation=30, ha="right")
            ax.set_ylabel("AUROC")
            ax.set_title(f"AUROC per dataset ({suite}; stars: synthkit backends)")
            ax.legend(fontsize=7, ncol=2, loc="lower left")
            fig.tight_layout()
            path = IMG / f"bench_{suite}_auroc.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            links.append(f"![AUROC per dataset](img/{path.name})")
    return links


_THROUGHPUT = (
    (
        "foundation_speed_cpu.csv",
        "Backend speed on Adult (32,561 rows)",
        "python -m benchmarks.foundation_speed --device cpu",
        "Targets: fit < 30 s with 10 components, sample 100k rows < 2 s, score 1M rows < 10 s. "
        "Best of 3; score/sample after a warm-up call.",
    ),
    (
        "scoring_job.csv",
        "Batch scoring job (synthkit score / synthkit.jobs.score_job)",
        "python -m benchmarks.scoring_job --rows 10000000",
        "Adult repeated to 10M rows in one Parquet file (1M-row row groups), scored with the "
        "saved gmm detector in a fresh process; peak RSS is that process's ru_maxrss. "
        "Targets: peak RSS < 2 GB, >= 500k rows/s.",
    ),
)


def _throughput_section(base: Path) -> list[str]:
    out: list[str] = []
    for name, title, command, note in _THROUGHPUT:
        if not (base / name).exists():
            continue
        df = pd.read_csv(base / name)
        out += [f"## {title}", "", f"- command: `{command}`", f"- {note}", "", _md_table(df), ""]
    return out


_NEURAL_COLUMNS = {
    "method": "method",
    "budget_s": "budget s",
    "fit_s": "fit s",
    "epochs": "SDV epochs",
    "shape_error_pct": "shape err %",
    "trend_error_pct": "trend err %",
    "tstr": "TSTR AUC",
    "trtr": "TRTR AUC",
    "c2st_auc": "C2ST AUC",
    "dcr_share": "DCR share",
    "sample_rows_per_s": "sample rows/s",
}


def _neural_section(base: Path) -> list[str]:
    """Same-budget runs (benchmarks.neural_budget) and held-out NLL (benchmarks.flow_nll)."""
    out: list[str] = []
    for path in sorted(base.glob("neural_budget_*.csv")):
        df = pd.read_csv(path)
        if df.empty:
            continue
        df = df[df["status"] == "ok"].drop_duplicates(["method", "budget_s"], keep="last")
        cols = [c for c in _NEURAL_COLUMNS if c in df.columns]
        table = df[cols].copy()
        for col in ("budget_s", "fit_s", "sample_rows_per_s", "epochs"):
            if col in table:
                table[col] = table[col].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        table = table.round(3).rename(columns=_NEURAL_COLUMNS)
        device = path.stem.split("_")[-1]
        cpu = df["cpu"].dropna().iloc[0] if "cpu" in df and df["cpu"].notna().any() else "?"
        out += [
            f"## Neural backends at the same wall-clock budget ({device}, Adult)",
            "",
            "- command: `python -m benchmarks.neural_budget --budget B --threads 2 --methods ...`"
            " (one method at a time, fresh process; see the module docstring)",
            f"- hardware: {cpu}, torch threads {int(df['threads'].iloc[0])}; the fixed Adult "
            "split (all 32,561 rows, 80/20, seed 0); metrics as in the suites above",
            "- synthkit backends stop on `time_budget`; SDV TVAE/CTGAN epochs are calibrated "
            "to the same budget (and re-run once with rescaled epochs when the calibrated fit "
            "missed the budget by more than -20/+10 %). gmm and GaussianCopula run to "
            "convergence (seconds).",
            "",
            _md_table(table),
            "",
        ]
    nll = base / "heldout_nll_cpu.csv"
    if nll.exists():
        out += [
            "## Held-out log-likelihood (exact-likelihood backends)",
            "",
            "- command: `python -m benchmarks.flow_nll --time-budget 180 --threads 2`",
            "- fixed 80/20 split (seed 0), all rows; NLL of the held-out rows in nats per row "
            "and bits per column (lower is better)",
            "",
            _md_table(pd.read_csv(nll)),
            "",
        ]
    return out


def write_report(output: str | Path | None = None, results_dir: Path | None = None) -> Path:
    """Write the Markdown report for every suite with results; returns its path."""
    base = results_dir or RESULTS_DIR
    out_path = Path(output) if output else DOCS / "benchmarks.md"
    lines = [
        "# synthkit benchmarks",
        "",
        "Generated by `python -m benchmarks report` from the CSVs in `benchmarks/results/` "
        f"({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC). Metric definitions: METRICS.md "
        "(shape/trend error, TSTR/TRTR with fixed untuned HistGradientBoosting, C2ST, DCR "
        "share, exact-copy rate; ADBench protocol). Run `python -m benchmarks run --suite "
        "quick` (about 10 min on 2 CPU cores) or `--suite full` (hours; resumable).",
        "",
    ]
    lines += NOTES
    any_results = False
    for suite in SUITES:
        syn = _load(base / f"{suite}_synthesis.csv", SYNTHESIS_KEY)
        ad = _load(base / f"{suite}_anomaly.csv", ANOMALY_KEY)
        if syn.empty and ad.empty:
            continue
        any_results = True
        info_path = base / f"{suite}_run.json"
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        env = info.get("environment") or environment()
        cfg = SUITES[suite]
        lines += [
            f"# Suite `{suite}`",
            "",
            f"- command: `{info.get('command', 'python -m benchmarks run --suite ' + suite)}`"
            f" (device {info.get('device', 'cpu')})",
            f"- run: started {info.get('started', '?')}, finished {info.get('finished', '?')}"
            + (f", last invocation {info['last_wall_s'] / 60:.1f} min wall-clock"
               if "last_wall_s" in info else ""),
            f"- hardware: {env.get('cpu')} ({env.get('cores')} cores, torch threads "
            f"{env.get('torch_threads')}), CUDA: {env.get('cuda')}",
            "- versions: " + ", ".join(f"{k} {v}" for k, v in env.items()
                                       if k not in ("cpu", "cores", "torch_threads", "cuda"))
            + ", " + ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()),
            f"- settings: synthesis tables subsampled to {cfg.synthesis_max_rows or 'all'} rows, "
            f"80/20 split (seed {cfg.split_seed}); SDV CTGAN {cfg.ctgan_epochs} epochs, "
            f"TVAE {cfg.tvae_epochs} epochs (fixed budgets, see benchmarks/_config.py); "
            f"anomaly seeds {cfg.seeds}.",
            "",
        ]  # fmt: skip
        hist = info.get("history", [])
        if len(hist) > 1:
            lines.append("- invocations (results are appended; reruns only fill missing keys):")
            lines += [
                f"  - {h['at']}: `{h['command']}`"
                + (f" ({h['wall_s'] / 60:.1f} min)" if "wall_s" in h else "")
                for h in hist
            ]
        lines.append("")
        lines += _plots(syn, ad, suite)
        lines.append("")
        if not syn.empty:
            lines += _synthesis_section(syn, suite)
        if not ad.empty:
            lines += _anomaly_section(ad, suite)
    neural = _neural_section(base)
    if neural:
        any_results = True
        lines += ["# Neural backends", "", *neural]
    throughput = _throughput_section(base)
    if throughput:
        any_results = True
        lines += ["# Throughput", "", *throughput]
    if not any_results:
        lines.append("No results yet: run `python -m benchmarks run --suite quick`.")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(lines).rstrip() + "\n")
    return out_path
