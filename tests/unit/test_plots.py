"""Plots that scale: a network too large for a readable graph is drawn as its weight matrix."""
import numpy as np

from deepxbar import plots
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
