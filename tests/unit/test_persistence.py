"""Saving and loading: JSON + safetensors, atomic writes, clear errors for bad model dirs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthkit import AnomalyDetector, Synthesizer, load
from synthkit.errors import IncompatibleModelError, InputFileError, NotFittedError
from synthkit.persistence import FORMAT_VERSION, META_FILE, WEIGHTS_FILE

FAST = {"n_components": 3, "max_iter": 30}


@pytest.fixture(scope="module")
def synthesizer(small_mixed: pd.DataFrame) -> Synthesizer:
    return Synthesizer("gmm", FAST, device="cpu", random_state=0).fit(small_mixed)


@pytest.fixture(scope="module")
def detector(small_mixed: pd.DataFrame) -> AnomalyDetector:
    return AnomalyDetector(
        "naive_bayes", {"n_classes": 3}, contamination=0.05, device="cpu", random_state=0
    ).fit(small_mixed)


@pytest.fixture
def saved(synthesizer: Synthesizer, tmp_path: Path) -> Path:
    path = tmp_path / "model"
    synthesizer.save(path)
    return path


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


# ------------------------------------------------------------------ round trips
def test_synthesizer_round_trip(
    synthesizer: Synthesizer, small_mixed: pd.DataFrame, saved: Path
) -> None:
    loaded = load(saved)
    assert type(loaded) is Synthesizer
    assert loaded.get_params() == synthesizer.get_params()
    np.testing.assert_allclose(
        loaded.score_samples(small_mixed), synthesizer.score_samples(small_mixed), rtol=1e-9
    )
    pd.testing.assert_frame_equal(
        loaded.sample(300, random_state=5), synthesizer.sample(300, random_state=5)
    )
    assert loaded.schema_ == synthesizer.schema_
    assert loaded.encoder_.layout_ == synthesizer.encoder_.layout_
    assert list(loaded.feature_names_in_) == list(small_mixed.columns)
    assert loaded.n_features_in_ == synthesizer.n_features_in_


def test_anomaly_detector_round_trip(
    detector: AnomalyDetector, small_mixed: pd.DataFrame, tmp_path: Path
) -> None:
    detector.save(tmp_path / "det")
    loaded = load(tmp_path / "det", device="cpu")
    assert type(loaded) is AnomalyDetector
    assert loaded.get_params() == detector.get_params()
    assert loaded.threshold_ == detector.threshold_ == loaded.offset_
    np.testing.assert_allclose(
        loaded.score_samples(small_mixed), detector.score_samples(small_mixed), rtol=1e-9
    )
    np.testing.assert_array_equal(loaded.predict(small_mixed), detector.labels_)
    pd.testing.assert_frame_equal(
        loaded.explain(small_mixed.head(20)), detector.explain(small_mixed.head(20))
    )
    pd.testing.assert_frame_equal(
        loaded.sample(200, random_state=3), detector.sample(200, random_state=3)
    )


def test_constant_zero_column_survives(tmp_path: Path) -> None:
    # 0 == False: a constant of 0 must not be dropped from synthkit.json as a default.
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=100), "zero": 0, "off": False, "low": 0.0})
    df.loc[0, "x"] = 0.0
    with pytest.warns(UserWarning):
        syn = Synthesizer("gmm", {"n_components": 1}, device="cpu", random_state=0).fit(df)
    syn.save(tmp_path / "m")
    fake = load(tmp_path / "m").sample(20, random_state=0)
    assert fake.dtypes.to_dict() == df.dtypes.to_dict()
    assert (fake["zero"] == 0).all() and (~fake["off"]).all() and (fake["low"] == 0.0).all()


# ----------------------------------------------------------------- the directory
def test_directory_holds_json_and_safetensors_only(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == [META_FILE, WEIGHTS_FILE]
    assert _siblings(saved) == ["model"]  # no temporary directory left behind
    meta = json.loads((saved / META_FILE).read_text(encoding="utf-8"))
    assert meta["format"] == "synthkit-model" and meta["format_version"] == FORMAT_VERSION
    assert meta["kind"] == "synthesizer"
    assert meta["synthesizer"]["backend"]["name"] == "gmm"
    assert (saved / WEIGHTS_FILE).read_bytes()[8:9] == b"{"  # safetensors: u64 size, JSON


def test_save_refuses_to_overwrite(synthesizer: Synthesizer, saved: Path) -> None:
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    with pytest.raises(InputFileError, match="overwrite=True"):
        synthesizer.save(saved)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    assert _siblings(saved) == ["model"]


def test_save_overwrite_replaces(detector: AnomalyDetector, saved: Path) -> None:
    (saved / "stale.txt").write_text("from an older save")
    detector.save(saved, overwrite=True)
    assert sorted(p.name for p in saved.iterdir()) == [META_FILE, WEIGHTS_FILE]
    assert _siblings(saved) == ["model"]
    assert type(load(saved)) is AnomalyDetector


def test_save_over_a_file_needs_overwrite(synthesizer: Synthesizer, tmp_path: Path) -> None:
    target = tmp_path / "model"
    target.write_text("not a model")
    with pytest.raises(InputFileError):
        synthesizer.save(target)
    assert target.read_text() == "not a model"


def test_save_creates_parent_directories(synthesizer: Synthesizer, tmp_path: Path) -> None:
    synthesizer.save(tmp_path / "a" / "b" / "model")
    assert type(load(tmp_path / "a" / "b" / "model")) is Synthesizer


@pytest.mark.parametrize("exc", [OSError("disk full"), RuntimeError("boom")])
def test_failed_save_leaves_nothing(
    synthesizer: Synthesizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    import safetensors.torch

    def broken(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    target = tmp_path / "model"
    expected = InputFileError if isinstance(exc, OSError) else type(exc)
    with pytest.raises(expected):
        synthesizer.save(target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no partial directory, no .tmp sibling


def test_failed_overwrite_keeps_the_old_model(
    synthesizer: Synthesizer, saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import safetensors.torch

    before = {p.name: p.read_bytes() for p in saved.iterdir()}

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(InputFileError, match="disk full"):
        synthesizer.save(saved, overwrite=True)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    assert _siblings(saved) == ["model"]


def test_save_unfitted_raises(tmp_path: Path) -> None:
    for est in (Synthesizer(), AnomalyDetector()):
        with pytest.raises(NotFittedError):
            est.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- loading
def test_load_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        load(tmp_path / "nowhere")


def test_load_directory_without_metadata(tmp_path: Path) -> None:
    (tmp_path / "weights.safetensors").write_bytes(b"")
    with pytest.raises(IncompatibleModelError, match=META_FILE):
        load(tmp_path)


def _edit_meta(path: Path, **changes: object) -> None:
    meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    meta.update(changes)
    (path / META_FILE).write_text(json.dumps(meta), encoding="utf-8")


def test_load_future_format_version(saved: Path) -> None:
    _edit_meta(saved, format_version=999)
    with pytest.raises(IncompatibleModelError, match="999") as exc:
        load(saved)
    assert str(FORMAT_VERSION) in str(exc.value)


@pytest.mark.parametrize(
    "meta_text", ["{not json", "[1, 2]", json.dumps({"format": "something-else"})]
)
def test_load_bad_metadata(saved: Path, meta_text: str) -> None:
    (saved / META_FILE).write_text(meta_text, encoding="utf-8")
    with pytest.raises(IncompatibleModelError):
        load(saved)


def test_load_incomplete_metadata(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text(encoding="utf-8"))
    del meta["synthesizer"]["encoder"]
    (saved / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IncompatibleModelError, match="incomplete or corrupt"):
        load(saved)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing"])
def test_load_corrupt_weights(saved: Path, damage: str) -> None:
    weights = saved / WEIGHTS_FILE
    data = weights.read_bytes()
    if damage == "garbage":
        weights.write_bytes(b"\x00\xff" * 64)
    elif damage == "truncated":
        weights.write_bytes(data[: len(data) // 2])
    else:
        weights.unlink()
    with pytest.raises(IncompatibleModelError, match=WEIGHTS_FILE):
        load(saved)


def test_load_weights_of_another_model(saved: Path) -> None:
    # Valid safetensors with the wrong tensors: still a clear error, not a torch traceback.
    other = saved.parent / "other"
    Synthesizer("naive_bayes", {"n_classes": 2}, device="cpu", random_state=0).fit(
        pd.DataFrame({"u": np.arange(50.0) % 7})
    ).save(other)
    (saved / WEIGHTS_FILE).write_bytes((other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(IncompatibleModelError, match="does not match"):
        load(saved)
