"""TableEncoder: the one place that knows about pandas and column kinds.

``DataFrame -> EncodedTable (+ log-Jacobian) -> DataFrame``, reversible: decoding restores
column order, dtypes, categories (and their order), null rates, integer-ness and bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthkit.encoding.layout import ColumnGroup, Conditions, EncodedTable, FeatureLayout
from synthkit.encoding.transforms import (
    CategoricalTransform,
    ContinuousTransform,
    _lookup,
    transform_from_dict,
)
from synthkit.errors import DataValidationError
from synthkit.schema import ColumnSchema, TableSchema, check_frame
from synthkit.schema.values import Problems, coerce_column, coerce_rows, problem_messages

__all__ = ["TableEncoder"]


class TableEncoder:
    """Encode a table for a backend and decode samples back.

    Args:
        continuous: ``"quantile"`` (default) or ``"standard"`` transform for continuous columns.
        min_category_count: categories with fewer training rows go to an *other* bucket.
        max_discrete_levels: integer columns with at most this many distinct values are
            modelled as categories (exact pmf, exact values on decode).
        spike_threshold: share of rows above which a single numeric value is a spike.
        max_spikes: spikes per numeric column.
        n_quantiles: knots of the quantile transform.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from synthkit.schema import infer_schema
        >>> df = pd.DataFrame({"x": np.arange(50.0) ** 2, "c": ["a", "b"] * 25})
        >>> enc = TableEncoder().fit(df, infer_schema(df), np.random.default_rng(0))
        >>> table, logj = enc.transform(df)
        >>> enc.layout_.n_continuous, enc.layout_.cardinalities
        (1, (3,))
        >>> back = enc.inverse_transform(table, np.random.default_rng(0))
        >>> bool(np.allclose(back["x"], df["x"])), bool((back["c"] == df["c"]).all())
        (True, True)
    """

    def __init__(
        self,
        continuous: str = "quantile",
        *,
        min_category_count: int = 5,
        max_discrete_levels: int = 20,
        spike_threshold: float = 0.02,
        max_spikes: int = 5,
        n_quantiles: int = 1000,
    ) -> None:
        self.continuous = continuous
        self.min_category_count = min_category_count
        self.max_discrete_levels = max_discrete_levels
        self.spike_threshold = spike_threshold
        self.max_spikes = max_spikes
        self.n_quantiles = n_quantiles

    def _make_transform(self, col: ColumnSchema, x: np.ndarray) -> Any:
        if col.kind in ("categorical", "boolean"):
            return CategoricalTransform(col.categories or [], min_count=self.min_category_count)
        if col.kind == "integer":
            levels = np.unique(x[~np.isnan(x)])
            if len(levels) <= self.max_discrete_levels:
                return CategoricalTransform(
                    [int(v) for v in levels], min_count=self.min_category_count
                )
        scale = _datetime_resolution(x) if col.kind == "datetime" else 1.0
        return ContinuousTransform(
            self.continuous,
            integer=col.kind in ("integer", "datetime"),
            scale=scale,
            n_quantiles=self.n_quantiles,
            spike_threshold=self.spike_threshold,
            max_spikes=self.max_spikes,
        )

    def fit_transform(
        self, df: pd.DataFrame, schema: TableSchema, rng: np.random.Generator
    ) -> EncodedTable:
        """Fit on the training table and encode it for training.

        Integers are dequantised and unobserved continuous entries hold random regular values
        (so the placeholders do not form a spike of their own).

        Returns:
            The encoded training table (on the CPU).
        """
        self.schema_ = schema
        self.transforms_: dict[str, Any] = {}
        cont, disc, obs = [], [], []
        for col in schema.modeled:
            values = coerce_column(df[col.name], col)
            if col.kind in ("numeric", "integer", "datetime"):
                t = self._make_transform(col, values)
            else:
                t = self._make_transform(col, np.zeros(0))
            self.transforms_[col.name] = t
            if isinstance(t, ContinuousTransform):
                z, states, regular, _ = t.encode(t.fit(values, col.nullable, rng))
                hole = ~regular[:, 0]
                if hole.any():
                    # Placeholders follow the regular values, so they never form a spike.
                    z[hole, 0] = rng.choice(z[~hole, 0], size=int(hole.sum()))
                cont.append(z)
                disc.append(states)
                obs.append(regular)
            else:
                t.fit(values, col.nullable, rng)
                codes, _ = t.encode(values)
                disc.append(codes)
        self.layout_ = self._build_layout()
        return self._stack(cont, disc, obs, len(df))

    def _build_layout(self) -> FeatureLayout:
        groups, n_cont, cards = [], 0, []
        for name, t in self.transforms_.items():
            c_idx = tuple(range(n_cont, n_cont + t.n_continuous))
            d_idx = tuple(range(len(cards), len(cards) + len(t.cardinalities)))
            n_cont += t.n_continuous
            cards.extend(t.cardinalities)
            groups.append(ColumnGroup(name, c_idx, d_idx))
        return FeatureLayout(n_cont, tuple(cards), tuple(groups))

    @staticmethod
    def _stack(cont: list, disc: list, obs: list, n: int) -> EncodedTable:
        import torch

        def cat(parts: list, dtype: Any) -> np.ndarray:
            parts = [p for p in parts if p.shape[1]]
            return np.concatenate(parts, axis=1).astype(dtype) if parts else np.zeros((n, 0), dtype)

        return EncodedTable(
            torch.from_numpy(cat(cont, np.float32)),
            torch.from_numpy(cat(disc, np.int64)),
            torch.from_numpy(cat(obs, np.bool_)),
        )

    def transform(self, df: Any) -> tuple[EncodedTable, np.ndarray]:
        """Encode rows to score them.

        Returns:
            ``(encoded table, log_jacobian)`` where ``log_jacobian`` has shape
            ``(n, n_modelled_columns)``: its row sum added to the backend's log-density in
            encoded space gives the log-density of the original row; its columns turn
            per-column conditional terms into original units.

        Raises:
            DataValidationError: missing columns, values of the wrong type, infinite values, or
                nulls in a numeric column that had none at fit time (every problem listed).
        """
        table, logj, problems = self._transform(df)
        if problems:
            raise DataValidationError(problem_messages(problems))
        return table, logj

    def transform_rows(self, df: Any) -> tuple[EncodedTable, np.ndarray, np.ndarray | None]:
        """Encode rows, marking those that cannot be encoded instead of raising.

        Returns:
            ``(encoded table, log_jacobian, reasons)``: ``reasons`` is ``None`` when every row
            is good, else an object array with ``None`` for good rows and, for bad ones, the
            problems of that row, each naming its column (wrong type, infinite, or null in a
            numeric column that had no nulls at fit time). The encodings of bad rows are
            placeholders: drop them before scoring.

        Raises:
            DataValidationError: the frame itself is unusable (missing columns, no rows).
        """
        table, logj, problems = self._transform(df)
        if not problems:
            return table, logj, None  # the common case: no per-row work at all
        masks = np.stack([rows for rows, _ in problems], axis=1)
        messages = [msg for _, msg in problems]
        bad = masks.any(axis=1)
        reasons = np.full(len(bad), None, dtype=object)
        # One joined message per distinct combination of problems, not one per row.
        patterns, inverse = np.unique(masks[bad], axis=0, return_inverse=True)
        joined = np.array(
            ["; ".join(m for m, on in zip(messages, p, strict=True) if on) for p in patterns],
            dtype=object,
        )
        reasons[bad] = joined[inverse.reshape(-1)]
        return table, logj, reasons

    def _transform(self, df: Any) -> tuple[EncodedTable, np.ndarray, Problems]:
        """Encode every row; returns the problems found as ``(rows, message)`` pairs."""
        df = check_frame(df, self.schema_)
        n = len(df)
        modeled = self.schema_.modeled
        cont, disc, obs = [], [], []
        logj = np.zeros((n, len(modeled)))
        problems: Problems = []
        for i, col in enumerate(modeled):
            t = self.transforms_[col.name]
            values, col_problems = coerce_rows(df[col.name], col)
            if isinstance(t, ContinuousTransform):
                bad = np.zeros(n, dtype=bool)
                for rows, _ in col_problems:
                    bad |= rows
                null = np.isnan(values) & ~bad
                if null.any() and not t.nullable:
                    col_problems.append(
                        (
                            null,
                            f"column {col.name!r}: null, but the column had no nulls when "
                            "the model was fitted (fill it, drop the row, or refit with nulls)",
                        )
                    )
                    bad |= null
                if bad.any():
                    values = np.where(bad, t.min * t.scale, values)  # any valid placeholder
                z, states, regular, lj = t.encode(values)
                cont.append(z)
                disc.append(states)
                obs.append(regular)
                logj[:, i] = lj
            else:
                codes, lp = t.encode(values)
                disc.append(codes)
                logj[:, i] = lp
            problems.extend(p for p in col_problems if p[0].any())
        return self._stack(cont, disc, obs, n), logj, problems

    def encode_conditions(self, frame: pd.DataFrame) -> Conditions:
        """Encode known cells for conditional sampling.

        ``frame`` has one row per row to sample and a subset of the modelled columns; a null
        cell means "not given" (that column is sampled for that row).

        Raises:
            DataValidationError: an unknown or unmodelled column, a value of the wrong type, a
                category never seen in training, or a number outside the training range:
                conditions the model cannot satisfy (all problems listed).
        """
        import torch

        names = {g.name for g in self.layout_.groups}
        problems = [
            f"column {c!r} cannot be a condition: "
            + ("it is not modelled (id, constant or dropped)" if c in self.schema_ else
               f"no such column (known: {sorted(names)})")
            for c in frame.columns
            if c not in names
        ]
        n = len(frame)
        cont = np.zeros((n, self.layout_.n_continuous), dtype=np.float32)
        disc = np.zeros((n, self.layout_.n_discrete), dtype=np.int64)
        obs = np.ones((n, self.layout_.n_continuous), dtype=bool)
        known = np.zeros((n, len(self.layout_.groups)), dtype=bool)
        for gi, g in enumerate(self.layout_.groups):
            if g.name not in frame.columns:
                continue
            col, t = self.schema_[g.name], self.transforms_[g.name]
            values, col_problems = coerce_rows(frame[g.name], col)
            problems += problem_messages(col_problems)
            given = ~np.asarray(pd.isna(values), dtype=bool)
            if isinstance(t, ContinuousTransform):
                v = np.asarray(values, dtype=np.float64)
                lo, hi = t.min * t.scale, t.max * t.scale
                out = given & ((v < lo) | (v > hi))
                if out.any():
                    problems.append(
                        f"column {g.name!r}: {int(out.sum())} condition values outside the "
                        f"training range [{lo:g}, {hi:g}]"
                    )
                z, states, regular, _ = t.encode(np.where(given, v, t.min * t.scale))
                cont[:, list(g.continuous)] = z
                obs[:, list(g.continuous)] = regular
                disc[:, list(g.discrete)] = states
            else:
                codes = _lookup(values, t.categories)
                unseen = given & (codes < 0)
                if unseen.any():
                    bad = sorted({str(x) for x in np.asarray(values, dtype=object)[unseen]})[:5]
                    problems.append(
                        f"column {g.name!r}: condition values never seen in training: {bad} "
                        f"(known: {[str(c) for c in t.categories][:20]})"
                    )
                disc[:, list(g.discrete)] = t.encode(values)[0]
            known[:, gi] = given
        if problems:
            raise DataValidationError(problems, prefix="impossible conditions")
        table = EncodedTable(torch.from_numpy(cont), torch.from_numpy(disc), torch.from_numpy(obs))
        return Conditions(table, torch.from_numpy(known))

    def inverse_transform(
        self, table: EncodedTable, rng: np.random.Generator, *, first_row: int = 0
    ) -> pd.DataFrame:
        """Decode an encoded table to a DataFrame with the original columns and dtypes.

        Id columns are regenerated as fresh unique values (numbered from ``first_row``, so
        chunks decoded separately stay unique together), constant columns reproduced and
        dropped columns left out.
        """
        cont = table.continuous.detach().cpu().numpy().astype(np.float64)
        disc = table.discrete.detach().cpu().numpy()
        n = cont.shape[0]
        out: dict[str, Any] = {}
        decoded = {}
        for g in self.layout_.groups:
            t = self.transforms_[g.name]
            if isinstance(t, ContinuousTransform):
                decoded[g.name] = t.decode(
                    cont[:, list(g.continuous)], disc[:, list(g.discrete)], rng
                )
            else:
                decoded[g.name] = t.decode(disc[:, list(g.discrete)], rng)
        for col in self.schema_.columns:
            if col.kind == "drop":
                continue
            if col.kind == "id":
                out[col.name] = _regenerate_ids(col, n, first_row)
            elif col.kind == "constant":
                out[col.name] = _restore(col, np.full(n, col.constant, dtype=object))
            else:
                scale = getattr(self.transforms_[col.name], "scale", 1.0)
                out[col.name] = _restore(col, decoded[col.name], resolution=scale)
        return pd.DataFrame(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fitted state (parameters and every column transform)."""
        return {
            "params": {
                "continuous": self.continuous,
                "min_category_count": self.min_category_count,
                "max_discrete_levels": self.max_discrete_levels,
                "spike_threshold": self.spike_threshold,
                "max_spikes": self.max_spikes,
                "n_quantiles": self.n_quantiles,
            },
            "transforms": {name: t.to_dict() for name, t in self.transforms_.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], schema: TableSchema) -> TableEncoder:
        """Rebuild a fitted encoder from :meth:`to_dict` output and its schema."""
        enc = cls(**data["params"])
        enc.schema_ = schema
        enc.transforms_ = {k: transform_from_dict(v) for k, v in data["transforms"].items()}
        enc.layout_ = enc._build_layout()
        return enc


# Datetime resolutions tried, coarsest first: a day, an hour, a minute, a second, ms, us, ns.
_RESOLUTIONS_NS = (86_400e9, 3_600e9, 60e9, 1e9, 1e6, 1e3, 1.0)


def _datetime_resolution(ns: np.ndarray) -> float:
    """The coarsest unit every timestamp is a whole multiple of, so decoding keeps it.

    float64 holds recent timestamps in ns only to ~256 ns, hence the tolerance.
    """
    values = ns[~np.isnan(ns)]
    for res in _RESOLUTIONS_NS:
        units = values / res
        if np.all(np.abs(units - np.round(units)) < 1e-3):
            return res
    return 1.0


def _regenerate_ids(col: ColumnSchema, n: int, first: int = 0) -> pd.Series:
    """Fresh unique ids ``first .. first + n - 1`` (numbers, or ``synthetic-{i}`` text)."""
    if "int" in col.dtype.lower() or "float" in col.dtype.lower():
        return pd.Series(np.arange(first, first + n), dtype=col.dtype)
    ids = [f"synthetic-{i}" for i in range(first, first + n)]
    return pd.Series(ids, dtype=_pandas_dtype(col.dtype))


def _pandas_dtype(dtype: str) -> Any:
    try:
        return pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return object


def _restore(col: ColumnSchema, values: np.ndarray, resolution: float = 1.0) -> pd.Series:
    """A Series with the column's original dtype from decoded plain values."""
    dtype = col.dtype
    if col.kind == "datetime":
        ns = np.asarray(values, dtype=np.float64)
        null = np.isnan(ns)
        # Whole units times the resolution in int64: float64 cannot hold recent ns exactly.
        units = np.round(np.where(null, 0, ns) / resolution).astype(np.int64)
        ts = pd.to_datetime(units * np.int64(resolution), unit="ns")
        s = pd.Series(ts).mask(null)
        if col.tz:
            s = s.dt.tz_localize("UTC").dt.tz_convert(col.tz)
        try:
            return s.astype(dtype)
        except (TypeError, ValueError):
            return s
    if col.kind in ("numeric", "integer") or (col.kind == "constant" and _is_numeric(dtype)):
        x = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("float64")
        if x.isna().any() and dtype.startswith(("int", "uint")):
            return x  # nulls in a plain int column cannot be held: stay float
        return x.astype(_pandas_dtype(dtype))
    if dtype == "category" or col.ordered:
        return pd.Series(pd.Categorical(values, categories=col.categories, ordered=col.ordered))
    if dtype == "bool":
        return pd.Series(values, dtype=object).astype(bool)
    return pd.Series(values, dtype=_pandas_dtype(dtype))


def _is_numeric(dtype: str) -> bool:
    return dtype.startswith(("int", "uint", "float", "Int", "UInt", "Float"))
