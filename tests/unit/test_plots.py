"""Plots that scale: a network too large for a readable graph is drawn as its weight matrix."""
import numpy as np

from deepxbar.plots import run as plots
from deepxbar.plots.devices import device_response
from hw.devices import PRESETS
from models.topology import Topology
from models.training import TrainConfig, new_networks


def _count_arrows(monkeypatch):
    drawn = []
    real = plots.FancyArrowPatch

    def counting(*a, **k):
        drawn.append(1)
        return real(*a, **k)
    monkeypatch.setattr(plots, "FancyArrowPatch", counting)
    return drawn


def test_small_networks_are_drawn_edge_by_edge(tmp_path, monkeypatch):
    drawn = _count_arrows(monkeypatch)
    net = new_networks(Topology(3, 5, 1), TrainConfig(), [np.random.default_rng(0)])
    plots.network_graphs(net, [0], tmp_path / "g.png", True)
    assert len(drawn) == int((net.W[0] != 0).sum()) > 0 and (tmp_path / "g.png").stat().st_size > 0


def test_large_networks_get_the_weight_matrix_instead(tmp_path, monkeypatch):
    drawn = _count_arrows(monkeypatch)
    net = new_networks(Topology(3, plots.GRAPH_MAX_NEURONS, 1), TrainConfig(), [np.random.default_rng(0)])
    plots.network_graphs(net, [0], tmp_path / "g.png", True)
    assert drawn == [] and (tmp_path / "g.png").stat().st_size > 0


def test_confusion_counts_and_the_data_set_plots(tmp_path):
    Y = np.eye(3)[[0, 1, 2, 2]]
    out = np.array([[[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.1, 0.3]],
                    [[0.9, 0.1, 0.0], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.9]]])  # (K=2, B=4, 3)
    counts = plots.confusion_counts(out, Y)
    assert counts.tolist() == [[2, 0, 0], [1, 1, 0], [1, 0, 3]] and counts.sum() == 8
    plots.confusion_matrix(out, Y, ["a", "b", "c"], tmp_path / "c.png", "test")
    net = new_networks(Topology(65, 12, 10, "layered"), TrainConfig(n_hidden=12, architecture="layered"),
                       [np.random.default_rng(0)])
    plots.input_weight_images(net, 0, 8, tmp_path / "w.png")
    hist = {"train_accuracy": np.random.default_rng(0).uniform(size=(5, 2)),
            "test_accuracy": np.random.default_rng(1).uniform(size=(5, 2))}
    plots.accuracy_curves(hist, tmp_path / "a.png", "iris")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("c.png", "w.png", "a.png"))


def test_device_response_writes_a_png(tmp_path):
    for name in ("pcm", "ideal"):
        path = device_response(PRESETS[name], tmp_path / f"{name}.png", np.random.default_rng(0))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_several_hidden_layers_get_a_column_each_and_the_first_one_its_input_weights(tmp_path, monkeypatch):
    t = Topology(3, 5, 2, "layered", (3, 2))
    assert plots._positions(t)[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]
    assert plots._positions(Topology(3, 5, 2))[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 2, 2]
    drawn = _count_arrows(monkeypatch)
    cfg = TrainConfig(n_hidden=5, hidden_layers=(3, 2), architecture="layered")
    net = new_networks(t, cfg, [np.random.default_rng(0)])
    plots.network_graphs(net, [0], tmp_path / "g.png", True)
    assert len(drawn) == int(t.mask().sum())
    shown = []
    monkeypatch.setattr(plots.plt.Axes, "imshow", lambda ax, img, **k: shown.append(img))
    wide = new_networks(Topology(65, 12, 10, "layered", (8, 4)),
                        TrainConfig(n_hidden=12, hidden_layers=(8, 4), architecture="layered"),
                        [np.random.default_rng(0)])
    plots.input_weight_images(wide, 0, 8, tmp_path / "w.png")
    assert len(shown) == 8  # the units of the first hidden layer only
    assert np.array_equal(shown[0], wide.W[0][:64, 65].reshape(8, 8))
    shown.clear()
    skip = new_networks(Topology(65, 12, 10, "skip"), TrainConfig(n_hidden=12, architecture="skip"),
                        [np.random.default_rng(0)])
    plots.input_weight_images(skip, 0, 8, tmp_path / "s.png", classes=list(range(10)))
    assert len(shown) == 10  # one image per class: the skip connections into the outputs
    assert np.array_equal(shown[3], skip.W[0][:64, 65 + 12 + 3].reshape(8, 8)) and np.abs(shown[3]).max() > 0
