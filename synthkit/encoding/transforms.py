"""Per-column reversible transforms.

Each transform maps one column's plain values (see :func:`synthkit.schema.values.coerce_column`)
to a few encoded features and back, and knows the log-Jacobian of its continuous part, so a
backend's density in encoded space becomes a density of the original value
(as in ``torch.distributions.TransformedDistribution``).

* :class:`ContinuousTransform`: one float feature (quantile-to-normal or standardised), plus
  one discrete *state* feature when the column has nulls or spikes (values that carry a point
  mass, such as ``capital-gain == 0``). States: 0 = the float feature holds the value,
  then "null", then one state per spike. Integer columns are dequantised with uniform noise
  when fitting, so their density times the unit bin width approximates their pmf.
* :class:`CategoricalTransform`: one discrete feature. Codes are the kept categories, then
  "null" (if nullable), then one *other* code for rare categories (fewer than
  ``min_count`` rows, collapsed for fidelity and privacy) and categories never seen at fit
  time. The pmf within the other bucket (training frequencies) is part of the log-Jacobian.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

__all__ = ["CategoricalTransform", "ContinuousTransform", "transform_from_dict"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def _log_phi(z: np.ndarray) -> np.ndarray:
    return -0.5 * z * z - _LOG_SQRT_2PI


class ContinuousTransform:
    """Numeric, integer or datetime column <-> (float feature, optional state feature).

    Args:
        method: ``"quantile"`` (empirical CDF then the standard normal quantile; continuous
            outside the training range by linear extension in z) or ``"standard"``.
        integer: round on decode and dequantise when fitting.
        n_quantiles: knots of the empirical CDF.
        spike_threshold: a value with at least this share of the non-null rows is a spike.
        max_spikes: at most this many spikes.
        scale: the column's resolution: values are modelled in units of ``scale`` (datetimes
            in ns with a resolution of a day, say, are integers in days).
    """

    kind = "continuous"

    def __init__(
        self,
        method: str = "quantile",
        *,
        integer: bool = False,
        n_quantiles: int = 1000,
        spike_threshold: float = 0.02,
        max_spikes: int = 5,
        scale: float = 1.0,
    ) -> None:
        self.method = method
        self.integer = integer
        self.scale = scale
        self.n_quantiles = n_quantiles
        self.spike_threshold = spike_threshold
        self.max_spikes = max_spikes

    # ------------------------------------------------------------------ fit
    def fit(self, x: np.ndarray, nullable: bool, rng: np.random.Generator) -> np.ndarray:
        """Learn the transform from float values (NaN = null); returns the dequantised values."""
        self.nullable = bool(nullable)
        x = x / self.scale
        nonnull = x[~np.isnan(x)]
        self.min, self.max = float(nonnull.min()), float(nonnull.max())
        self.spikes = self._find_spikes(nonnull)
        regular = nonnull[~np.isin(nonnull, self.spikes)]
        if self.integer:
            regular = regular + rng.uniform(-0.5, 0.5, size=regular.shape)
        if self.method == "standard":
            self.mean = float(regular.mean())
            std = float(regular.std())
            self.std = std if std > 0 else 1.0
        else:
            self._fit_quantiles(regular)
        if self.integer:
            x = x.copy()
            is_regular = ~np.isnan(x) & ~np.isin(x, self.spikes)
            x[is_regular] = regular
        return x * self.scale

    def _find_spikes(self, nonnull: np.ndarray) -> list[float]:
        values, counts = np.unique(nonnull, return_counts=True)
        order = np.argsort(-counts, kind="stable")
        n = len(nonnull)
        # Keep enough regular rows (and two distinct values) for the continuous part.
        min_regular = max(10, int(0.01 * n))
        spikes: list[float] = []
        remaining, remaining_unique = n, len(values)
        for i in order[: self.max_spikes]:
            if counts[i] < self.spike_threshold * n:
                break
            if remaining - counts[i] < min_regular or remaining_unique - 1 < 2:
                break
            spikes.append(float(values[i]))
            remaining -= counts[i]
            remaining_unique -= 1
        return spikes

    def _fit_quantiles(self, regular: np.ndarray) -> None:
        n = len(regular)
        levels = np.linspace(0.0, 1.0, min(self.n_quantiles, n))
        knots = np.quantile(regular, levels)
        uniq, inverse = np.unique(knots, return_inverse=True)
        if len(uniq) < 2:
            v = float(uniq[0])
            uniq, lev = np.array([v - 0.5, v + 0.5]), np.array([0.0, 1.0])
        else:
            # Tied knots (a mass the spike rule did not catch) share their mean level.
            lev = np.bincount(inverse, weights=levels) / np.bincount(inverse)
            lev[0], lev[-1] = 0.0, 1.0
        eps = 0.5 / max(n, 2)
        self.knots = uniq
        self.levels = eps + (1.0 - 2.0 * eps) * lev
        self.z_knots = ndtri(self.levels)
        slopes = np.diff(self.levels) / np.diff(self.knots)
        # dz/dx at both ends, used to extend the map linearly outside the training range.
        self.dz_lo = float(slopes[0] / np.exp(_log_phi(self.z_knots[0])))
        self.dz_hi = float(slopes[-1] / np.exp(_log_phi(self.z_knots[-1])))
        self.log_slopes = np.log(slopes)

    # --------------------------------------------------------------- layout
    @property
    def n_states(self) -> int:
        """Number of states: regular, null (if nullable), one per spike."""
        return 1 + int(self.nullable) + len(self.spikes)

    @property
    def n_continuous(self) -> int:
        """Float features: one."""
        return 1

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """One state feature when there is more than one state."""
        return (self.n_states,) if self.n_states > 1 else ()

    # ----------------------------------------------------------- transform
    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Z and log|dz/dx| for regular (non-null, non-spike) values."""
        if self.method == "standard":
            return (x - self.mean) / self.std, np.full(x.shape, -np.log(self.std))
        k = self.knots
        z = np.empty_like(x)
        logj = np.empty_like(x)
        lo, hi = x < k[0], x > k[-1]
        mid = ~(lo | hi)
        xm = x[mid]
        seg = np.clip(np.searchsorted(k, xm, side="right") - 1, 0, len(k) - 2)
        u = np.interp(xm, k, self.levels)
        z[mid] = ndtri(u)
        logj[mid] = self.log_slopes[seg] - _log_phi(z[mid])
        z[lo] = self.z_knots[0] + (x[lo] - k[0]) * self.dz_lo
        logj[lo] = np.log(self.dz_lo)
        z[hi] = self.z_knots[-1] + (x[hi] - k[-1]) * self.dz_hi
        logj[hi] = np.log(self.dz_hi)
        return z, logj

    def _inverse(self, z: np.ndarray) -> np.ndarray:
        if self.method == "standard":
            return z * self.std + self.mean
        zk, k = self.z_knots, self.knots
        x = np.empty_like(z)
        lo, hi = z < zk[0], z > zk[-1]
        mid = ~(lo | hi)
        x[mid] = np.interp(ndtr(z[mid]), self.levels, k)
        x[lo] = k[0] + (z[lo] - zk[0]) / self.dz_lo
        x[hi] = k[-1] + (z[hi] - zk[-1]) / self.dz_hi
        return x

    def states(self, x: np.ndarray) -> np.ndarray:
        """State code per row: 0 regular, then null, then spikes."""
        state = np.zeros(len(x), dtype=np.int64)
        null = np.isnan(x)
        if self.nullable:
            state[null] = 1
        offset = 1 + int(self.nullable)
        for i, v in enumerate(self.spikes):
            state[x == v] = offset + i
        return state

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Encode float values (NaN for null; nulls must be allowed by ``nullable``).

        Returns:
            ``(z (n, 1), states (n, 0 or 1), observed (n, 1), log_jacobian (n,))``; ``z`` is
            0 where the row is not regular (null or spike).
        """
        x = x / self.scale
        state = self.states(x)
        regular = state == 0
        z = np.zeros(len(x))
        logj = np.zeros(len(x))
        z[regular], logj[regular] = self._forward(x[regular])
        disc = state[:, None] if self.n_states > 1 else np.zeros((len(x), 0), dtype=np.int64)
        return z[:, None], disc, regular[:, None], logj

    def decode(self, z: np.ndarray, disc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Float values (NaN = null) from encoded features."""
        x = self._inverse(z[:, 0].astype(np.float64))
        if self.integer:
            x = np.round(x)
        x = np.clip(x, self.min, self.max)
        if self.n_states > 1:
            state = disc[:, 0]
            if self.nullable:
                x[state == 1] = np.nan
            offset = 1 + int(self.nullable)
            for i, v in enumerate(self.spikes):
                x[state == offset + i] = v
        return x * self.scale

    # --------------------------------------------------------------- state
    def to_dict(self) -> dict[str, Any]:
        """JSON-able fitted state."""
        out: dict[str, Any] = {
            "type": "continuous",
            "method": self.method,
            "integer": self.integer,
            "n_quantiles": self.n_quantiles,
            "spike_threshold": self.spike_threshold,
            "max_spikes": self.max_spikes,
            "scale": self.scale,
            "nullable": self.nullable,
            "min": self.min,
            "max": self.max,
            "spikes": self.spikes,
        }
        if self.method == "standard":
            out |= {"mean": self.mean, "std": self.std}
        else:
            out |= {"knots": self.knots.tolist(), "levels": self.levels.tolist()}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ContinuousTransform:
        """Inverse of :meth:`to_dict`."""
        t = cls(
            d["method"],
            integer=d["integer"],
            n_quantiles=d["n_quantiles"],
            spike_threshold=d["spike_threshold"],
            max_spikes=d["max_spikes"],
            scale=d.get("scale", 1.0),
        )
        t.nullable, t.min, t.max, t.spikes = d["nullable"], d["min"], d["max"], d["spikes"]
        if t.method == "standard":
            t.mean, t.std = d["mean"], d["std"]
        else:
            t.knots = np.asarray(d["knots"], dtype=np.float64)
            t.levels = np.asarray(d["levels"], dtype=np.float64)
            t.z_knots = ndtri(t.levels)
            slopes = np.diff(t.levels) / np.diff(t.knots)
            t.dz_lo = float(slopes[0] / np.exp(_log_phi(t.z_knots[0])))
            t.dz_hi = float(slopes[-1] / np.exp(_log_phi(t.z_knots[-1])))
            t.log_slopes = np.log(slopes)
        return t


class CategoricalTransform:
    """Categorical, boolean or few-level integer column <-> one discrete feature.

    Args:
        categories: the schema's categories, in order.
        min_count: categories seen in fewer rows are collapsed into the *other* code.
    """

    kind = "categorical"

    def __init__(self, categories: list[Any], *, min_count: int = 5) -> None:
        self.categories = list(categories)
        self.min_count = min_count

    def fit(self, values: Any, nullable: bool, rng: np.random.Generator) -> None:
        """Count categories and decide which are kept and which go to the other bucket."""
        self.nullable = bool(nullable)
        codes = _lookup(values, self.categories)
        counts = np.bincount(codes[codes >= 0], minlength=len(self.categories))
        keep = counts >= self.min_count
        if not keep.any():  # every category is rare: keep them all rather than none
            keep = counts > 0
        self.kept = [c for c, k in zip(self.categories, keep, strict=True) if k]
        self.rare = [c for c, k in zip(self.categories, keep, strict=True) if not k]
        self.rare_counts = [int(n) for n, k in zip(counts, keep, strict=True) if not k]
        self.mode = self.categories[int(np.argmax(counts))]

    @property
    def null_code(self) -> int:
        """Code of a null value (when nullable)."""
        return len(self.kept)

    @property
    def other_code(self) -> int:
        """Code of the bucket for rare and unseen categories (always the last)."""
        return len(self.kept) + int(self.nullable)

    @property
    def n_continuous(self) -> int:
        """Float features: none."""
        return 0

    @property
    def cardinalities(self) -> tuple[int, ...]:
        """One feature: kept categories, null, other."""
        return (self.other_code + 1,)

    def encode(self, values: Any) -> tuple[np.ndarray, np.ndarray]:
        """Codes ``(n, 1)`` and the log-pmf within the other bucket ``(n,)``.

        Unseen categories (and nulls in a column that had none) get the other code and the
        probability of one unseen pseudo-value within it.
        """
        null = np.asarray(pd.isna(values), dtype=bool)
        codes = _lookup(values, self.kept)
        logp = np.zeros(len(values))
        other = (codes < 0) & ~(null & self.nullable)
        if self.nullable:
            codes[null] = self.null_code
        if other.any():
            codes[other] = self.other_code
            # Additive smoothing within the bucket, with one pseudo-slot for unseen values.
            counts = np.asarray(self.rare_counts, dtype=np.float64)
            denom = counts.sum() + 0.5 * (len(counts) + 1)
            rare_idx = _lookup(values[other], self.rare)
            num = np.zeros(len(rare_idx))
            seen = rare_idx >= 0
            num[seen] = counts[rare_idx[seen]]
            logp[other] = np.log((num + 0.5) / denom)
        return codes[:, None].astype(np.int64), logp

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Plain values (object array, None = null)."""
        c = codes[:, 0]
        lookup = np.empty(self.other_code + 1, dtype=object)
        lookup[: len(self.kept)] = self.kept
        if self.nullable:
            lookup[self.null_code] = None
        lookup[self.other_code] = self.mode
        out = lookup[np.clip(c, 0, self.other_code)]
        other = c == self.other_code
        if other.any() and self.rare:
            p = np.asarray(self.rare_counts, dtype=np.float64)
            choice = rng.choice(len(self.rare), size=int(other.sum()), p=p / p.sum())
            out[other] = np.asarray(self.rare, dtype=object)[choice]
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fitted state."""
        return {
            "type": "categorical",
            "categories": self.categories,
            "min_count": self.min_count,
            "nullable": self.nullable,
            "kept": self.kept,
            "rare": self.rare,
            "rare_counts": self.rare_counts,
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalTransform:
        """Inverse of :meth:`to_dict`."""
        t = cls(d["categories"], min_count=d["min_count"])
        t.nullable, t.kept, t.rare = d["nullable"], d["kept"], d["rare"]
        t.rare_counts, t.mode = d["rare_counts"], d["mode"]
        return t


def _lookup(values: Any, categories: list[Any]) -> np.ndarray:
    """Index of each value in ``categories``; -1 for nulls and values not in it."""
    if not categories:
        return np.full(len(values), -1, dtype=np.int64)
    if (
        isinstance(values, pd.Series)
        and isinstance(values.dtype, pd.StringDtype)
        and values.dtype.storage == "pyarrow"
        and all(isinstance(c, str) for c in categories)
    ):
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(values.array)
        found = pc.index_in(arr, value_set=pa.array(categories, type=arr.type))
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        index = pd.Index(np.asarray(categories, dtype=np.float64))
    else:
        index = pd.Index(np.asarray(categories, dtype=object), dtype=object)
    return index.get_indexer(np.asarray(values, dtype=index.dtype)).astype(np.int64)


_TRANSFORMS = {"continuous": ContinuousTransform, "categorical": CategoricalTransform}


def transform_from_dict(d: dict[str, Any]) -> ContinuousTransform | CategoricalTransform:
    """Rebuild a fitted transform from :meth:`to_dict` output."""
    return _TRANSFORMS[d["type"]].from_dict(d)
