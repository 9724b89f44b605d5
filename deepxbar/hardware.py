"""The hardware on the command line: the device options (``--device``, ``--device-set``,
``--drift-time``; for training the crossbar's wires, tiles, write-verify and off conductance),
parsed into a ``DeviceConfig`` or a ``CrossbarConfig`` with one-line errors."""
from __future__ import annotations

import math
import typing
from dataclasses import fields, replace

from hw.crossbar import CrossbarConfig
from hw.wires import TILE_SIZE
from hw.devices import PRESETS, DeviceConfig, get_preset

from .options import MAX_WRITE_VERIFY, add_line_resistance_option, add_tile_option, count

DEVICE_FIELDS = {f.name: f for f in fields(DeviceConfig) if f.name != "name"}
_DEVICE_TYPES = typing.get_type_hints(DeviceConfig)  # the annotations are strings (PEP 563)


def add_device_options(p, train: bool) -> None:
    p.add_argument("--device", choices=sorted(PRESETS), default="ideal" if train else None,
                   help="device preset (default: ideal); `deepxbar devices` lists them")
    p.add_argument("--device-set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a device parameter (SI units), e.g. write_noise=0.02; repeatable")
    p.add_argument("--drift-time", type=float, metavar="SECONDS",
                   help="reads happen this long after programming (conductance drift; default: none)")
    if train:
        add_line_resistance_option(p, 0.0, "(default 0)")
        p.add_argument("--write-verify", type=count(MAX_WRITE_VERIFY, low=0), default=0, metavar="K",
                       help=f"read-back-and-correct rounds after each update, 0 to {MAX_WRITE_VERIFY} (default 0)")
        p.add_argument("--off-conductance", type=float, default=0.0, metavar="SIEMENS",
                       help="leakage of a switched-off cell's select switch, per device (default 0 S)")
        add_tile_option(p)


def device_field_value(key: str, text: str):
    """``text`` parsed as DeviceConfig field ``key`` by the field's type: a string for
    ``str`` fields, an integer for ``int``, a finite number for ``float``, and ``None``
    for the word ``none`` where the field is ``Optional``. ValueError (one line, without
    the option's name) for an unknown field or a value of the wrong kind; the device
    itself checks the range (``DeviceConfig.__post_init__``)."""
    if key not in DEVICE_FIELDS:
        raise ValueError(f"unknown field {key!r} (one of {', '.join(DEVICE_FIELDS)})")
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
        if not sep or key not in DEVICE_FIELDS:
            raise ValueError(f"--device-set {item!r}: expected FIELD=VALUE with FIELD one of "
                             f"{', '.join(DEVICE_FIELDS)}")
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
                      off_conductance=args.off_conductance,
                      tile_size=TILE_SIZE if args.tile_size is None else args.tile_size)
        for name in ("drift_time", "line_resistance", "off_conductance"):
            v = kw.get(name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"--{name.replace('_', '-')} must be finite, got {v!r}")
        return CrossbarConfig(**kw)
    except ValueError as e:
        raise ValueError(f"device: {e}") from None

