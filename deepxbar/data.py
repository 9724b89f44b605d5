"""Classification data sets: scikit-learn's bundled ones (no download) and a user's file.

Every data set becomes the same thing: a stratified train/test split (``split_seed``,
``test_fraction``), features scaled into [0, 1] by a min-max scaling fitted on the
training part only (test features clipped into [0, 1]; a constant feature is 0), a bias
column of ones when asked, and one-hot targets read back by argmax.

A user's file: ``.npz`` with arrays ``X`` (samples, features) and ``y`` (samples,), or
``.csv`` with a header, a label column named by ``label`` and numeric features. Bad data
(NaN or inf, a single class, a class with one sample, ragged rows, a missing label
column, non-numeric features, more than ``MAX_VALUES`` values unless ``large``) raises
``DataError`` with one line naming the problem.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("digits", "iris", "wine", "breast-cancer")
MAX_VALUES = 10**7  # feature values accepted without being asked (``large``)


class DataError(ValueError):
    """Bad data: one line."""


@dataclass(frozen=True)
class Dataset:
    """``X``/``Y`` the training part (inputs with the bias column when ``bias``, one-hot
    targets), ``X_test``/``Y_test`` the held-out part, ``classes`` the labels in class
    order, ``n_data_inputs`` the features. ``X`` and ``Y`` make it usable wherever a
    logic task is (``deepxbar.tasks.Task``)."""

    name: str
    X: np.ndarray
    Y: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    classes: tuple
    n_data_inputs: int
    split_seed: int
    test_fraction: float
    one_hot: bool = True

    @property
    def n_in(self) -> int:
        return self.X.shape[1]

    @property
    def n_out(self) -> int:
        return self.Y.shape[1]


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets
    loader = {"digits": datasets.load_digits, "iris": datasets.load_iris, "wine": datasets.load_wine,
              "breast-cancer": datasets.load_breast_cancer}[name]
    bunch = loader()
    return np.asarray(bunch.data, float), np.asarray(bunch.target)


def _plain(c):
    """A label as Python has it (numpy scalars print as np.int64(1) otherwise)."""
    return c.item() if hasattr(c, "item") else c


def _from_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import zipfile
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise DataError(f"{path}: no array {' or '.join(missing)} (has {', '.join(z.files) or 'none'})")
            X, y = z["X"], z["y"]
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickle: refused
        raise DataError(f"{path}: not a plain .npz of numeric arrays ({str(e).splitlines()[0]})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must be numeric; got dtype {X.dtype}")
    return X.astype(float), y


def _from_csv(path: Path, label: str | None) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    if label is None:
        raise DataError(f"{path}: a .csv needs --label COLUMN (the column that holds the classes)")
    try:
        frame = pd.read_csv(path)
    except pd.errors.ParserError as e:
        raise DataError(f"{path}: malformed CSV ({str(e).strip().splitlines()[-1]})") from None
    except (pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a CSV with a header and rows ({e})") from None
    if label not in frame.columns:
        raise DataError(f"{path}: no label column {label!r} (columns: {', '.join(map(str, frame.columns))})")
    features = frame.drop(columns=[label])
    bad = [str(c) for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if bad:
        raise DataError(f"{path}: non-numeric feature column(s) {', '.join(bad)}")
    if frame[label].isna().any():
        raise DataError(f"{path}: label column {label!r} has empty cells")
    return features.to_numpy(float), frame[label].to_numpy()


def read(source: str | Path, label: str | None = None, large: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a bundled data set name or a file, checked (see the module docstring)."""
    if isinstance(source, str) and source in DATASETS:
        X, y = _bundled(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        suffix = path.suffix.lower()
        if suffix == ".npz":
            X, y = _from_npz(path)
        elif suffix == ".csv":
            X, y = _from_csv(path, label)
        else:
            raise DataError(f"{path}: expected a .npz (X, y) or a .csv file")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"X must be (samples, features) with both > 0; got shape {X.shape}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(f"y must be one label per sample ({X.shape[0]}); got shape {y.shape}")
    if X.size > MAX_VALUES and not large:
        raise DataError(f"{X.size:,} feature values (more than {MAX_VALUES:,}): pass --large to use them")
    bad = ~np.isfinite(X)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"X has {int(bad.sum())} NaN or infinite value(s), the first at sample {r}, feature {c}")
    return X, y


def prepare(name: str, X: np.ndarray, y: np.ndarray, split_seed: int = 0, test_fraction: float = 0.2,
            bias: bool = True) -> Dataset:
    """The split, scaled, one-hot data set of (X, y)."""
    from sklearn.model_selection import train_test_split
    if not 0 < test_fraction < 1:
        raise DataError(f"--test-fraction {test_fraction!r}: must be between 0 and 1")
    classes, idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise DataError(f"the labels hold a single class ({_plain(classes[0])!r}): nothing to classify")
    if counts.min() < 2:
        raise DataError(f"class {_plain(classes[counts.argmin()])!r} has a single sample: a stratified split "
                        "needs two")
    try:
        tr, te = train_test_split(np.arange(len(y)), test_size=test_fraction, random_state=split_seed, stratify=idx)
    except ValueError as e:  # e.g. a test part smaller than the number of classes
        raise DataError(f"cannot split {len(y)} samples of {len(classes)} classes with --test-fraction "
                        f"{test_fraction:g}: {e}") from None
    lo, hi = X[tr].min(0), X[tr].max(0)
    span = np.where(hi > lo, hi - lo, 1.0)

    def scale(A):
        return np.clip((A - lo) / span, 0.0, 1.0) * (hi > lo)

    def inputs(A):
        return np.hstack([scale(A), np.ones((len(A), 1))]) if bias else scale(A)

    eye = np.eye(len(classes))
    return Dataset(name, inputs(X[tr]), eye[idx[tr]], inputs(X[te]), eye[idx[te]],
                   tuple(_plain(c) for c in classes), X.shape[1], int(split_seed),
                   float(test_fraction))


def load(source: str | Path, label: str | None = None, split_seed: int = 0, test_fraction: float = 0.2,
         bias: bool = True, large: bool = False) -> Dataset:
    """A bundled data set (``DATASETS``) or a file, read, checked, split and scaled."""
    X, y = read(source, label, large)
    return prepare(name_of(source), X, y, split_seed, test_fraction, bias)


def name_of(source: str | Path) -> str:
    """A bundled data set's name, or a file's stem."""
    return source if isinstance(source, str) and source in DATASETS else Path(source).stem
