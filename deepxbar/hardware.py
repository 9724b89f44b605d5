"""Command-line pieces for the hardware: device options, `deepxbar devices`, and the
Monte-Carlo stability report under a device preset."""
from __future__ import annotations

import json
import math
import typing
from dataclasses import asdict, fields, replace
from pathlib import Path

import numpy as np

from hw.crossbar import CrossbarConfig
from hw.devices import PRESETS, DeviceConfig, get_preset, plot_device

from .runs import write_file_atomically

_DEVICE_FIELDS = {f.name: f for f in fields(DeviceConfig) if f.name != "name"}
_DEVICE_TYPES = typing.get_type_hints(DeviceConfig)  # the annotations are strings (PEP 563)


def add_device_options(p, train: bool) -> None:
    p.add_argument("--device", choices=sorted(PRESETS), default="ideal" if train else None,
                   help="device preset (default: ideal); `deepxbar devices` lists them")
    p.add_argument("--device-set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a device parameter (SI units), e.g. write_noise=0.02; repeatable")
    p.add_argument("--drift-time", type=float, metavar="SECONDS",
                   help="reads happen this long after programming (conductance drift; default: none)")
    if train:
        p.add_argument("--line-resistance", type=float, default=0.0, metavar="OHMS",
                       help="wire resistance per crossbar segment (default 0)")
        p.add_argument("--write-verify", type=int, default=0, metavar="K",
                       help="read-back-and-correct rounds after each update (default 0)")
        p.add_argument("--off-conductance", type=float, default=0.0, metavar="SIEMENS",
                       help="leakage of a switched-off cell's select switch, per device (default 0 S)")


def device_field_value(key: str, text: str):
    """``text`` parsed as DeviceConfig field ``key`` by the field's type: a string for
    ``str`` fields, an integer for ``int``, a finite number for ``float``, and ``None``
    for the word ``none`` where the field is ``Optional``. ValueError (one line, without
    the option's name) for an unknown field or a value of the wrong kind; the device
    itself checks the range (``DeviceConfig.__post_init__``)."""
    if key not in _DEVICE_FIELDS:
        raise ValueError(f"unknown field {key!r} (one of {', '.join(_DEVICE_FIELDS)})")
    kind = _DEVICE_TYPES[key]
    text = str(text).strip()
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    optional = typing.get_origin(kind) is typing.Union and len(args) == 1
    if optional:
        if text.lower() == "none":
            return None
        kind = args[0]
    what = {str: "a string", int: "an integer", float: "a finite number"}.get(kind, str(kind))
    what += ", or none" if optional else ""
    try:
        if kind is str:
            if not text:
                raise ValueError
            return text
        if kind is int:
            return int(text)
        if kind is float:
            v = float(text)
            if not math.isfinite(v):
                raise ValueError
            return v
    except ValueError:
        raise ValueError(f"{text!r} is not a valid {key} ({what})") from None
    raise ValueError(f"{key}: fields of type {kind} cannot be set from text")


def device_config(name: str, sets: list[str]) -> DeviceConfig:
    """The preset with ``FIELD=VALUE`` overrides, each parsed by the field's type
    (``device_field_value``); ValueError with one line otherwise."""
    dev = get_preset(name)
    changes = {}
    for item in sets:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in _DEVICE_FIELDS:
            raise ValueError(f"--device-set {item!r}: expected FIELD=VALUE with FIELD one of "
                             f"{', '.join(_DEVICE_FIELDS)}")
        try:
            changes[key] = device_field_value(key, value)
        except ValueError as e:
            raise ValueError(f"--device-set {item!r}: {e}") from None
    return replace(dev, **changes) if changes else dev


def crossbar_config(args, train: bool) -> CrossbarConfig:
    try:
        dev = device_config(args.device or "ideal", args.device_set)
        kw = {"device": dev, "drift_time": args.drift_time}
        if train:
            kw.update(line_resistance=args.line_resistance, write_verify=args.write_verify,
                      off_conductance=args.off_conductance)
        for name in ("drift_time", "line_resistance", "off_conductance"):
            v = kw.get(name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"--{name.replace('_', '-')} must be finite, got {v!r}")
        return CrossbarConfig(**kw)
    except ValueError as e:
        raise ValueError(f"device: {e}") from None


def cmd_devices(args) -> int:
    if args.plot:
        dev = get_preset(args.plot)
        out = Path(args.out or f"device-{dev.name}.png")
        _atomic_png(out, lambda p: plot_device(dev, p, np.random.default_rng(0)))
        print(f"wrote {out}")
        return 0
    rows = {name: asdict(cfg) for name, cfg in PRESETS.items()}
    if args.json:
        print(json.dumps(rows))
        return 0
    keys = [k for k in _DEVICE_FIELDS]
    print(f"{'parameter':<14}" + "".join(f"{n:>12}" for n in rows))
    for k in keys:
        print(f"{k:<14}" + "".join(f"{_fmt(rows[n][k]):>12}" for n in rows))
    print("conductances in S, times in s; noises are standard deviations (see hw/devices.py)")
    return 0


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _atomic_png(out: Path, draw) -> None:
    write_file_atomically(out, draw, suffix=".png")


def plot_monte_carlo(mc: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    axes[0].hist(mc["abscissa"].ravel(), bins=30, color="C0")
    axes[0].axvline(0, color="k", lw=1)
    axes[0].set(xlabel="spectral abscissa of the DEEP Jacobian (global)", ylabel="instances",
                title="global stability margin")
    axes[1].hist(mc["accuracy"].ravel(), bins=np.linspace(0, 1, 21), color="C1")
    axes[1].set(xlabel="accuracy", ylabel="instances",
                title=f"P(stable, local) = {mc['stable'].mean():.2f}, "
                      f"P(Gershgorin) = {mc['gershgorin'].mean():.2f}")
    fig.suptitle(title)
    _atomic_png(Path(path), lambda p: fig.savefig(p, dpi=100))
    plt.close(fig)
