"""Saving and loading models: JSON metadata + safetensors weights, never pickle.

A saved model is a directory::

    synthkit.json          format name and version, synthkit version, estimator parameters,
                           schema, encoder statistics, layout, backend name/params/metadata
    weights.safetensors    backend tensors and the sampling generator's state

Writing goes to a temporary sibling directory that is renamed into place when complete, so a
failed save leaves no half-written model. Loading checks the format version first and says
clearly when a model comes from an incompatible synthkit.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from synthkit._version import __version__
from synthkit.errors import IncompatibleModelError, InputFileError

__all__ = ["FORMAT_VERSION", "load", "save_model"]

FORMAT_NAME = "synthkit-model"
#: Bump when a saved model can no longer be read by older code (or vice versa).
FORMAT_VERSION = 1
META_FILE = "synthkit.json"
WEIGHTS_FILE = "weights.safetensors"

_KINDS = {"Synthesizer": "synthesizer", "AnomalyDetector": "anomaly_detector"}


def _jsonable_params(est: Any) -> dict[str, Any]:
    from synthkit.backends.base import Backend

    params = est.get_params(deep=False)
    if isinstance(params.get("backend"), Backend):
        b = params["backend"]
        params["backend"], params["backend_params"] = b.name, b.get_params(deep=False)
    if not isinstance(params.get("random_state"), (int, type(None))):
        params["random_state"] = None  # a Generator is not JSON; the fitted seed is saved
    params["device"] = str(params.get("device"))
    return params


def _synthesizer_payload(syn: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = syn.backend_.state_dict()
    tensors = {f"backend.{k}": v for k, v in state.items() if _is_tensor(v)}
    meta = {k: v for k, v in state.items() if not _is_tensor(v)}
    tensors["rng.sample"] = syn._sample_generator.get_state()
    payload = {
        "params": _jsonable_params(syn),
        "seed": syn.seed_,
        "device_type": syn.device_.type,
        "n_features_in": syn.n_features_in_,
        "feature_names_in": [str(c) for c in syn.feature_names_in_],
        "schema": syn.schema_.to_dict(),
        "encoder": syn.encoder_.to_dict(),
        "layout": syn.encoder_.layout_.to_dict(),
        "backend": {
            "name": syn.backend_.name,
            "params": syn.backend_.get_params(deep=False),
            "state": meta,
        },
    }
    return payload, tensors


def _is_tensor(v: Any) -> bool:
    import torch

    return isinstance(v, torch.Tensor)


def save_model(est: Any, path: Any, *, overwrite: bool = False) -> Path:
    """Save a fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.

    Args:
        est: the fitted estimator.
        path: target directory.
        overwrite: replace an existing directory.

    Returns:
        The directory written.

    Raises:
        InputFileError: ``path`` exists and ``overwrite`` is False, or it cannot be written.
        NotFittedError: the estimator is not fitted.
    """
    from safetensors.torch import save_file

    from synthkit.training.distributed import is_main_process

    est._check_fitted()
    if not is_main_process():  # under torchrun every rank holds the same model; rank 0 writes
        return Path(path)
    kind = _KINDS[type(est).__name__]
    syn = est.synthesizer_ if kind == "anomaly_detector" else est
    payload, tensors = _synthesizer_payload(syn)
    meta: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "synthkit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kind": kind,
        "synthesizer": payload,
    }
    if kind == "anomaly_detector":
        meta["detector"] = {
            "params": _jsonable_params(est),
            "offset": est.offset_,
            "explain_reference": getattr(est, "_explain_ref", None),  # if computed already
        }
        import torch

        tensors["detector.train_scores"] = torch.from_numpy(est.decision_scores_ + est.offset_)
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputFileError(f"{path} already exists; choose another path or pass overwrite=True")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        with open(tmp / META_FILE, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, allow_nan=True)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp / WEIGHTS_FILE
        )
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        raise InputFileError(f"cannot save the model to {path}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise InputFileError(f"no model at {path}: the directory does not exist")
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise IncompatibleModelError(
            f"{path} is not a synthkit model directory (no {META_FILE}); "
            "save one with Synthesizer.save or `synthkit fit`"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IncompatibleModelError(f"{meta_path} is not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise IncompatibleModelError(f"{meta_path} is not a synthkit model file")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise IncompatibleModelError(
            f"the model at {path} has format version {version} (written by synthkit "
            f"{meta.get('synthkit_version', '?')}); this synthkit {__version__} reads version "
            f"{FORMAT_VERSION}. Refit the model, or load it with the synthkit version that "
            "wrote it"
        )
    return meta


def _load_synthesizer(payload: dict[str, Any], tensors: dict[str, Any], device: Any) -> Any:
    import numpy as np

    from synthkit._device import make_generator, resolve_device
    from synthkit.backends import make_backend
    from synthkit.encoding import FeatureLayout, TableEncoder
    from synthkit.errors import ConfigError
    from synthkit.schema import TableSchema
    from synthkit.synthesizer import Synthesizer

    syn = Synthesizer(**payload["params"])
    try:
        dev = resolve_device(device if device is not None else payload["params"]["device"])
    except ConfigError:
        dev = resolve_device("auto")  # saved on a GPU machine, loaded where there is none
    schema = TableSchema.from_dict(payload["schema"])
    syn.schema_ = schema
    syn.encoder_ = TableEncoder.from_dict(payload["encoder"], schema)
    layout = FeatureLayout.from_dict(payload["layout"])
    b = payload["backend"]
    backend = make_backend(b["name"], b["params"])
    state = dict(b["state"])
    state.update({k[len("backend.") :]: v for k, v in tensors.items() if k.startswith("backend.")})
    backend.load_state_dict(state, layout, dev)
    syn.backend_ = backend
    syn.device_ = dev
    syn.seed_ = payload["seed"]
    gen = make_generator(int(np.random.SeedSequence(syn.seed_).generate_state(3)[2]), dev)
    if payload.get("device_type") == dev.type and "rng.sample" in tensors:
        gen.set_state(tensors["rng.sample"])  # continue exactly where the saved model was
    syn._sample_generator = gen
    syn.n_features_in_ = payload["n_features_in"]
    syn.feature_names_in_ = np.asarray(payload["feature_names_in"], dtype=object)
    return syn


def load(path: Any, *, device: Any = None) -> Any:
    """Load a model saved with ``save``.

    Args:
        path: the model directory.
        device: where to put it; ``None`` uses the saved device if available, else ``"auto"``.

    Returns:
        A fitted :class:`~synthkit.Synthesizer` or :class:`~synthkit.AnomalyDetector`.

    Raises:
        InputFileError: the directory does not exist.
        IncompatibleModelError: not a synthkit model, or a format version this synthkit
            cannot read.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = _read_meta(path)
    try:
        tensors = load_file(path / WEIGHTS_FILE)
    except (OSError, SafetensorError) as exc:
        raise IncompatibleModelError(f"cannot read {path / WEIGHTS_FILE}: {exc}") from exc
    try:
        syn = _load_synthesizer(meta["synthesizer"], tensors, device)
    except (KeyError, TypeError) as exc:
        raise IncompatibleModelError(
            f"the model at {path} is incomplete or corrupt: {exc}"
        ) from exc
    if meta["kind"] == "synthesizer":
        return syn
    from synthkit.anomaly import AnomalyDetector

    det = AnomalyDetector(**meta["detector"]["params"])
    det.synthesizer_ = syn
    det._set_threshold(tensors["detector.train_scores"].numpy().astype("float64"))
    det._explain_ref = meta["detector"].get("explain_reference")
    return det
