"""PNG plots of a training run: curves, weights, the network graph, decision maps,
conductances; for data sets accuracy curves, a confusion matrix and input weights."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch

from models.topology import Topology
from models.training import Network, TrainConfig, free_phase

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
            for edge in (layer[0] - 0.5 for layer in topo.layers()[1:]):
                ax.axhline(edge, color="k", lw=0.5)
                ax.axvline(edge, color="k", lw=0.5)
        ax.set(title=f"seed {seeds[k]}", xlabel="to neuron j", ylabel="from neuron i")
    fig.colorbar(im, ax=axes[0].tolist(), label="W[i, j]")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _positions(topo: Topology) -> np.ndarray:
    """(N, 2): one column per layer (inputs, each hidden layer, outputs), centred."""
    xs, ys = [], []
    for col, size in enumerate(len(layer) for layer in topo.layers()):
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
    cols = len(topo.layers())
    width = 4.5 * max(1.0, cols / 3)  # three columns (one hidden layer) per 4.5 inches
    fig, axes = plt.subplots(1, K, figsize=(width * K, 4.5), squeeze=False, constrained_layout=True)
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
        ax.set_xlim(-0.5, cols - 0.5)
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


def accuracy_curves(history: dict[str, np.ndarray], path: Path, title: str) -> None:
    """Train and test accuracy per epoch (median over seeds, min..max band)."""
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    _band(ax, history["train_accuracy"], "train", "C0")
    _band(ax, history["test_accuracy"], "test", "C1")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title=f"{title} (median over seeds, band = min..max)")
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion_counts(outputs: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """(n_out, n_out) counts over seeds and samples: [true class, argmax of the outputs]."""
    n = Y.shape[1]
    true = np.argmax(Y, axis=1)
    counts = np.zeros((n, n), int)
    for pred in np.argmax(outputs, axis=-1):
        np.add.at(counts, (true, pred), 1)
    return counts


def confusion_matrix(outputs: np.ndarray, Y: np.ndarray, classes, path: Path, title: str) -> None:
    """Test-set confusion matrix summed over seeds: rows the true class, columns the
    predicted one (argmax of the outputs (K, B, n_out); an unsettled or tied sample counts
    as its argmax)."""
    counts = confusion_counts(outputs, Y)
    n = counts.shape[0]
    fig, ax = plt.subplots(figsize=(1.2 + 0.45 * n, 1 + 0.45 * n), constrained_layout=True)
    ax.imshow(counts, cmap="Blues")
    for (i, j), c in np.ndenumerate(counts):
        if c:
            ax.text(j, i, str(c), ha="center", va="center", fontsize=7,
                    color="white" if c > counts.max() / 2 else "black")
    ticks = [str(c) for c in classes]
    ax.set_xticks(range(n), ticks, rotation=90 if n > 10 else 0, fontsize=7)
    ax.set_yticks(range(n), ticks, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def input_weight_images(net: Network, seed_index: int, side: int, path: Path, shown: int = 32,
                        classes=None) -> None:
    """The input weights of the first ``shown`` units of the first hidden layer of one
    network as ``side x side`` images (digits: 8 x 8), each on its own symmetric colour
    scale; with ``classes`` (a ``skip`` network), the input weights of the outputs instead
    (its skip connections: the linear classifier beside the hidden layer)."""
    topo = net.topology
    units = topo.layers()[1] if classes is None else topo.layers()[-1]  # first hidden layer, or outputs
    W = net.W[seed_index][: side * side, units[0]:units[-1] + 1]  # data inputs -> those units
    m = min(shown, W.shape[1])
    cols = min(8 if classes is None else 10, m)
    rows = -(-m // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.3), squeeze=False,
                             constrained_layout=True)
    for u, ax in enumerate(axes.flat):
        ax.axis("off")
        if u < m:
            img = W[:, u].reshape(side, side)
            v = max(np.abs(img).max(), 1e-12)
            ax.imshow(img, cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
            ax.set_title(f"h{u}" if classes is None else f"class {classes[u]}", fontsize=7)
    if classes is not None:
        which = "outputs (skip connections)"
    else:
        which = "first-layer hidden units" if len(topo.hidden_sizes) > 1 else "hidden units"
    fig.suptitle(f"input weights of {which} (red excites, blue inhibits)", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_plots(exp, title: str, bias_input: bool) -> dict[str, Callable[[Path], None]]:
    """The PNGs of a run folder (``deepxbar.experiment.Experiment``), each a writer of
    its path: training curves, weights, the network graph (a weight-matrix image when
    large); the conductances of a hardware run; the decision map of a two-input logic
    task; for a data set the accuracy curves, the test confusion matrix and, when the
    features form a square image (digits: 8 x 8), the input weights of the first hidden
    layer's units (and of the outputs, in a ``skip`` network)."""
    net, seeds, task = exp.net, exp.seeds, exp.task
    writers = {
        "training_curves.png": lambda p: training_curves(exp.history, p, title),
        "weights.png": lambda p: weight_matrices(net, seeds, p, bias_input),
        "network.png": lambda p: network_graphs(net, seeds, p, bias_input),
    }
    if exp.crossbar is not None:
        writers["conductances.png"] = lambda p: conductance_histogram(exp.crossbar, p)
    if exp.data_set:
        writers["accuracy.png"] = lambda p: accuracy_curves(exp.history, p, title)
        writers["confusion.png"] = lambda p: confusion_matrix(
            exp.evaluation.outputs[:, 0], task.Y_test, task.classes, p,
            f"{task.name}: test set, {len(seeds)} seed(s) summed")
        side = int(round(task.n_data_inputs ** 0.5))
        image = side * side == task.n_data_inputs and side >= 4
        if image and net.topology.n_hidden > 0:
            writers["input_weights.png"] = lambda p: input_weight_images(net, 0, side, p)
        if image and net.topology.architecture == "skip":
            writers["skip_weights.png"] = lambda p: input_weight_images(net, 0, side, p, classes=task.classes)
    elif task.n_data_inputs == 2:
        writers["decision_map.png"] = lambda p: decision_maps(
            net, exp.cfg, seeds, task.X, task.Y, p, bias_input)
    return writers
