"""The ``synthkit`` MLflow model flavor: save_model, log_model, load_model.

A saved MLflow model is a directory with two flavors in its ``MLmodel`` file::

    MLmodel                      flavors: synthkit (estimator, model_dir, versions)
                                          python_function (models from code)
    _pyfunc_model.py             the code file MLflow executes on pyfunc load (set_model)
    artifacts/synthkit_model/    the synthkit model: synthkit.json + weights.safetensors
    requirements.txt python_env.yaml conda.yaml

``load_model`` (synthkit flavor) returns the estimator itself; ``mlflow.pyfunc.load_model``
returns a wrapper whose ``predict`` scores rows (or samples with ``params``). The wrapper is
logged as "models from code" (``python_model`` is a file path), so the model holds no
``python_model.pkl`` and loading it executes no pickled code.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthkit.tracking._runs import import_mlflow

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FLAVOR_NAME",
    "get_default_pip_requirements",
    "infer_model_signature",
    "load_model",
    "log_model",
    "save_model",
]

FLAVOR_NAME = "synthkit"
_CODE_FILE = Path(__file__).with_name("_pyfunc_model.py")
#: Rows of the training frame (or of a synthetic sample) used to infer the input schema.
_SIGNATURE_ROWS = 200


def get_default_pip_requirements() -> list[str]:
    """Requirements of a logged synthkit model.

    torch is given as a lower bound, not the local build (``2.13.0+cpu`` would pin a CPU
    wheel on a GPU server); mlflow itself is added by MLflow.
    """
    from synthkit._version import __version__

    return [
        f"synthkit=={__version__}",
        "torch>=2.4",
        "numpy>=1.24",
        "pandas>=2.0",
        "pyarrow>=14",
        "scikit-learn>=1.3",
        "safetensors>=0.4",
    ]


def _estimator_kind(model: Any) -> str:
    from synthkit.anomaly import AnomalyDetector
    from synthkit.synthesizer import Synthesizer

    if isinstance(model, AnomalyDetector):
        return "AnomalyDetector"
    if isinstance(model, Synthesizer):
        return "Synthesizer"
    raise TypeError(
        f"expected a fitted synthkit Synthesizer or AnomalyDetector, got {type(model).__name__}"
    )


def _synthetic_rows(model: Any, n: int) -> pd.DataFrame:
    """``n`` rows drawn from the model with a fixed seed (its own sampling state is kept)."""
    syn = getattr(model, "synthesizer_", model)
    return syn.sample(n, random_state=0)


def infer_model_signature(model: Any, training_data: pd.DataFrame | None = None) -> Any:
    """The pyfunc signature: input columns/dtypes, score output, mode/n/seed params.

    Args:
        model: a fitted synthkit estimator.
        training_data: the training table, or rows with its columns and dtypes (only the
            first 200 are read). ``None``: synthetic rows drawn from the model (same columns
            and dtypes; columns with nulls may then look null-free).

    Returns:
        An :class:`mlflow.models.ModelSignature`.
    """
    import numpy as np
    import pandas as pd

    import_mlflow()
    from mlflow.models import infer_signature

    kind = _estimator_kind(model)
    if training_data is None:
        training_data = _synthetic_rows(model, _SIGNATURE_ROWS)
    example = _schema_friendly(training_data.head(_SIGNATURE_ROWS))
    output = pd.DataFrame({"score": np.zeros(len(example), dtype=np.float64)})
    if kind == "AnomalyDetector":
        output["is_anomaly"] = np.zeros(len(example), dtype=bool)
    # seed -1 = "not seeded": a param needs a typed default, and None has no type.
    params = {"mode": "score", "n": 1000, "seed": -1}
    with warnings.catch_warnings():
        # MLflow's "integer columns cannot hold missing values" hint: the rule is documented
        # in docs/tracking.md, and the CLI would print it on every fit.
        warnings.filterwarnings("ignore", message=r".*[Ii]nteger column", category=UserWarning)
        return infer_signature(example, output, params=params)


def _schema_friendly(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose dtypes every MLflow version infers: extension strings become object.

    pandas 3's default ``str`` dtype and ``string[pyarrow]`` are inferred as "string" by
    recent MLflow only; object columns holding str are inferred as "string" everywhere.
    Integer columns are left alone: MLflow casts neither int64 to double nor float to long,
    so a column is "long" when the example has no nulls in it, "double" when it has (as
    pandas stores an integer column with nulls); pass the training frame as the example.
    """
    import pandas as pd

    out = df.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.StringDtype):
            out[name] = out[name].astype(object)
    return out


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    mlflow_model: Any = None,
    signature: Any = None,
    training_data: pd.DataFrame | None = None,
    pip_requirements: list[str] | str | None = None,
    extra_pip_requirements: list[str] | str | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Save a fitted synthkit estimator as an MLflow model directory (synthkit + pyfunc).

    The input example stored with the model is 5 synthetic rows drawn from it, never real
    rows: a logged model can be shared without exposing training data.

    Args:
        model: a fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.
        path: the directory to create (must not exist, as for every MLflow flavor).
        mlflow_model: the :class:`mlflow.models.Model` being built (set by ``log_model``).
        signature: the model signature; ``None`` infers it (:func:`infer_model_signature`).
        training_data: the training table, to infer the signature's input schema from.
        pip_requirements: replaces :func:`get_default_pip_requirements`.
        extra_pip_requirements: added to the default requirements.
        metadata: free-form metadata stored in ``MLmodel``.
    """
    mlflow = import_mlflow()
    from mlflow.models import Model

    from synthkit._version import __version__
    from synthkit.tracking._pyfunc import ARTIFACT_KEY

    kind = _estimator_kind(model)
    if signature is None:
        signature = infer_model_signature(model, training_data)
    if pip_requirements is None and extra_pip_requirements is None:
        # Given explicitly, so MLflow does not infer them by loading the model in a
        # subprocess (slow) and pinning the local torch build.
        pip_requirements = get_default_pip_requirements()
    if mlflow_model is None:
        mlflow_model = Model()
    with tempfile.TemporaryDirectory(prefix="synthkit-mlflow-") as tmp:
        model_dir = Path(tmp) / ARTIFACT_KEY
        model.save(model_dir)
        mlflow_model.add_flavor(
            FLAVOR_NAME,
            synthkit_version=__version__,
            estimator=kind,
            backend=str(_backend_name(model)),
            model_dir=f"artifacts/{ARTIFACT_KEY}",
        )
        mlflow.pyfunc.save_model(
            path=os.fspath(path),
            python_model=str(_CODE_FILE),
            artifacts={ARTIFACT_KEY: str(model_dir)},
            mlflow_model=mlflow_model,
            signature=signature,
            input_example=_example_rows(_synthetic_rows(model, 5)),
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
        )
    # pyfunc chose where the artifact went; record that exact path in the synthkit flavor.
    saved = mlflow_model.flavors["python_function"].get("artifacts", {}).get(ARTIFACT_KEY, {})
    relative = saved.get("path")
    if relative and relative != mlflow_model.flavors[FLAVOR_NAME]["model_dir"]:
        mlflow_model.flavors[FLAVOR_NAME]["model_dir"] = relative
        mlflow_model.save(os.path.join(os.fspath(path), "MLmodel"))


def _backend_name(model: Any) -> str:
    syn = getattr(model, "synthesizer_", model)
    return getattr(syn.backend_, "name", type(syn.backend_).__name__)


def _example_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The input example MLflow stores, with the dtypes the signature was inferred with."""
    return _schema_friendly(df).reset_index(drop=True)


def log_model(
    model: Any,
    name: str = "model",
    *,
    registered_model_name: str | None = None,
    signature: Any = None,
    training_data: pd.DataFrame | None = None,
    pip_requirements: list[str] | str | None = None,
    extra_pip_requirements: list[str] | str | None = None,
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Log a fitted synthkit estimator as an MLflow model of the active (or a new) run.

    Args:
        model: a fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.
        name: the model's name in the run (``artifact_path`` in MLflow 2).
        registered_model_name: also register it in the Model Registry under this name
            (created if missing) as a new version.
        signature: see :func:`save_model`.
        training_data: see :func:`save_model`.
        pip_requirements: see :func:`save_model`.
        extra_pip_requirements: see :func:`save_model`.
        metadata: see :func:`save_model`.
        **kwargs: passed to :meth:`mlflow.models.Model.log` (e.g. ``await_registration_for``).

    Returns:
        MLflow's :class:`~mlflow.models.model.ModelInfo` (``model_uri`` loads it back).
    """
    import sys

    import_mlflow()
    from mlflow.models import Model

    # MLflow 3 names logged models (`name`); MLflow 2 only knows `artifact_path`.
    if "name" in inspect.signature(Model.log).parameters:
        kwargs["name"] = name
        kwargs.setdefault("artifact_path", None)
    else:  # pragma: no cover - MLflow 2
        kwargs["artifact_path"] = name
    return Model.log(
        flavor=sys.modules[__name__],
        registered_model_name=registered_model_name,
        model=model,
        signature=signature,
        training_data=training_data,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        **kwargs,
    )


def load_model(model_uri: str, dst_path: str | None = None, *, device: Any = None) -> Any:
    """Load the synthkit estimator from an MLflow model URI.

    Args:
        model_uri: ``runs:/<run_id>/model``, ``models:/<name>/<version>``, ``models:/<id>``,
            a local path...
        dst_path: where to download it (a temporary directory when ``None``).
        device: passed to :func:`synthkit.load`.

    Returns:
        The fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.

    Raises:
        IncompatibleModelError: the MLflow model has no synthkit flavor.
    """
    import_mlflow()
    from mlflow.models import Model
    from mlflow.tracking.artifact_utils import _download_artifact_from_uri

    import synthkit
    from synthkit.errors import IncompatibleModelError

    local = Path(_download_artifact_from_uri(artifact_uri=model_uri, output_path=dst_path))
    conf = Model.load(os.fspath(local / "MLmodel")).flavors.get(FLAVOR_NAME)
    if conf is None:
        raise IncompatibleModelError(f"{model_uri} is not a synthkit MLflow model (no flavor)")
    return synthkit.load(local / conf["model_dir"], device=device)
