"""Named hyperparameter sets: ``paper`` (the ESANN 2020 notebooks exactly) and
``default`` (the project's best DEEP setting, see README "Reproduction")."""
from __future__ import annotations

from dataclasses import dataclass, replace

from models.training import TrainConfig

CONFIGS = ("paper", "default")
PAPER_L1 = 1.5e-4  # the notebooks' reg_W


@dataclass(frozen=True)
class Preset:
    """A training config plus the two task-level choices that go with it."""

    train: TrainConfig
    bias_input: bool = True  # the paper's asym-EP notebook has no bias column (it has b)
    prune_l1: float = PAPER_L1  # L1 used with --prune unless --l1 is given


def _paper(model: str, one_hot: bool) -> Preset:
    if model == "asym-ep":
        return Preset(TrainConfig(model="asym-ep", n_hidden=5, beta=10.0, eta=1.0), bias_input=False)
    if one_hot:
        return Preset(TrainConfig(n_hidden=2, beta=1.0, eta=200.0))
    return Preset(TrainConfig(n_hidden=5, beta=10.0, eta=100.0))


def _default(model: str, one_hot: bool) -> Preset:
    paper = _paper(model, one_hot)
    if model == "asym-ep":
        return replace(paper, bias_input=True)
    return paper


def preset(name: str, model: str, one_hot: bool) -> Preset:
    if name == "paper":
        return _paper(model, one_hot)
    if name == "default":
        return _default(model, one_hot)
    raise ValueError(f"config must be one of {', '.join(CONFIGS)}; got {name!r}")
