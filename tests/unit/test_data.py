"""Data sets: the bundled ones, a user's .npz or .csv, the split and the scaling, and
every kind of bad data refused with one line."""
import numpy as np
import pytest

from deepxbar.data import DATASETS, DataError, load, prepare, read


@pytest.mark.parametrize("name", DATASETS)
def test_bundled_sets_split_stratified_and_scaled_on_the_training_part(name):
    d = load(name)
    X, y = read(name)
    n_classes = len(np.unique(y))
    assert d.Y.shape[1] == d.Y_test.shape[1] == n_classes == len(d.classes)
    assert len(d.X) + len(d.X_test) == len(X)
    assert abs(len(d.X_test) - 0.2 * len(X)) <= n_classes  # the test fraction
    assert np.all(d.X[:, -1] == 1) and d.n_in == X.shape[1] + 1  # the bias column
    train = d.X[:, :-1]
    assert train.min() == 0.0 and train.max() == 1.0 and 0 <= d.X_test.min() and d.X_test.max() <= 1
    # stratified: every class in the test part in proportion (within one sample)
    share = np.bincount(np.argmax(d.Y_test, 1), minlength=n_classes) / len(d.Y_test)
    whole = np.bincount(np.unique(y, return_inverse=True)[1]) / len(y)
    assert np.abs(share - whole).max() <= 1.0 / len(d.Y_test) + 1e-12


def test_split_seed_and_test_fraction_decide_the_split():
    a, b, c = load("iris"), load("iris", split_seed=1), load("iris", test_fraction=0.5)
    assert not np.array_equal(a.X, b.X) and np.array_equal(a.X, load("iris").X)
    assert len(c.X_test) == 75


def test_scaling_uses_the_training_part_only():
    X = np.array([[0.0], [10.0], [2.0], [4.0], [100.0], [6.0]])
    y = np.array([0, 1, 0, 1, 0, 1])
    d = prepare("toy", X, y, split_seed=0, test_fraction=1 / 3, bias=False)
    tr = d.X[:, 0]
    assert tr.min() == 0 and tr.max() == 1 and d.X_test.max() <= 1  # a test value beyond is clipped


def test_user_files_npz_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.repeat(["cat", "dog"], 20)
    np.savez(tmp_path / "d.npz", X=X, y=np.repeat([3, 7], 20))
    d = load(str(tmp_path / "d.npz"))
    assert d.name == "d" and d.classes == (3, 7) and d.X.shape == (32, 4)
    (tmp_path / "d.csv").write_text("a,b,c,kind\n" + "\n".join(f"{r[0]},{r[1]},{r[2]},{k}" for r, k in zip(X, y)))
    d = load(str(tmp_path / "d.csv"), label="kind")
    assert d.classes == ("cat", "dog") and d.X.shape == (32, 4)


@pytest.mark.parametrize("write, label, message", [
    (lambda p: np.savez(p / "f.npz", X=np.array([[1.0, np.nan], [0, 1], [1, 1], [0, 0]]), y=[0, 1, 0, 1]), None,
     "NaN or infinite value.*sample 0, feature 1"),
    (lambda p: np.savez(p / "f.npz", X=np.array([[1.0, np.inf], [0, 1]]), y=[0, 1]), None, "NaN or infinite"),
    (lambda p: np.savez(p / "f.npz", X=np.ones((4, 2)), y=[1, 1, 1, 1]), None, "single class"),
    (lambda p: np.savez(p / "f.npz", X=np.ones((4, 2)), y=[0, 0, 0, 1]), None, "class 1 has a single sample"),
    (lambda p: np.savez(p / "f.npz", X=np.ones((4, 2))), None, "no array y"),
    (lambda p: np.savez(p / "f.npz", X=np.ones((4, 2)), y=[0, 1]), None, "one label per sample"),
    (lambda p: np.savez(p / "f.npz", X=np.array([{"a": 1}]), y=[0]), None, "not a plain .npz"),
    (lambda p: (p / "f.npz").write_bytes(b"not a zip"), None, "not a readable .npz"),
    (lambda p: (p / "f.csv").write_text("a,b,k\n1,2,x\n3,4,5,6\n"), "k", "malformed CSV"),
    (lambda p: (p / "f.csv").write_text("a,b,k\n1,2,x\n3,4,y\n"), "label", "no label column 'label'"),
    (lambda p: (p / "f.csv").write_text("a,b,k\n1,2,x\n3,4,y\n"), None, "needs --label"),
    (lambda p: (p / "f.csv").write_text("a,b,k\n1,zz,x\n3,4,y\n"), "k", "non-numeric feature column.*b"),
    (lambda p: (p / "f.csv").write_text(""), "k", "not a CSV"),
    (lambda p: (p / "f.txt").write_text("1 2 3"), None, "expected a .npz"),
])
def test_bad_data_is_one_line(tmp_path, write, label, message):
    write(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(DataError, match=message) as e:
        load(str(path), label=label)
    assert "\n" not in str(e.value)


def test_missing_file_huge_data_and_bad_fraction(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="no such file"):
        load(str(tmp_path / "none.npz"))
    with pytest.raises(DataError, match="--test-fraction"):
        load("iris", test_fraction=1.0)
    np.savez(tmp_path / "big.npz", X=np.zeros((30, 2)), y=np.arange(30) % 2)
    monkeypatch.setattr("deepxbar.data.MAX_VALUES", 50)
    with pytest.raises(DataError, match="pass --large"):
        load(str(tmp_path / "big.npz"))
    assert load(str(tmp_path / "big.npz"), large=True).X.shape[0] == 24
