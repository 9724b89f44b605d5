"""One training experiment: train K seeds in one batch, judge them, summarise.

Logic tasks are judged as the paper judges them: every pattern right and settled on
repeated free phases, basin accuracy, stability at every equilibrium. Data sets
(``deepxbar.data``) are judged by accuracy: per epoch on the training and the test part
(one free phase from the evaluation starts), at the end on the test part, with the
stability report on its first ``STABILITY_SAMPLES`` samples."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from models.evaluation import (BASIN_STARTS, Evaluation, StabilityReport, basin_accuracy, evaluate,
                               stability_report)
from models.streams import EVAL, SHUFFLE, generators
from models.topology import Topology
from models.training import Network, TrainConfig, initial_states, minibatches, train
from hw.controller import train_on_crossbar
from hw.crossbar import Crossbar, CrossbarConfig, fit_weight_range
from hw.deploy import onchip_field_source

from .tasks import Task

REPEATS = 10  # fresh free phases per seed when judging success
STABILITY_SAMPLES = 32  # data sets: test samples whose equilibria get the local certificate
ENERGY_SAMPLES = 16  # data sets: test samples of the energy report
@dataclass
class Experiment:
    task: Task
    cfg: TrainConfig
    seeds: list[int]
    net: Network
    history: dict[str, np.ndarray]
    evaluation: Evaluation
    stability: list[StabilityReport]
    basin: np.ndarray | None  # (K,) accuracy from starts over the whole box (logic tasks)
    wall_seconds: float
    crossbar: Crossbar | None = None
    onchip: Evaluation | None = None  # evaluation on the crossbar as it ends (hardware runs)
    energy: dict | None = None  # energy and latency on the crossbar (hardware runs)

    @property
    def topology(self) -> Topology:
        return self.net.topology

    @property
    def data_set(self) -> bool:
        return is_data_set(self.task)


def is_data_set(task) -> bool:
    """A data set (train and test parts) rather than a logic task."""
    return hasattr(task, "X_test")


def judged_samples(task, samples: int = STABILITY_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """What a command judges a run on: a data set's first ``samples`` test samples, or
    every pattern of a logic task."""
    return (task.X_test[:samples], task.Y_test[:samples]) if is_data_set(task) else (task.X, task.Y)


def accuracies(cfg: TrainConfig, task, seeds: list[int]):
    """The judge of a data-set run: per network, the accuracy of one free phase from the
    evaluation starts on the training part and on the test part."""
    def judge(net: Network) -> dict[str, np.ndarray]:
        return {"train_accuracy": evaluate(net, cfg, task.X, task.Y, seeds, 1).accuracy,
                "test_accuracy": evaluate(net, cfg, task.X_test, task.Y_test, seeds, 1).accuracy}
    return judge


def run(task: Task, cfg: TrainConfig, seeds: list[int], progress: bool = True,
        hw: CrossbarConfig | None = None, engine=None, batch_size: int | None = None) -> Experiment:
    """Train (in software, or on crossbars when ``hw`` is given) with ``engine``
    settling the phases (``circuits.engines``; default: the models/ solver), in
    minibatches of ``batch_size`` (default: the full batch), then judge."""
    topo = cfg.topology(task.n_in, task.n_out)
    data = is_data_set(task)
    batches = None if batch_size is None else minibatches(task.X, task.Y, batch_size, generators(seeds, SHUFFLE))
    judge = accuracies(cfg, task, seeds) if data else None
    if hw is not None:
        hw = fit_weight_range(hw, cfg.weight_clip)
    start = time.perf_counter()
    with tqdm(total=cfg.epochs, desc=f"train {task.name} x{len(seeds)} seeds", unit="epoch",
              disable=not progress, leave=False) as bar:
        def tick(epoch: int, row: dict) -> None:
            bar.update(1)
            if data:
                bar.set_postfix(train=f"{row['train_accuracy'].mean():.3f}", test=f"{row['test_accuracy'].mean():.3f}")
            elif epoch % 10 == 0 or epoch == cfg.epochs - 1:
                bar.set_postfix(err=f"{row['err_free'].mean():.2f}", mse=f"{row['mse_free'].mean():.3g}")

        xbar = None
        if hw is None:
            net, hist = train(topo, cfg, task.X, task.Y, seeds, on_epoch=tick, engine=engine, batches=batches,
                              judge=judge)
        else:
            xbar, net, hist = train_on_crossbar(topo, cfg, task.X, task.Y, seeds, hw, engine=engine,
                                                on_epoch=tick, batches=batches, judge=judge)
    wall = time.perf_counter() - start
    # logic tasks: every pattern, REPEATS starts; data sets: the test part, one start each
    X, Y, repeats = (task.X_test, task.Y_test, 1) if data else (task.X, task.Y, REPEATS)
    ev = evaluate(net, cfg, X, Y, seeds, repeats)
    if data:
        few = slice(0, STABILITY_SAMPLES)
        stab = stability_report(net, cfg, X[few], seeds, 1)
        basin = None
    else:
        stab = stability_report(net, cfg, X, seeds, repeats, ev if cfg.solver == "fast" else None)
        basin = basin_accuracy(net, cfg, X, Y, seeds)
    onchip = energy = None
    if xbar is not None:  # the same starts, on the chip: a fresh read per inference, wires, drift
        onchip = evaluate(net, cfg, X, Y, seeds, repeats, field=onchip_field_source(
            xbar, cfg.model, net.b, X.shape[0], cfg.gamma, seeds))
        shown = slice(0, ENERGY_SAMPLES) if data else slice(None)
        energy = energy_report(xbar, net, cfg, X[shown], Y[shown], seeds, hist["pulses"], len(task.X))
    return Experiment(task, cfg, seeds, net, hist, ev, stab, basin, wall, xbar, onchip, energy)


def energy_report(xbar: Crossbar, net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray,
                  seeds: list[int], pulses: np.ndarray, samples_per_epoch: int) -> dict:
    """``circuits.energy.report`` of a crossbar as the run ends: its conductances as
    programmed (no drift, no read noise) with its wires, the free phase of the samples
    (X, Y) from the first evaluation starts, the nudged phase toward their targets, the
    pulses of every epoch; an epoch settles ``samples_per_epoch`` samples."""
    from circuits.energy import report

    rngs = generators(seeds, EVAL, 0)
    s0 = initial_states(net.topology, X, rngs, cfg.init_state)
    field = xbar.field(*xbar.state(), cfg.model, net.b, X.shape[0], cfg.gamma)
    return report(xbar, field, s0, pulses, targets=Y, beta=cfg.beta,
                  samples_per_epoch=None if samples_per_epoch == len(X) else samples_per_epoch)


def epochs_to_zero(err: np.ndarray) -> int | None:
    """Epochs until the free-phase error reached 0 and stayed there (None if it never did)."""
    nonzero = np.flatnonzero(err > 0)
    if nonzero.size == 0:
        return 0
    last = int(nonzero[-1])
    return None if last == len(err) - 1 else last + 1


def margin(outputs: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Smallest distance of an output from the decision boundary on the right side,
    per seed: ``min (s - 0.5) * sign(target - 0.5)`` for a scalar output, the gap
    between the target unit and the other for one-hot; negative when misclassified."""
    if Y.shape[1] == 1:
        return ((outputs[..., 0] - 0.5) * np.sign(Y[:, 0] - 0.5)).min(axis=(-1, -2))
    target = np.argmax(Y, axis=1)
    picked = np.take_along_axis(outputs, target[None, None, :, None], -1)[..., 0]
    other = np.take_along_axis(outputs, 1 - target[None, None, :, None], -1)[..., 0]
    return (picked - other).min(axis=(-1, -2))


def conditions(cfg: TrainConfig, repeats: int) -> dict:
    """What the verdicts of a summary were measured under, in words and numbers."""
    return {
        "starts": f"non-input neurons ~ Uniform(0, {cfg.init_state:g}) at the start of every free phase "
                  "(the integrator reset, with its residual spread)",
        "init_state": cfg.init_state,
        "success": f"every pattern right and settled in {repeats} free phases from fresh starts",
        "basin_accuracy": f"fraction of (start, pattern) pairs right and settled, {BASIN_STARTS} starts "
                          "per pattern ~ Uniform(0, 1) (the whole state box)",
        "weights": "as trained (no noise, no drift, no wires)",
        "onchip": "hardware runs: the same starts and success rule on the crossbar as the run ends, "
                  f"{repeats} inferences, each one read of every device (fresh read noise, not the "
                  "controller's averaged reads), drift to the run's drift time, its wires",
    }


def data_summary(exp: Experiment, model_name: str, config_name: str) -> dict:
    """The summary of a data-set run: accuracies, stability on the first test samples."""
    allowed = exp.topology.mask()
    task, hist = exp.task, exp.history
    per_seed = []
    for k, seed in enumerate(exp.seeds):
        st = exp.stability[k]
        per_seed.append({
            "seed": int(seed),
            "train_accuracy": float(hist["train_accuracy"][-1, k]),
            "test_accuracy": float(exp.evaluation.accuracy[k]),
            "best_test_accuracy": float(hist["test_accuracy"][:, k].max()),
            "stable": st.stable,
            "gershgorin": st.gershgorin,
            "spectral_abscissa_global": st.spectral_abscissa_global,
            "spectral_abscissa_local_max": st.spectral_abscissa_local_max,
            "sparsity": float(((exp.net.W[k] == 0) & allowed).sum() / allowed.sum()),
        })
        if exp.onchip is not None:
            per_seed[-1]["onchip_test_accuracy"] = float(exp.onchip.accuracy[k])
    out = {
        "task": task.name, "model": model_name, "one_hot": True, "config": config_name,
        "solver": exp.cfg.solver, "seeds": [int(s) for s in exp.seeds],
        "data": {"name": task.name, "classes": list(task.classes), "features": task.n_data_inputs,
                 "train_samples": len(task.X), "test_samples": len(task.X_test), "split_seed": task.split_seed,
                 "test_fraction": task.test_fraction},
        "train_accuracy_mean": float(np.mean([p["train_accuracy"] for p in per_seed])),
        "test_accuracy_mean": float(np.mean([p["test_accuracy"] for p in per_seed])),
        "stable_rate": float(np.mean([p["stable"] for p in per_seed])),
        "conditions": {
            "starts": f"non-input neurons ~ Uniform(0, {exp.cfg.init_state:g}), one free phase per sample "
                      "from the evaluation starts",
            "init_state": exp.cfg.init_state,
            "accuracy": "fraction of samples whose output argmax is the class and whose phase settled",
            "stable": f"the local certificate at the equilibria of the first {STABILITY_SAMPLES} test samples",
            "weights": "as trained (no noise, no drift, no wires)",
        },
        "wall_seconds": round(exp.wall_seconds, 4),
        "per_seed": per_seed,
    }
    if exp.energy is not None:
        out["energy"] = exp.energy
    if exp.onchip is not None:
        out["onchip_test_accuracy_mean"] = float(exp.onchip.accuracy.mean())
    return out


def summary(exp: Experiment, model_name: str, config_name: str) -> dict:
    if exp.data_set:
        return data_summary(exp, model_name, config_name)
    topo = exp.topology
    allowed = topo.mask()
    ev = exp.evaluation
    success = ev.success
    errs = ev.error.mean(1)  # fraction of patterns misclassified, over the repeats
    margins = margin(ev.outputs, exp.task.Y)
    onchip_success = onchip_accuracy = None
    if exp.onchip is not None:
        onchip_success, onchip_accuracy = exp.onchip.success, exp.onchip.accuracy
    per_seed = []
    for k, seed in enumerate(exp.seeds):
        W = exp.net.W[k]
        st = exp.stability[k]
        per_seed.append({
            "seed": int(seed),
            "success": bool(success[k]),
            "final_error": float(errs[k]),
            "epochs_to_zero": epochs_to_zero(exp.history["err_free"][:, k]),
            "min_margin": float(margins[k]),
            "stable": st.stable,
            "gershgorin": st.gershgorin,
            "spectral_abscissa_global": st.spectral_abscissa_global,
            "spectral_abscissa_local_max": st.spectral_abscissa_local_max,
            "sparsity": float(((W == 0) & allowed).sum() / allowed.sum()),
            "basin_accuracy": float(exp.basin[k]),
        })
        if onchip_success is not None:
            per_seed[-1]["onchip_success"] = bool(onchip_success[k])
            per_seed[-1]["onchip_accuracy"] = float(onchip_accuracy[k])
    out = {
        "task": exp.task.name,
        "model": model_name,
        "one_hot": exp.task.one_hot,
        "config": config_name,
        "solver": exp.cfg.solver,
        "seeds": [int(s) for s in exp.seeds],
        "success_rate": float(success.mean()),
        "stable_rate": float(np.mean([p["stable"] for p in per_seed])),
        "basin_accuracy_mean": float(np.mean(exp.basin)),
        "conditions": conditions(exp.cfg, REPEATS),
        "wall_seconds": round(exp.wall_seconds, 4),
        "per_seed": per_seed,
    }
    if exp.energy is not None:
        out["energy"] = exp.energy
    if onchip_success is not None:
        out["onchip_success_rate"] = float(onchip_success.mean())
        out["onchip_accuracy_mean"] = float(onchip_accuracy.mean())
    return out
