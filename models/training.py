"""Two-phase training, K networks at once: one loop for software and hardware.

``train_loop`` runs the epochs over a batch iterator (the full batch is the paper's
case) on a *substrate*: what gives the field the phases settle on and realises the
update (``Software`` here: the weights themselves; ``hw.controller`` supplies the
crossbar). ``step`` is one free phase, one nudged phase and the model's update
(``models/model.py``), then L1, decay, clipping and pruning.

Every network ``k`` draws all its randomness (initial weights, initial states, pruning
draws) from its own ``numpy.random.Generator``, so training K seeds in one batched run
gives exactly the networks that K separate runs give.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from functools import partial
from typing import Callable, Iterable, Protocol

import numpy as np

from . import model as models
from .dynamics import AffineField
from .learning import apply_update, sparsify
from .model import predict
from .settle import SOLVERS, SettleResult, settle
from .streams import generators
from .topology import ARCHITECTURES, Topology


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one training run (dimensionless; times in units of tau)."""

    model: str = "deep"
    n_hidden: int = 5
    hidden_layers: tuple[int, ...] | None = None  # sizes of several hidden layers, summing to n_hidden (None: one layer)
    architecture: str = "complete"
    epochs: int = 200
    dt: float = 0.05          # Euler step
    t1: int = 1000            # free-phase steps of the reference solver
    t2: int = 1000            # nudged-phase steps (and the rule's normalisation)
    beta: float = 10.0        # nudging strength
    eta: float = 100.0        # learning rate (the paper's dt_W)
    eta_final: float | None = None  # learning rate of the last epoch, reached geometrically from eta (None: constant)
    beta0: float = 0.0        # DEEP rule: weight of s_i s_j
    beta1: float = 1.0        # DEEP rule: weight of s_i ds_j
    gamma: float = 0.0        # leak (Costa & Santos 2025); 0 is the paper's DEEP
    drain: bool = False       # DEEP rule with the source term: int s_i (ds_j - ds_i)
    weight_decay: float = 0.0  # W <- (1 - weight_decay) W after every update
    l1: float = 0.0           # L1 step lambda (the paper's reg_W when used: 1.5e-4)
    sign: bool = False        # sign-only updates
    prune: bool = False       # stochastic sparsification after every update
    prune_tol: float = 0.01
    prune_temp: float = 5.0
    prune_start: int = 0      # first epoch at which L1 and pruning apply
    prune_stop: int | None = None  # epoch from which they stop (fine-tuning after); None: never
    max_inhibition: float | None = None  # sum of a non-input neuron's negative outgoing weights <= this x gamma (None: no limit)
    weight_clip: float | None = None  # |W| <= weight_clip after every update (None: no clip)
    train_noise: float = 0.0  # noise-aware training: phases settle on W + N(0, train_noise^2) (fresh per epoch), the update goes to W
    init_std: float = 0.05    # W ~ Normal(0, init_std^2)
    init_state: float = 0.1   # non-input states ~ Uniform(0, init_state) each free phase
    solver: str = "fast"
    tol: float = 1e-9         # projected-residual tolerance of the fast solver
    max_steps: int = 10_000   # cap per sample and phase of the fast solver (10x T1; unconverged is reported)
    paper_horizon: bool = False  # training phases stop at T1 / T2 steps if not settled, as the paper's (judging keeps max_steps)
    newton_at: float | None = None  # fast solver, N >= 48, free phases: active-set Newton from this residual (None: off)
    max_dt: float | None = None  # fast solver, N >= 48, free phases: adaptive steps between dt and this (None: off)

    def __post_init__(self) -> None:
        choices = {"model": models.names(), "architecture": ARCHITECTURES, "solver": SOLVERS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", "int") and not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ValueError(f"{f.name} must be a finite number; got {v!r}")
        positive = ("epochs", "dt", "t1", "t2", "beta", "eta", "prune_temp", "tol", "max_steps")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)!r}")
        for name in ("n_hidden", "gamma", "l1", "prune_tol", "init_std", "init_state", "prune_start", "train_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if self.weight_clip is not None and not (isinstance(self.weight_clip, (int, float))
                                                 and math.isfinite(self.weight_clip) and self.weight_clip > 0):
            raise ValueError(f"weight_clip must be a finite number > 0 or None; got {self.weight_clip!r}")
        if self.newton_at is not None and not (isinstance(self.newton_at, (int, float))
                                               and math.isfinite(self.newton_at) and self.newton_at > 0):
            raise ValueError(f"newton_at must be a finite number > 0 or None; got {self.newton_at!r}")
        if self.max_dt is not None and not (isinstance(self.max_dt, (int, float)) and math.isfinite(self.max_dt)
                                            and self.max_dt >= self.dt):
            raise ValueError(f"max_dt must be a finite number >= dt ({self.dt}) or None; got {self.max_dt!r}")
        if self.eta_final is not None and not (isinstance(self.eta_final, (int, float))
                                               and math.isfinite(self.eta_final) and self.eta_final > 0):
            raise ValueError(f"eta_final must be a finite number > 0 or None; got {self.eta_final!r}")
        if self.max_inhibition is not None and not (isinstance(self.max_inhibition, (int, float))
                                                    and math.isfinite(self.max_inhibition) and self.max_inhibition >= 0):
            raise ValueError(f"max_inhibition must be a finite number >= 0 or None; got {self.max_inhibition!r}")
        if self.prune_stop is not None and not (isinstance(self.prune_stop, int) and self.prune_stop > self.prune_start):
            raise ValueError(f"prune_stop must be an integer > prune_start ({self.prune_start}); got {self.prune_stop!r}")
        for name in ("init_state", "weight_decay"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]; got {getattr(self, name)!r}")
        if self.hidden_layers is not None:
            self._check_hidden_layers()

    def _check_hidden_layers(self) -> None:
        """hidden_layers: positive integers summing to n_hidden; kept as a tuple (config.json
        gives a list), and a single layer as None (the same network)."""
        h = self.hidden_layers
        if not (isinstance(h, (list, tuple)) and h
                and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1 for x in h)):
            raise ValueError(f"hidden_layers must be a non-empty list of positive integers or None; got {h!r}")
        h = tuple(int(x) for x in h)
        if sum(h) != self.n_hidden:
            raise ValueError(f"hidden_layers {list(h)} must sum to n_hidden ({self.n_hidden}); they sum to {sum(h)}")
        object.__setattr__(self, "hidden_layers", h if len(h) > 1 else None)

    def to_dict(self) -> dict:
        return asdict(self)

    def topology(self, n_in: int, n_out: int) -> Topology:
        """The network these settings train between ``n_in`` inputs and ``n_out`` outputs."""
        return Topology(n_in, self.n_hidden, n_out, self.architecture, self.hidden_layers or ())

    def learning_rate(self, epoch: int) -> float:
        """eta at ``epoch``: constant, or from eta to eta_final geometrically over the epochs."""
        if self.eta_final is None or self.epochs == 1:
            return self.eta
        return self.eta * (self.eta_final / self.eta) ** (epoch / (self.epochs - 1))


@dataclass
class Network:
    """K trained networks: weights (K, N, N), biases (K, N) (asym-EP only, else 0) and
    the live-connection mask (K, N, N) (False where pruned or not allowed)."""

    topology: Topology
    W: np.ndarray
    b: np.ndarray
    alive: np.ndarray


def target_classes(Y: np.ndarray) -> np.ndarray:
    return predict(Y)  # targets are 0/1 or one-hot rows: never a tie


def field_of(net: Network, cfg: TrainConfig, batch: int) -> AffineField:
    return models.get(cfg.model).field(net.W, net.b, batch, net.topology.free_mask(), cfg.gamma)


def initial_states(topo: Topology, X: np.ndarray, rngs: list[np.random.Generator],
                   init_state: float) -> np.ndarray:
    """Inputs clamped to X (B, n_in), or (K, B, n_in) per network; other neurons ~
    Uniform(0, init_state), one draw per network from its own generator. Returns (K, B, N)."""
    B = X.shape[-2]
    s0 = np.empty((len(rngs), B, topo.n))
    s0[..., topo.inputs] = X
    for k, rng in enumerate(rngs):
        s0[k, :, topo.n_in:] = rng.uniform(0.0, init_state, size=(B, topo.n - topo.n_in))
    return s0


def free_phase(net: Network, cfg: TrainConfig, X: np.ndarray, rngs, solver: str | None = None,
               *, init_state: float | None = None, field: AffineField | None = None
               ) -> tuple[AffineField, SettleResult]:
    """The free phase from starts ~ Uniform(0, ``init_state``) (default the config's),
    on the network's own field or on ``field`` (e.g. read from hardware)."""
    field = field if field is not None else field_of(net, cfg, X.shape[-2])
    s0 = initial_states(net.topology, X, rngs, cfg.init_state if init_state is None else init_state)
    return field, settle(field, s0, solver=solver or cfg.solver, dt=cfg.dt, steps=cfg.t1,
                         tol=cfg.tol, max_steps=cfg.max_steps, newton_at=cfg.newton_at, max_dt=cfg.max_dt)


def new_networks(topo: Topology, cfg: TrainConfig, rngs: list[np.random.Generator]) -> Network:
    W = np.stack([topo.init_weights(rng, 1, cfg.init_std)[0] for rng in rngs])
    W = models.get(cfg.model).constrain(W, topo.free_mask(), cfg)
    K = len(rngs)
    alive = np.broadcast_to(topo.mask(), (K, topo.n, topo.n)).copy()
    return Network(topo, W, np.zeros((K, topo.n)), alive)


def perturbed(net: Network, sigma: float, rngs: list[np.random.Generator]) -> Network:
    """The network with fresh ``N(0, sigma^2)`` on every live weight (each network from
    its own generator); dead and disallowed entries stay 0."""
    N = net.topology.n
    noise = np.stack([rng.standard_normal((N, N)) for rng in rngs])
    return Network(net.topology, np.where(net.alive, net.W + sigma * noise, 0.0), net.b, net.alive)


class Engine(Protocol):
    """Settles a phase: ``engine(field, s0, steps=..., accumulate=..., hebbian=...)`` ->
    ``SettleResult`` (``circuits/engines.py`` registers every engine by name)."""

    def __call__(self, field: AffineField, s0: np.ndarray, *, steps: int, accumulate: bool = False,
                 hebbian: bool = False) -> SettleResult: ...


def numpy_engine(cfg: TrainConfig) -> Engine:
    """The models/ solver (``cfg.solver``) as an engine; with ``cfg.paper_horizon`` a phase
    of ``steps`` steps (T1 or T2) stops there when not settled, else at ``cfg.max_steps``."""
    if not cfg.paper_horizon:
        return partial(settle, solver=cfg.solver, dt=cfg.dt, tol=cfg.tol, max_steps=cfg.max_steps,
                       newton_at=cfg.newton_at, max_dt=cfg.max_dt)

    def engine(field: AffineField, s0: np.ndarray, *, steps: int, accumulate: bool = False,
               hebbian: bool = False) -> SettleResult:
        return settle(field, s0, solver=cfg.solver, dt=cfg.dt, steps=steps, tol=cfg.tol, max_steps=steps,
                      accumulate=accumulate, hebbian=hebbian, newton_at=cfg.newton_at, max_dt=cfg.max_dt)
    return engine


HISTORY_KEYS = ("mse_free", "mse_nudged", "err_free", "err_nudged", "dw_norm", "residual_free",
                "residual_nudged", "steps_free", "steps_nudged", "sparsity")


def step(net: Network, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, rngs: list[np.random.Generator],
         epoch: int, engine: Engine, field: AffineField) -> tuple[Network, dict[str, np.ndarray]]:
    """One update on the batch (X (B, n_in), Y (B, n_out), or per network (K, B, ...)):
    the free phase from fresh starts and the nudged phase on ``field`` (the
    substrate's), the model's update of ``net``'s weights, L1 (in the pruning window), decay, clipping, the model's
    constraint and pruning. Returns the network the update asks for and the metrics of
    :data:`HISTORY_KEYS`, each (K,)."""
    topo, model = net.topology, models.get(cfg.model)
    B, out, free_mask = X.shape[-2], topo.outputs, topo.free_mask()
    free = engine(field, initial_states(topo, X, rngs, cfg.init_state), steps=cfg.t1)
    nudged = engine(field.nudged(cfg.beta, Y, topo.output_mask()), free.s, steps=cfg.t2,
                    accumulate=model.trajectory, hebbian=model.trajectory and cfg.beta0 != 0)
    dW, db = model.update(free, nudged, cfg if cfg.eta_final is None else replace(cfg, eta=cfg.learning_rate(epoch)), B)
    late = cfg.prune_start <= epoch < (cfg.prune_stop or cfg.epochs)
    W_new = apply_update(net.W, dW, net.alive, l1=cfg.l1 if late else 0.0, sign=cfg.sign)
    W_new *= 1.0 - cfg.weight_decay
    if cfg.weight_clip is not None:
        W_new = np.clip(W_new, -cfg.weight_clip, cfg.weight_clip)
    W_new = model.constrain(W_new, free_mask, cfg)
    b_new = (net.b + (0.0 if db is None else db)) * free_mask
    alive = net.alive
    if cfg.prune and late:
        u = np.stack([rng.random((topo.n, topo.n)) for rng in rngs])
        alive = sparsify(W_new, net.alive, u, tol=cfg.prune_tol, temp=cfg.prune_temp)
        W_new = np.where(alive, W_new, 0.0)
    classes = target_classes(Y)
    row = {
        "mse_free": ((free.s[..., out] - Y) ** 2).sum(-1).mean(-1) / 2,
        "mse_nudged": ((nudged.s[..., out] - Y) ** 2).sum(-1).mean(-1) / 2,
        "err_free": (model.readout(free.s[..., out]) != classes).mean(-1),
        "err_nudged": (model.readout(nudged.s[..., out]) != classes).mean(-1),
        "dw_norm": np.sqrt(((W_new - net.W) ** 2).sum((-1, -2))),
        "residual_free": free.residual.max(-1),
        "residual_nudged": nudged.residual.max(-1),
        "steps_free": free.steps.max(-1),
        "steps_nudged": nudged.steps.max(-1),
        "sparsity": 1.0 - alive.sum((-1, -2)) / topo.mask().sum(),
    }
    return Network(topo, W_new, b_new, alive), row


Batches = Callable[[int], Iterable[tuple[np.ndarray, np.ndarray]]]
"""``batches(epoch)``: the (X, Y) batches of an epoch, in order."""


def full_batch(X: np.ndarray, Y: np.ndarray) -> Batches:
    """Every epoch one batch of all samples (the paper's training)."""
    return lambda epoch: ((X, Y),)


def minibatches(X: np.ndarray, Y: np.ndarray, size: int, rngs: list[np.random.Generator]) -> Batches:
    """Every epoch the samples of (X (S, n_in), Y (S, n_out)) in a fresh order per
    network (``rngs``: one generator per network, e.g. the ``SHUFFLE`` stream), cut into
    batches of ``size`` (the last one smaller when ``size`` does not divide S). A batch
    is (K, b, n_in), (K, b, n_out): network k sees its own order."""
    S = X.shape[0]
    if not (isinstance(size, (int, np.integer)) and 1 <= size):
        raise ValueError(f"batch size must be an integer >= 1; got {size!r}")

    def batches(epoch: int):
        order = np.stack([rng.permutation(S) for rng in rngs])  # (K, S)
        for start in range(0, S, size):
            idx = order[:, start:start + size]
            yield X[idx], Y[idx]
    return batches


class Substrate(Protocol):
    """What the phases run on and what the updates go to. ``field(net, batch)``: the
    field of this step (the network as measured); ``apply(net, target)``: realise the
    update from ``net`` to ``target``, returning the substrate's own metrics (``keys``),
    each (K,); ``result(net)``: the trained networks as the substrate holds them."""

    keys: tuple[str, ...]

    def field(self, net: Network, batch: int) -> AffineField: ...

    def apply(self, net: Network, target: Network) -> dict[str, np.ndarray]: ...

    def result(self, net: Network) -> Network: ...


@dataclass
class Software:
    """The weights are the substrate: the phases settle on them (plus fresh weight noise
    per step with ``train_noise``, from the training generators) and an update is exact."""

    cfg: TrainConfig
    rngs: list[np.random.Generator]
    keys: tuple[str, ...] = ()

    def field(self, net: Network, batch: int) -> AffineField:
        noisy = perturbed(net, self.cfg.train_noise, self.rngs) if self.cfg.train_noise else net
        return field_of(noisy, self.cfg, batch)

    def apply(self, net: Network, target: Network) -> dict[str, np.ndarray]:
        return {}

    def result(self, net: Network) -> Network:
        return net


# How an epoch of several batches reports each metric (a single batch: its own row).
_LAST = ("sparsity",)
_MAX = ("residual_free", "residual_nudged", "steps_free", "steps_nudged", "w_read_error")
_SUM = ("pulses",)


def combine(rows: list[dict[str, np.ndarray]], sizes: list[int]) -> dict[str, np.ndarray]:
    """One epoch's metrics from its batches' rows: the largest residual, step count and
    read error; the total pulses; the last sparsity; the sum of the batches' weight-change
    norms (``dw_norm``: the length of the epoch's path in weight space); every other
    metric the mean over samples (batches weighted by their sizes)."""
    if len(rows) == 1:
        return rows[0]
    w = np.asarray(sizes, float) / sum(sizes)
    out = {}
    for key in rows[0]:
        vals = np.stack([r[key] for r in rows])
        if key in _LAST:
            out[key] = vals[-1]
        elif key in _MAX:
            out[key] = vals.max(0)
        elif key in _SUM or key == "dw_norm":
            out[key] = vals.sum(0)
        else:
            out[key] = np.tensordot(w, vals, axes=1)
    return out


EpochCallback = Callable[[int, dict], None]
Judge = Callable[[Network], dict[str, np.ndarray]]
"""Metrics of the networks as the substrate holds them after an epoch, each (K,)."""


def train_loop(net: Network, cfg: TrainConfig, batches: Batches, rngs: list[np.random.Generator],
               substrate: Substrate, engine: Engine | None = None, on_epoch: EpochCallback | None = None,
               judge: Judge | None = None) -> tuple[Network, dict[str, np.ndarray]]:
    """``cfg.epochs`` epochs of ``step`` over ``batches`` on ``substrate``, from ``net``.
    Returns the trained networks (``substrate.result``) and the history: every metric of
    :data:`HISTORY_KEYS`, ``substrate.keys`` and ``judge``, (epochs, K), one row per
    epoch (``combine`` of its batches, then ``judge`` of the networks). ``on_epoch(epoch,
    row)`` after every epoch."""
    engine = engine or numpy_engine(cfg)
    K = len(rngs)
    hist = {k: np.zeros((cfg.epochs, K)) for k in (*HISTORY_KEYS, *substrate.keys)}
    for epoch in range(cfg.epochs):
        rows, sizes = [], []
        for X, Y in batches(epoch):
            target, row = step(net, cfg, X, Y, rngs, epoch, engine, substrate.field(net, X.shape[-2]))
            row.update(substrate.apply(net, target))
            net = target
            rows.append(row)
            sizes.append(X.shape[-2])
        row = combine(rows, sizes)
        if judge is not None:
            row.update(judge(substrate.result(net)))
        for k, v in row.items():
            hist.setdefault(k, np.zeros((cfg.epochs, K)))[epoch] = v
        if on_epoch is not None:
            on_epoch(epoch, row)
    return substrate.result(net), hist


def train(topo: Topology, cfg: TrainConfig, X: np.ndarray, Y: np.ndarray, seeds: list[int],
          on_epoch: EpochCallback | None = None, engine: Engine | None = None,
          batches: Batches | None = None, judge: Judge | None = None) -> tuple[Network, dict[str, np.ndarray]]:
    """Train one network per seed on (X (B, n_in), Y (B, n_out)) in software, all seeds in
    one batch of networks; ``batches`` (default: the full batch, the paper's) and
    ``judge`` as in ``train_loop``.

    The history, each entry (epochs, K): ``mse_free``, ``mse_nudged`` (sum of squared
    output errors / 2 / B, as the paper), ``err_free``, ``err_nudged`` (fraction
    misclassified), ``dw_norm`` (Frobenius norm of the applied change),
    ``residual_free``, ``residual_nudged`` (largest projected residual at the end of the
    phase), ``steps_free``, ``steps_nudged`` (largest step count), ``sparsity`` (fraction
    of allowed connections removed).
    """
    rngs = generators(seeds)
    return train_loop(new_networks(topo, cfg, rngs), cfg, batches or full_batch(X, Y), rngs,
                      Software(cfg, rngs), engine, on_epoch, judge)
