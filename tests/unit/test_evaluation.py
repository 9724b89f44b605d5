"""Judging trained networks: repeated free phases (Evaluation), basin accuracy, weight
noise and the stability report, on small networks whose answers are known."""
import numpy as np

from models import model as models
from models.settle import settle
from models.evaluation import (Evaluation, StabilityReport, basin_accuracy, evaluate, stability_report,
                               weight_noise_robustness)
from models.streams import EVAL, generators
from models.topology import Topology
from models.training import Network, TrainConfig, initial_states

TOPO = Topology(3, 1, 1, "layered")  # inputs 0, 1 (data) and 2 (bias); hidden 3; output 4
X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], float)
Y_OR = np.array([[0.0], [1.0], [1.0], [1.0]])
CFG = TrainConfig(gamma=1.0, n_hidden=1, architecture="layered")


def or_network(K=2) -> Network:
    """The inputs drive one hidden relay (weights 1), the relay the output (weight 2); with
    leak 1 the relay settles at (x1 + x2) / 3 and the output at 2/3 or 1: OR."""
    W = np.zeros((K, 5, 5))
    W[:, 0, 3] = W[:, 1, 3] = 1.0     # the inputs drive the hidden neuron
    W[:, 3, 4] = 2.0                  # which drives the output
    alive = np.broadcast_to(TOPO.mask(), W.shape).copy()
    return Network(TOPO, np.where(alive, W, 0.0), np.zeros((K, 5)), alive)


def test_evaluation_shapes_and_verdicts_on_a_known_network():
    net = or_network()
    ev = evaluate(net, CFG, X, Y_OR, [0, 1], repeats=3)
    assert isinstance(ev, Evaluation)
    assert ev.outputs.shape == (2, 3, 4, 1) and ev.states.shape == (2, 3, 4, 5) and len(ev.fields) == 3
    assert ev.right.all() and ev.correct.all() and ev.converged.all() and np.all(ev.error == 0)
    assert ev.success.tolist() == [True, True] and ev.accuracy.tolist() == [1.0, 1.0]
    # judged against AND, the same states are wrong on patterns 1 and 2
    wrong = evaluate(net, CFG, X, np.array([[0.0], [0.0], [0.0], [1.0]]), [0, 1], repeats=3)
    assert wrong.right[..., [0, 3]].all() and not wrong.right[..., [1, 2]].any()
    assert not wrong.success.any() and np.allclose(wrong.accuracy, 0.5) and np.allclose(wrong.error, 0.5)


def test_evaluation_starts_come_from_their_own_stream():
    net = or_network(1)
    ev = evaluate(net, CFG, X, Y_OR, [7], repeats=2, solver="reference", init_state=0.3)
    assert ev.init_state == 0.3
    for r in range(2):  # the reference solver from the documented starts gives these states
        s0 = initial_states(TOPO, X, generators([7], EVAL, r), 0.3)
        field = models.get("deep").field(net.W, net.b, 4, TOPO.free_mask(), 1.0)
        ref = settle(field, s0, solver="reference", dt=CFG.dt, steps=CFG.t1)
        assert np.array_equal(ev.states[:, r], ref.s)
    assert ev.converged.all()  # the reference solver is judged where it stops


def test_a_field_source_is_asked_once_per_repeat_and_used():
    net = or_network(1)
    asked = []
    dead = models.get("deep").field(np.zeros_like(net.W), net.b, 4, TOPO.free_mask(), 1.0)

    def source(r):
        asked.append(r)
        return dead   # a chip whose devices all failed: every state decays to 0

    ev = evaluate(net, CFG, X, Y_OR, [0], repeats=3, field=source)
    assert asked == [0, 1, 2] and ev.fields == [dead] * 3
    assert np.allclose(ev.outputs, 0.0, atol=1e-6) and ev.accuracy[0] == 0.25  # only pattern 0 (target 0) right


def test_basin_accuracy_and_weight_noise():
    net = or_network(1)
    assert basin_accuracy(net, CFG, X, Y_OR, [0], starts=4).tolist() == [1.0]
    rob = weight_noise_robustness(net, CFG, X, Y_OR, [0], sigmas=[0.0, 3.0], trials=4)
    assert rob["sigmas"] == [0.0, 3.0] and rob["accuracy"].shape == (2, 1, 4)
    assert rob["all_correct"][0].all() and np.all(rob["accuracy"][0] == 1.0)  # no noise: as trained
    assert rob["accuracy"][1].mean() < 1.0  # noise of 3 (larger than the weights) breaks some trials


def test_stability_report_of_a_stable_and_an_unstable_network():
    net = or_network(1)
    rep = stability_report(net, CFG, X, [5], repeats=2)[0]
    assert isinstance(rep, StabilityReport) and rep.seed == 5
    assert rep.gershgorin["hurwitz"] and rep.spectral_abscissa_global < 0
    # patterns 1..3 are certified; pattern 0 rests at the rails with zero field, which
    # the certificate does not count as held (strictly pushed outward): not stable
    assert len(rep.equilibria) == 2 * 4 and rep.certified == 6 and not rep.stable
    assert [e["pattern"] for e in rep.equilibria if not e["stable"]] == [0, 0]
    assert not any(e["pushed_outward"] for e in rep.equilibria if e["pattern"] == 0)
    assert rep.spectral_abscissa_local_max == -1.0
    # a self-exciting pair without leak: W[3,4] = W[4,3] = 2 has a positive global abscissa
    W = net.W.copy()
    W[:, 4, 3] = 2.0
    loose = Network(TOPO, W, net.b, np.ones_like(net.alive))
    bad = stability_report(loose, TrainConfig(gamma=0.0), X, [5], repeats=1)[0]
    assert not bad.gershgorin["hurwitz"]
