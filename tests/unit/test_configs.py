"""The named configs: the paper's notebook hyperparameters, the project's default, and
how --prune rescales its schedule."""
import pytest

from deepxbar.configs import CONFIGS, DEFAULT_DEEP, DEFAULT_PRUNE, PAPER_L1, preset
from models import model as models


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", models.names())
@pytest.mark.parametrize("one_hot", [False, True])
def test_every_config_has_a_preset_for_every_model(config, name, one_hot):
    p = preset(config, name, one_hot)
    assert p.train.model == name
    assert p.pruned().prune and not p.train.prune


def test_paper_values_are_the_notebooks():
    deep = preset("paper", "deep", False).train
    assert (deep.n_hidden, deep.beta, deep.eta, deep.gamma, deep.epochs) == (5, 10.0, 100.0, 0.0, 200)
    hot = preset("paper", "deep", True).train
    assert (hot.n_hidden, hot.beta, hot.eta) == (2, 1.0, 200.0)
    asym = preset("paper", "asym-ep", False)
    assert (asym.train.beta, asym.train.eta, asym.bias_input) == (10.0, 1.0, False)
    assert preset("paper", "deep", False).pruned().l1 == PAPER_L1
    assert preset("default", "asym-ep", False).bias_input  # the project's asym-EP keeps a bias input


def test_default_prune_schedule_and_its_rescaling():
    p = preset("default", "deep", False)
    assert p.train == DEFAULT_DEEP
    full = p.pruned()
    assert (full.epochs, full.prune_start, full.prune_stop, full.l1) == (1400, 1000, 1200, DEFAULT_PRUNE["l1"])
    half = p.pruned(l1=1e-3, epochs=700)
    assert (half.epochs, half.prune_start, half.prune_stop, half.l1) == (700, 500, 600, 1e-3)
    tiny = p.pruned(epochs=1)  # the window collapses: pruning never stops
    assert tiny.prune_start == 1 and tiny.prune_stop is None


def test_unknown_config_is_named():
    with pytest.raises(ValueError, match="config must be one of paper, default"):
        preset("best", "deep", False)


def test_data_presets_by_size_and_config():
    from deepxbar.configs import SMALL_DATA, data_preset
    small, large = data_preset("default", "deep", SMALL_DATA), data_preset("default", "deep", SMALL_DATA + 1)
    assert small.batch_size is None and small.train.architecture == "complete"  # the full batch
    assert large.batch_size == 32 and large.train.architecture == "skip" and large.train.n_hidden == 128
    assert data_preset("default", "asym-ep", SMALL_DATA + 1).train.architecture == "layered"
    assert large.train.newton_at is not None and small.train.newton_at is None
    assert data_preset("default", "asym-ep", 10).train.model == "asym-ep"
    with pytest.raises(ValueError, match="logic tasks"):
        data_preset("paper", "deep", 10)
