"""Synthesizer: the scikit-learn style estimator users fit, sample from and score with."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from synthkit._device import make_generator, resolve_device, resolve_seed
from synthkit._validation import Interval, Options, validate_params
from synthkit.errors import ConfigError, DataValidationError, NotFittedError

__all__ = ["Synthesizer"]

_SAMPLE_CHUNK = 1 << 18


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    to_pandas = getattr(X, "to_pandas", None)  # pyarrow.Table, polars.DataFrame
    if to_pandas is not None:
        return to_pandas()
    raise DataValidationError(
        f"expected a pandas DataFrame or an Arrow table, got {type(X).__name__}"
    )


class Synthesizer(BaseEstimator):
    """Learn a table's distribution; sample synthetic rows; score rows by log-likelihood.

    Args:
        backend: a registered backend name (see :func:`synthkit.backends.available`) or a
            :class:`~synthkit.backends.base.Backend` instance.
        backend_params: hyper-parameters of a backend given by name.
        schema: column kind overrides, ``{"col": "categorical"}`` or
            ``{"col": {"kind": "categorical", "categories": [...], "ordered": True}}``.
        continuous_transform: ``"quantile"`` (to normal; default) or ``"standard"``.
        min_category_count: categories with fewer training rows are collapsed into one
            *other* code (sampled back by their frequency).
        max_discrete_levels: integer columns with at most this many values are categorical.
        max_spikes: per numeric column, at most this many values holding >= 2 % of the rows
            (e.g. ``capital-gain == 0``) become exact discrete states; 0 models every value
            as continuous.
        device: ``"auto"`` (CUDA, then MPS, then CPU) or a device name.
        random_state: seed for a deterministic fit (on CPU) and sample sequence.

    Attributes:
        schema_: the :class:`~synthkit.schema.TableSchema` used.
        encoder_: the fitted :class:`~synthkit.encoding.TableEncoder`.
        backend_: the fitted backend.
        device_: the device the model lives on.
        n_features_in_: number of columns seen in ``fit``.
        feature_names_in_: their names.

    Example:
        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(0)
        >>> df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
        >>> syn = Synthesizer(backend="gmm", backend_params={"n_components": 2},
        ...                   random_state=0).fit(df)
        >>> fake = syn.sample(5)
        >>> list(fake.columns), fake.shape
        (['x', 'c'], (5, 2))
        >>> syn.score_samples(df).shape
        (300,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "backend_params": [dict, None],
        "schema": [dict, None],
        "continuous_transform": [Options({"quantile", "standard"})],
        "min_category_count": [Interval(int, 1, None)],
        "max_discrete_levels": [Interval(int, 0, None)],
        "max_spikes": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        backend: Any = "gmm",
        backend_params: Mapping[str, Any] | None = None,
        *,
        schema: Mapping[str, Any] | None = None,
        continuous_transform: str = "quantile",
        min_category_count: int = 5,
        max_discrete_levels: int = 20,
        max_spikes: int = 5,
        device: Any = "auto",
        random_state: Any = None,
    ) -> None:
        self.backend = backend
        self.backend_params = backend_params
        self.schema = schema
        self.continuous_transform = continuous_transform
        self.min_category_count = min_category_count
        self.max_discrete_levels = max_discrete_levels
        self.max_spikes = max_spikes
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------- fit
    def _make_backend(self) -> Any:
        from sklearn.base import clone

        from synthkit.backends import make_backend
        from synthkit.backends.base import Backend

        if isinstance(self.backend, Backend):
            if self.backend_params:
                raise ConfigError(
                    "backend_params is only for a backend given by name; set the parameters "
                    "on the backend instance instead"
                )
            return clone(self.backend)
        if not isinstance(self.backend, str):
            raise ConfigError(
                f"backend must be a backend name or a Backend instance, got {self.backend!r}"
            )
        return make_backend(self.backend, dict(self.backend_params or {}))

    def fit(self, X: Any, y: Any = None, *, callbacks: Sequence[Any] | None = None) -> Synthesizer:
        """Fit the schema, the encoder and the backend to a table.

        Args:
            X: the training table (pandas DataFrame or Arrow table).
            y: ignored (scikit-learn convention).
            callbacks: progress callbacks (e.g. :class:`synthkit.callbacks.RichProgress`).

        Returns:
            self

        Raises:
            DataValidationError: the table is empty, has all-null columns, infinite values...
            SchemaError: a schema override does not fit the data.
            ConfigError: an invalid parameter (named in the message).
        """
        from synthkit.encoding import TableEncoder
        from synthkit.schema import infer_schema

        validate_params(self.get_params(deep=False), self._parameter_constraints, "Synthesizer")
        X = _as_frame(X)
        seed = resolve_seed(self.random_state)
        enc_seed, fit_seed, sample_seed = np.random.SeedSequence(seed).generate_state(3)
        backend = self._make_backend()
        device = resolve_device(self.device)
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # let schema warnings through once per fit
            schema = infer_schema(X, self.schema)
        encoder = TableEncoder(
            self.continuous_transform,
            min_category_count=self.min_category_count,
            max_discrete_levels=self.max_discrete_levels,
            max_spikes=self.max_spikes,
        )
        train = encoder.fit_transform(X, schema, np.random.default_rng(int(enc_seed)))
        backend.fit(
            train,
            encoder.layout_,
            device=device,
            generator=make_generator(int(fit_seed), device),
            callbacks=callbacks,
        )
        self.schema_ = schema
        self.encoder_ = encoder
        self.backend_ = backend
        self.device_ = device
        self.seed_ = seed
        self._sample_generator = make_generator(int(sample_seed), device)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "backend_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "backend_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(df) first"
            )

    # ---------------------------------------------------------------- sample
    def sample(
        self,
        n: int | None = None,
        *,
        conditions: Mapping[str, Any] | pd.DataFrame | None = None,
        random_state: Any = None,
    ) -> pd.DataFrame:
        """Draw ``n`` synthetic rows with the training table's columns and dtypes.

        Args:
            n: number of rows (> 0); may be left out when ``conditions`` is a DataFrame.
            conditions: known values the rows must have. A mapping ``{"sex": "Female"}``
                fixes those columns in every row; a DataFrame gives per-row conditions (one
                row per sampled row, a null cell meaning "not given"). The model samples the
                other columns from its conditional distribution (no rejection sampling);
                see ``supports_conditions`` on the backend.
            random_state: seed for this call only; ``None`` continues the model's own random
                sequence (seeded by ``random_state`` at fit), so consecutive calls differ but
                the sequence is reproducible.

        Returns:
            A DataFrame with the same columns (order, dtypes, categories) as the training data.

        Raises:
            DataValidationError: impossible conditions (unknown column, unseen category, a
                value outside the training range), all listed.
            BackendError: the backend cannot sample conditionally.
        """
        self._check_fitted()
        cond_frame = self._condition_frame(n, conditions)
        if cond_frame is not None:
            n = len(cond_frame)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ConfigError(f"n must be a positive integer number of rows, got {n!r}")
        cond = None if cond_frame is None else self.encoder_.encode_conditions(cond_frame)
        gen = (
            self._sample_generator
            if random_state is None
            else make_generator(resolve_seed(random_state), self.device_)
        )
        import torch

        parts = []
        for start in range(0, int(n), _SAMPLE_CHUNK):
            size = min(_SAMPLE_CHUNK, int(n) - start)
            part_cond = None if cond is None else cond.rows(slice(start, start + size))
            table = self.backend_.sample(size, generator=gen, conditions=part_cond)
            decode_seed = int(torch.randint(2**62, (1,), generator=gen, device=gen.device))
            rng = np.random.default_rng(decode_seed)
            parts.append(self.encoder_.inverse_transform(table, rng, first_row=start))
        out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
        if cond_frame is not None:
            _overwrite_known(out, cond_frame)
        return out

    def impute(self, X: Any, *, random_state: Any = None) -> pd.DataFrame:
        """Fill the null cells of ``X`` with draws from the model given each row's other cells.

        Every non-null cell is kept as it is, and the nulls of each row are sampled jointly
        from the model's conditional distribution given that row's known cells (exactly, with
        backends that have ``supports_conditions``). In a column that had nulls at fit time the
        model may draw "null" again, as often as it finds a null likely given the rest.

        Args:
            X: rows with missing cells (any subset of the training columns may be null).
            random_state: seed for this call (``None`` continues the model's sequence).

        Returns:
            A copy of ``X`` (same index and columns) with the null cells filled.
        """
        self._check_fitted()
        frame = _as_frame(X)
        modeled = [g.name for g in self.encoder_.layout_.groups if g.name in frame.columns]
        filled = self.sample(
            conditions=frame[modeled].reset_index(drop=True), random_state=random_state
        )
        out = frame.copy()
        for col in modeled:
            out[col] = filled[col].to_numpy() if len(out) else out[col]
            out[col] = out[col].astype(filled[col].dtype)
        return out

    def _condition_frame(
        self, n: int | None, conditions: Mapping[str, Any] | pd.DataFrame | None
    ) -> pd.DataFrame | None:
        if conditions is None:
            return None
        if isinstance(conditions, pd.DataFrame):
            if n is not None and n != len(conditions):
                raise ConfigError(
                    f"n={n} but the conditions frame has {len(conditions)} rows; leave n out "
                    "to draw one row per condition row"
                )
            if len(conditions) == 0:
                raise ConfigError("the conditions frame has no rows")
            return conditions.reset_index(drop=True)
        if not isinstance(conditions, Mapping):
            raise ConfigError(
                f"conditions must be a mapping or a DataFrame, got {type(conditions).__name__}"
            )
        if n is None:
            raise ConfigError("give n, the number of rows to draw with these conditions")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ConfigError(f"n must be a positive integer number of rows, got {n!r}")
        frame = {}
        for col, value in conditions.items():
            if not np.isscalar(value) and value is not None:
                raise ConfigError(
                    f"condition {col!r} must be one value (use a DataFrame for per-row values)"
                )
            if value is None or (isinstance(value, float) and np.isnan(value)):
                raise ConfigError(f"condition {col!r} is null; give a value or leave it out")
            frame[col] = pd.Series([value] * int(n))
        return pd.DataFrame(frame)

    # ----------------------------------------------------------------- score
    def _encode(self, X: Any) -> tuple[Any, np.ndarray]:
        self._check_fitted()
        return self.encoder_.transform(_as_frame(X))

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-likelihood of each row of ``X`` in the original data space.

        Continuous columns contribute a log-density (per unit of the column), discrete parts
        (categories, nulls, spikes) a log-probability. Integer columns with many values are
        dequantised: density times unit width ~ pmf; datetimes likewise at their resolution
        (a date-only column scores the probability of the day). Higher means more normal.
        Unseen categories are scored as a rare value of the *other* bucket.

        Returns:
            float64 array of shape ``(n,)``.

        Raises:
            DataValidationError: missing columns or values of the wrong type (all listed).
            BackendError: the backend has no likelihood.
        """
        table, logj = self._encode(X)
        return self._scores(table, logj)

    def _scores(self, table: Any, logj: np.ndarray, normality: bool = False) -> np.ndarray:
        # ``normality``: a backend without a likelihood (a GAN) gives its own score instead
        # (higher = more normal, no Jacobian: it is not a density). Anomaly detection only.
        if normality and not self.backend_.has_log_prob:
            return self.backend_.normality(table).detach().cpu().numpy().astype(np.float64)
        lp = self.backend_.log_prob(table).detach().cpu().numpy().astype(np.float64)
        return lp + logj.sum(axis=1)

    def normality_scores(self, X: Any) -> np.ndarray:
        """Scores for anomaly ranking, higher = more normal.

        :meth:`score_samples` where the backend has a likelihood, else the backend's own
        normality score (a GAN's critic). Only the likelihood is comparable across models.
        """
        table, logj = self._encode(X)
        return self._scores(table, logj, normality=True)

    def score_rows(
        self, X: Any, *, normality: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Score what can be scored; say why for the rest (for batch jobs).

        Returns:
            ``(scores, reasons)``: log-likelihoods with NaN for rows that cannot be scored
            (a value of the wrong type, an infinite value, a null in a numeric column that had
            none at fit time), and ``reasons``: ``None`` when every row was scored, else an
            object array with ``None`` for scored rows and the reason, naming the column, for
            the others.

        Args:
            X: the rows.
            normality: score with :meth:`normality_scores` (anomaly jobs) instead of the
                log-likelihood.

        Raises:
            DataValidationError: the frame itself is unusable (missing columns, no rows).
        """
        self._check_fitted()
        table, logj, reasons = self.encoder_.transform_rows(_as_frame(X))
        if reasons is None:
            return self._scores(table, logj, normality), None
        import torch

        good = np.equal(reasons, None)
        scores = np.full(len(reasons), np.nan)
        scores[good] = self._scores(table.rows(torch.from_numpy(good)), logj[good], normality)
        return scores, reasons

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood per row (higher is better), scikit-learn's ``score``."""
        return float(np.mean(self.score_samples(X)))

    def explain(self, X: Any) -> pd.DataFrame:
        """Per modelled column, ``log p(x_col | rest of the row)`` in original units.

        The lowest values mark the cells that are the most surprising given the rest of the
        row.

        Returns:
            DataFrame with one column per modelled column, indexed like ``X``.

        Raises:
            BackendError: the backend cannot compute per-column terms.
        """
        frame = _as_frame(X)
        table, logj = self._encode(frame)
        terms = self.backend_.column_log_prob(table).detach().cpu().numpy().astype(np.float64)
        names = [g.name for g in self.encoder_.layout_.groups]
        return pd.DataFrame(terms + logj, columns=names, index=frame.index)

    # ------------------------------------------------------------------ save
    def save(self, path: Any, *, overwrite: bool = False) -> None:
        """Save to a directory: ``synthkit.json`` + ``weights.safetensors`` (no pickle).

        Load it back with :func:`synthkit.load`.
        """
        from synthkit.persistence import save_model

        save_model(self, path, overwrite=overwrite)


def _overwrite_known(out: pd.DataFrame, cond: pd.DataFrame) -> None:
    """Put the given values in the sampled frame exactly.

    The model saw them encoded; rare categories or float32 storage would otherwise blur them.
    """
    for col in cond.columns:
        given = cond[col].notna().to_numpy()
        if not given.any():
            continue
        values = cond[col].to_numpy(dtype=object)
        merged = out[col].astype(object).to_numpy(copy=True)
        merged[given] = values[given]
        out[col] = pd.Series(merged, index=out.index).astype(out[col].dtype)
