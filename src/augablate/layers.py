"""Keras 3 augmentation layers as transforms of the study: what the config says (no TensorFlow).

An entry of the config's ``augmentation`` section whose value is a mapping with a ``layer`` key
is a *layer transform*: a Keras 3 image preprocessing layer by its name in ``keras.layers`` and
its keyword arguments, e.g.::

    augmentation:
      randaugment: {layer: RandAugment, args: {num_ops: 2, factor: 0.5}, sweep: factor}
      mixup: {layer: MixUp, args: {alpha: 0.2}, sweep: alpha}

Its key names the transform (the variants ``randaugment``, ``all-minus-mixup``, ...), like the
built-in transforms of :data:`augablate.variants.TRANSFORMS`, after which layer transforms come,
in the order of the config. ``sweep`` names the argument a strength variant sets:
``randaugment@0.3`` is RandAugment with ``factor: 0.3`` (an integer when the entry's own value
of that argument is one, e.g. ``num_ops``); without ``sweep`` there are no strength levels.

A layer transform draws from its own random stream (:attr:`LayerTransform.stream`, from its
name), so that it draws the same in every variant and switching another transform on or off
changes nothing it draws. Running the layers, and checking an entry by building and calling it,
is :mod:`augablate.layer_augment` (TensorFlow).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Layers that mix two images of a batch and their labels: they run last, on soft labels.
MIXING_LAYERS = frozenset({"MixUp", "CutMix"})
#: The keys of a layer transform's entry.
ENTRY_KEYS = ("layer", "args", "sweep")
#: A transform's name: also a variant's name and a folder name, so plain.
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Layer transforms' streams start here, far above the built-in transforms' (1 to 15).
STREAM_BASE = 1 << 16


def _frozen(value):
    """Lists (YAML sequences) as tuples, mappings as sorted item tuples: a hashable value."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, Mapping):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


def _plain(value):
    """The inverse of :func:`_frozen` for arguments: tuples back to lists (JSON, YAML)."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class LayerTransform:
    """One layer transform: its config key, the layer's name in ``keras.layers``, its keyword
    arguments (sorted, frozen) and the argument a strength variant sets."""

    name: str
    layer: str
    args: tuple[tuple[str, Any], ...] = ()
    sweep: str | None = None

    @classmethod
    def from_entry(cls, name: str, entry: Mapping) -> LayerTransform:
        """The transform of config key ``augmentation.<name>``; ValueError naming the key."""
        key = f"config key 'augmentation.{name}'"
        if not NAME.match(name) or name in ("none", "all") or name.startswith("all-minus-"):
            raise ValueError(
                f"{key}: a layer transform's name must be lower-case letters, digits and _ "
                "(it names variants and folders), and not none or all"
            )
        if unknown := set(entry) - set(ENTRY_KEYS):
            raise ValueError(f"{key}: unknown key(s) {sorted(unknown)}; allowed: {ENTRY_KEYS}")
        layer, args, sweep = entry.get("layer"), entry.get("args") or {}, entry.get("sweep")
        if not isinstance(layer, str) or not layer:
            raise ValueError(f"{key}: 'layer' must name a layer of keras.layers, got {layer!r}")
        if not isinstance(args, Mapping) or not all(isinstance(a, str) for a in args):
            raise ValueError(f"{key}: 'args' must map argument names to values, got {args!r}")
        if "seed" in args:
            raise ValueError(
                f"{key}: 'args' sets 'seed'; the study seeds every layer from the run's seed and "
                "the batch number: remove it"
            )
        if sweep is not None and not isinstance(sweep, str):
            raise ValueError(f"{key}: 'sweep' must name one of the layer's arguments")
        return cls(name, layer, _frozen(dict(args)), sweep)

    @property
    def arguments(self) -> dict[str, Any]:
        """The keyword arguments, as the config wrote them (lists, not tuples)."""
        return {name: _plain(value) for name, value in self.args}

    @property
    def mixes_labels(self) -> bool:
        return self.layer in MIXING_LAYERS

    @property
    def stream(self) -> int:
        """Its random stream, from its name only (stable across processes and versions)."""
        return STREAM_BASE + zlib.crc32(self.name.encode()) % (1 << 30)

    def at(self, strength: float) -> LayerTransform:
        """The transform with its ``sweep`` argument set to ``strength``."""
        if self.sweep is None:
            raise ValueError(
                f"transform {self.name!r} has no strength levels ({self.name}@...): give its "
                f"entry config key 'augmentation.{self.name}.sweep', the argument a level sets"
            )
        current = dict(self.args).get(self.sweep)
        value = (
            int(strength)
            if isinstance(current, int) and not isinstance(current, bool) and strength.is_integer()
            else float(strength)
        )
        return LayerTransform(
            self.name, self.layer, _frozen({**self.arguments, self.sweep: value}), self.sweep
        )

    def as_entry(self) -> dict:
        """The config entry (for run params, metrics.json and hashes)."""
        entry = {"layer": self.layer, "args": self.arguments}
        if self.sweep is not None:
            entry["sweep"] = self.sweep
        return entry

    def describe(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in self.arguments.items())
        return f"{self.layer}({arguments})"


def is_layer_entry(value) -> bool:
    """Whether a value of the ``augmentation`` section is a layer transform's entry (a
    mapping: the built-in transforms' ranges are numbers, booleans, pairs or null)."""
    return isinstance(value, Mapping)
