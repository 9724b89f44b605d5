"""The subcommands of ``deepxbar``, one module each: ``add_parser(sub)`` registers its
options (and returns its parser), ``run(args) -> int`` does the work and gives the exit
code. ``deepxbar/cli.py`` assembles them in the order of ``COMMANDS``."""
from . import deploy, devices, export_spice, robustness, stability, sweep, train, verify

COMMANDS = (train, stability, devices, export_spice, verify, sweep, deploy, robustness)
