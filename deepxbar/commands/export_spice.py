"""`deepxbar export-spice RUN_DIR -o FILE.cir`: one network of a trained run, one sample
and phase, as a standalone ngspice deck (``deepxbar.spice`` builds it)."""
from __future__ import annotations

from pathlib import Path

from circuits.physics import V_FS

from ..options import MAX_SAMPLES, chip_options, count, seed_type
from ..runs import RunError, check_file_writable, load_run, write_file_atomically


def add_parser(sub):
    p = sub.add_parser("export-spice", help="write a trained network as a standalone ngspice deck",
                       description="A trained network as a deck that `ngspice -b FILE` runs as it is: for a "
                       "run trained with --device, the run's own crossbar (its conductances, g0, stuck and "
                       "switched-off cells, wires); for a software run, the ideal mapping of its weights. "
                       "ngspice prints vJ = V(nJ) in volts at the end of the transient; the neuron states "
                       "are vJ / V_fs (V_fs = 0.2 V, C = 1 pF, tau = C/g0; see circuits/physics.py).")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.cir")
    p.add_argument("--style", choices=("behavioural", "crossbar"), default="behavioural",
                   help="one VCCS per connection (default) or device level: a resistor per device")
    p.add_argument("--phase", choices=("free", "nudged"), default="free")
    p.add_argument("--sample", type=count(MAX_SAMPLES, low=0), default=0, help="which pattern (default 0)")
    p.add_argument("--seed", type=seed_type, help="which network of the run (default: its first seed)")
    chip_options(p)
    return p


def run(args) -> int:
    from ..spice import chip_of, export_deck, with_measurements

    out = Path(args.output)
    check_file_writable(out, "-o")
    run = load_run(args.run_dir)
    seed = run.seeds[0] if args.seed is None else args.seed
    if seed not in run.seeds:
        raise RunError(f"--seed {seed}: the run has seeds {run.seeds}")
    chip = chip_of(run, args.time, args.line_resistance, args.tile_size)
    deck = export_deck(run, chip, args.style, args.phase, run.seeds.index(seed), args.sample)
    deck = with_measurements(deck, run.net.topology.n)
    write_file_atomically(out, lambda p: p.write_text(deck), option="-o")
    what = "the run's crossbar" if chip.hardware else "the ideal mapping of the weights"
    print(f"wrote {out} ({args.style}, {args.phase} phase, seed {seed}, sample {args.sample}, {what}, "
          f"g0 {chip.g0:.4g} S, wires {chip.line_resistance:g} ohm, tiles of {chip.tile_size}); run it with: ngspice -b {out} "
          f"(states = printed vJ / {V_FS:g} V)")
    return 0
