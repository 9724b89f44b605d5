"""PNG plots of a training run: curves, weights, the network graph, decision maps."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from models.topology import Topology  # noqa: E402
from models.training import Network, TrainConfig, free_phase  # noqa: E402

MAX_PANELS = 4  # seeds shown side by side
GRAPH_MAX_NEURONS = 40  # larger networks: the weight matrix instead of the graph (edges unreadable)
LABEL_MAX_NEURONS = 40  # larger networks: no per-neuron tick labels


def _band(ax, y: np.ndarray, label: str, color: str) -> None:
    """Median over seeds with the min-max band; y is (epochs, K)."""
    x = np.arange(1, y.shape[0] + 1)
    ax.plot(x, np.median(y, axis=1), color=color, label=label)
    ax.fill_between(x, y.min(axis=1), y.max(axis=1), color=color, alpha=0.2, lw=0)


def training_curves(history: dict[str, np.ndarray], path: Path, title: str) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    ax = axes[0, 0]
    _band(ax, history["mse_free"], "free", "C0")
    _band(ax, history["mse_nudged"], "nudged", "C1")
    ax.set(yscale="symlog", ylabel="MSE (sum sq. err / 2B)", title="loss")
    ax.set_yscale("symlog", linthresh=1e-4)
    ax = axes[0, 1]
    _band(ax, history["err_free"], "free", "C0")
    _band(ax, history["err_nudged"], "nudged", "C1")
    ax.set(ylabel="class error", ylim=(-0.05, 1.05), title="classification error")
    ax = axes[1, 0]
    _band(ax, np.maximum(history["dw_norm"], 1e-16), "||dW||_F", "C2")
    ax.set(yscale="log", ylabel="||dW||_F", title="weight change per epoch")
    ax = axes[1, 1]
    _band(ax, np.maximum(history["residual_free"], 1e-16), "free", "C0")
    _band(ax, np.maximum(history["residual_nudged"], 1e-16), "nudged", "C1")
    ax.set(yscale="log", ylabel="projected residual at stop", title="settling")
    for ax in axes.flat:
        ax.set_xlabel("epoch")
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"{title} (median over seeds, band = min..max)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _labels(topo: Topology, bias_input: bool) -> list[str]:
    names = [f"x{i}" for i in range(topo.n_in)]
    if bias_input:
        names[-1] = "bias"
    names += [f"h{i}" for i in range(topo.n_hidden)]
    names += [f"y{i}" for i in range(topo.n_out)]
    return names


def weight_matrices(net: Network, seeds: list[int], path: Path, bias_input: bool) -> None:
    topo = net.topology
    K = min(len(seeds), MAX_PANELS)
    fig, axes = plt.subplots(1, K, figsize=(4.2 * K, 4), squeeze=False, constrained_layout=True)
    vmax = max(np.abs(net.W[:K]).max(), 1e-12)
    names = _labels(topo, bias_input)
    for k, ax in enumerate(axes[0]):
        W = np.where(topo.mask(), net.W[k], np.nan)  # grey where no connection may exist
        im = ax.imshow(W, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        if topo.n <= LABEL_MAX_NEURONS:
            ax.set_xticks(range(topo.n), names, rotation=90, fontsize=7)
            ax.set_yticks(range(topo.n), names, fontsize=7)
        else:  # the layer boundaries instead of every neuron
            for edge in (topo.n_in - 0.5, topo.n_in + topo.n_hidden - 0.5):
                ax.axhline(edge, color="k", lw=0.5)
                ax.axvline(edge, color="k", lw=0.5)
        ax.set(title=f"seed {seeds[k]}", xlabel="to neuron j", ylabel="from neuron i")
    fig.colorbar(im, ax=axes[0].tolist(), label="W[i, j]")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _positions(topo: Topology) -> np.ndarray:
    xs, ys = [], []
    for col, size in enumerate((topo.n_in, topo.n_hidden, topo.n_out)):
        for r in range(size):
            xs.append(col)
            ys.append(r - (size - 1) / 2)
    return np.column_stack([xs, ys])


def network_graphs(net: Network, seeds: list[int], path: Path, bias_input: bool) -> None:
    """Directed graph per seed: red positive, blue negative, width ~ |W|; removed
    (pruned or zero) connections are not drawn. Networks of more than
    ``GRAPH_MAX_NEURONS`` neurons get the weight matrix instead (their edges would be an
    unreadable blot and take minutes to draw)."""
    topo = net.topology
    if topo.n > GRAPH_MAX_NEURONS:
        weight_matrices(net, seeds, path, bias_input)
        return
    K = min(len(seeds), MAX_PANELS)
    pos = _positions(topo)
    names = _labels(topo, bias_input)
    fig, axes = plt.subplots(1, K, figsize=(4.5 * K, 4.5), squeeze=False, constrained_layout=True)
    for k, ax in enumerate(axes[0]):
        W = net.W[k]
        wmax = max(np.abs(W).max(), 1e-12)
        for i, j in zip(*np.nonzero(W)):
            arrow = FancyArrowPatch(pos[i], pos[j], arrowstyle="-|>", mutation_scale=8,
                                    connectionstyle="arc3,rad=0.15", shrinkA=9, shrinkB=9,
                                    color="tab:red" if W[i, j] > 0 else "tab:blue",
                                    lw=0.3 + 2.5 * abs(W[i, j]) / wmax, alpha=0.7)
            ax.add_patch(arrow)
        ax.scatter(pos[:, 0], pos[:, 1], s=300, c="white", edgecolors="k", zorder=3)
        for p, name in zip(pos, names):
            ax.text(p[0], p[1], name, ha="center", va="center", fontsize=7, zorder=4)
        n_edges = int((W != 0).sum())
        ax.set_title(f"seed {seeds[k]}: {n_edges}/{int(topo.mask().sum())} connections")
        ax.set_xlim(-0.5, 2.5)
        ax.set_ylim(pos[:, 1].min() - 0.7, pos[:, 1].max() + 0.7)
        ax.axis("off")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def decision_maps(net: Network, cfg: TrainConfig, seeds: list[int], X: np.ndarray,
                  Y: np.ndarray, path: Path, bias_input: bool, resolution: int = 41) -> None:
    """Free-phase output over the input square, for two-input tasks (fast solver)."""
    K = min(len(seeds), MAX_PANELS)
    g = np.linspace(0.0, 1.0, resolution)
    x1, x2 = np.meshgrid(g, g)
    grid = np.column_stack([x1.ravel(), x2.ravel()])
    if bias_input:
        grid = np.hstack([grid, np.ones((grid.shape[0], 1))])
    sub = Network(net.topology, net.W[:K], net.b[:K], net.alive[:K])
    rngs = [np.random.default_rng([s, 2]) for s in seeds[:K]]
    _, res = free_phase(sub, cfg, grid, rngs, solver="fast")
    out = res.s[..., net.topology.outputs]
    value = out[..., 0] if out.shape[-1] == 1 else out[..., 1] - out[..., 0]
    lo = 0.0 if out.shape[-1] == 1 else -1.0
    fig, axes = plt.subplots(1, K, figsize=(4.2 * K, 4), squeeze=False, constrained_layout=True)
    labels = Y[:, 0] if Y.shape[1] == 1 else np.argmax(Y, axis=1)
    for k, ax in enumerate(axes[0]):
        im = ax.imshow(value[k].reshape(resolution, resolution), origin="lower",
                       extent=(0, 1, 0, 1), cmap="RdBu_r", vmin=lo, vmax=1.0)
        ax.contour(g, g, value[k].reshape(resolution, resolution), levels=[0.5 if lo == 0 else 0.0],
                   colors="k", linewidths=1)
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="RdBu_r", vmin=0, vmax=1, s=120,
                   edgecolors="k", zorder=3)
        ax.set(title=f"seed {seeds[k]}", xlabel="x0", ylabel="x1", xlim=(-0.06, 1.06), ylim=(-0.06, 1.06))
    fig.colorbar(im, ax=axes[0].tolist(), label="output" if lo == 0 else "y1 - y0")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def conductance_histogram(xbar, path: Path) -> None:
    """Final conductances of every device (open cells left out), G+ and G- apart."""
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    live = ~xbar.open
    dev = xbar.cfg.device
    bins = np.linspace(dev.g_min, dev.g_max, 41) * 1e6
    ax.hist(xbar.Gp[live] * 1e6, bins=bins, alpha=0.6, label="G+")
    ax.hist(xbar.Gm[live] * 1e6, bins=bins, alpha=0.6, label="G-")
    ax.set(xlabel="conductance (uS)", ylabel="devices",
           title=f"{dev.name}: final conductances ({int(xbar.open.sum())} open cells: no connection or pruned)")
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)
