"""The transform registry and the study's variants.

Every transform is ONE entry of :data:`TRANSFORMS`: its name (the config key under
``augmentation`` and the variant's name), the ImageDataGenerator argument it reproduces, its
default range and off value, the JSON schema of its range, what a strength ``name@value`` sets,
how its parameters are sampled, and where it is applied: a factor of the single affine warp
(``affine``), a mirror folded into that warp (``flip``), or a pixel stage after it (``pixel``).
The settings class, the schema's ``augmentation`` section, the variant names, the config table
in config/README.md and the report's wording are all made from it. Sampling functions receive a
:class:`Draws` (stateless random numbers of the transform's own stream) and return parameters
by name; the drawing itself lives in :mod:`augablate.augment` (TensorFlow), so this module
stays importable by the Snakefile without TensorFlow.

A transform can also be a Keras 3 augmentation layer named in the config
(:class:`augablate.layers.LayerTransform`): the settings hold those of the study after the
built-in ones, and every variant below works with them too.

Variants: ``none``; ``all`` (every transform the study's ``augmentation`` switches on);
``all-minus-X``; a transform alone ``X``; user-named combinations ``X+Y``; strength levels
``X@value`` (``rotation@10``: rotation alone with a range of 10 degrees), also combined
(``rotation@10+zoom``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from augablate.layers import NAME, LayerTransform, is_layer_entry

NONE, ALL, ALL_MINUS, AND, AT = "none", "all", "all-minus-", "+", "@"


@dataclass(frozen=True, kw_only=True)
class Transform:
    """One transform (see the module's docstring), written with keywords so that each entry
    of :data:`TRANSFORMS` reads like a config block."""

    name: str
    reference: str | None  # the ImageDataGenerator argument it reproduces (None: not in it)
    default: Any  # the range when the config does not set it
    off: Any  # the range that switches it off
    stage: str  # "affine", "flip" or "pixel"
    stream: int  # its first random stream; never reuse one, so that draws stay paired
    schema: Mapping  # JSON schema of its range
    meaning: str  # what the range means, for config/README.md and the report
    sample: Callable  # (range, draws) -> {parameter: tensor [batch]}
    strength: Callable | None = None  # value of name@value -> range; None: no strength levels
    identity: Mapping = field(default_factory=dict)  # its parameters when off (warp factors)
    apply: str | None = None  # its function in augablate.augment (a flip's fold, a pixel stage)

    def is_off(self, value) -> bool:
        return value is None or value == self.off or value is False

    def range_at(self, strength: float):
        if self.strength is None:
            raise ValueError(f"transform {self.name!r} has no strength levels ({self.name}@...)")
        return self.strength(strength)


class Draws:
    """What a sampling function may ask for: uniform numbers of its own streams, one per image
    (``part`` picks a further stream of the same transform), and the image size."""

    def __init__(self, uniform: Callable, stream: int, height: int, width: int):
        self._uniform, self.stream, self.height, self.width = uniform, stream, height, width

    def uniform(self, low, high, part: int = 0):
        return self._uniform(self.stream + part, low, high)

    def chance(self, probability: float, part: int = 0):
        return self._uniform(self.stream + part, 0.0, 1.0) < probability


def _zoom(z, draws):
    return {"zx": draws.uniform(1.0 - z, 1.0 + z), "zy": draws.uniform(1.0 - z, 1.0 + z, 1)}


def _erasing(p, draws):
    """Random erasing (Zhong et al. 2020): with probability p a rectangle of 2-33% of the image,
    aspect ratio log-uniform in [0.3, 3.3], uniformly placed, set to the image's mean colour."""
    area = draws.uniform(0.02, 0.33, 1) * (draws.height * draws.width)
    ratio = draws.uniform(math.log(0.3), math.log(1 / 0.3), 2)
    return {
        "erase": draws.chance(p),
        "erase_area": area,
        "erase_log_ratio": ratio,
        "erase_y": draws.uniform(0.0, 1.0, 3),
        "erase_x": draws.uniform(0.0, 1.0, 4),
    }


_NUMBER = {"type": "number", "minimum": 0}
TRANSFORMS: tuple[Transform, ...] = (
    Transform(
        name="rotation",
        reference="rotation_range",
        default=40.0,
        off=0.0,
        stage="affine",
        stream=1,
        schema={**_NUMBER, "maximum": 180},
        meaning="degrees; angle uniform in [-r, r]",
        sample=lambda r, d: {"theta": d.uniform(-r, r)},
        strength=float,
        identity={"theta": 0.0},
    ),
    Transform(
        name="width_shift",
        reference="width_shift_range",
        default=0.2,
        off=0.0,
        stage="affine",
        stream=2,
        schema={**_NUMBER, "exclusiveMaximum": 1},
        meaning="fraction of the width; horizontal shift uniform in [-s, s] x width",
        sample=lambda s, d: {"tx": d.uniform(-s, s) * d.width},
        strength=float,
        identity={"tx": 0.0},
    ),
    Transform(
        name="height_shift",
        reference="height_shift_range",
        default=0.2,
        off=0.0,
        stage="affine",
        stream=3,
        schema={**_NUMBER, "exclusiveMaximum": 1},
        meaning="fraction of the height; vertical shift uniform in [-s, s] x height",
        sample=lambda s, d: {"ty": d.uniform(-s, s) * d.height},
        strength=float,
        identity={"ty": 0.0},
    ),
    Transform(
        name="shear",
        reference="shear_range",
        default=0.2,
        off=0.0,
        stage="affine",
        stream=4,
        schema={**_NUMBER, "maximum": 89},
        meaning="**degrees**, as the reference's `shear_range`: 0.2 is a 0.2 degree shear, almost a "
        "no-op (11.5 is the shear 0.2 radians would be)",
        sample=lambda s, d: {"shear": d.uniform(-s, s)},
        strength=float,
        identity={"shear": 0.0},
    ),
    Transform(
        name="zoom",
        reference="zoom_range",
        default=0.2,
        off=0.0,
        stage="affine",
        stream=5,  # streams 5 and 6
        schema={**_NUMBER, "exclusiveMaximum": 1},
        meaning="independent x and y factors uniform in [1-z, 1+z]; as in the reference a factor "
        "below 1 magnifies the content",
        sample=_zoom,
        strength=float,
        identity={"zx": 1.0, "zy": 1.0},
    ),
    Transform(
        name="horizontal_flip",
        reference="horizontal_flip",
        default=True,
        off=False,
        stage="flip",
        stream=7,
        schema={"type": "boolean"},
        meaning="flip left-right with probability 0.5",
        sample=lambda on, d: {"flip": d.chance(0.5)},
        identity={"flip": False},
        apply="flipped_matrices",
    ),
    Transform(
        name="vertical_flip",
        reference="vertical_flip",
        default=False,
        off=False,
        stage="flip",
        stream=8,
        schema={"type": "boolean"},
        meaning="flip upside down with probability 0.5 (opt-in)",
        sample=lambda on, d: {"flip_vertical": d.chance(0.5)},
        identity={"flip_vertical": False},
        apply="vertically_flipped",
    ),
    Transform(
        name="brightness_range",
        reference="brightness_range",
        default=None,
        off=None,
        stage="pixel",
        stream=9,
        schema={
            "type": ["array", "null"],
            "items": {"type": "number", "minimum": 0},
            "minItems": 2,
            "maxItems": 2,
        },
        meaning="[low, high]: brightness factor uniform in it, applied as the reference does (PIL's "
        "brightness enhancement on 8-bit pixels); null: off (opt-in)",
        sample=lambda r, d: {"brightness": d.uniform(r[0], r[1])},
        strength=lambda b: [1.0 - b, 1.0 + b],
        apply="brightness",
    ),
    Transform(
        name="channel_shift_range",
        reference="channel_shift_range",
        default=0.0,
        off=0.0,
        stage="pixel",
        stream=10,
        schema={**_NUMBER, "maximum": 255},
        meaning="grey levels; one shift uniform in [-c, c] added to every channel, clipped to the "
        "image's own range, as the reference (opt-in)",
        sample=lambda c, d: {"channel_shift": d.uniform(-c, c)},
        strength=float,
        apply="channel_shift",
    ),
    Transform(
        name="erasing",
        reference=None,
        default=0.0,
        off=0.0,
        stage="pixel",
        stream=11,  # streams 11 to 15
        schema={**_NUMBER, "maximum": 1},
        meaning="probability of random erasing: a rectangle of 2-33% of the image (aspect ratio "
        "0.3-3.3) set to the image's mean colour (not in ImageDataGenerator; opt-in)",
        sample=_erasing,
        strength=float,
        apply="erase",
    ),
)
BY_NAME: dict[str, Transform] = {t.name: t for t in TRANSFORMS}
FILL_MODES = ("nearest", "reflect")


def _settings_class():
    fields = [(t.name, Any, field(default=t.default)) for t in TRANSFORMS]
    fields.append(("fill_mode", str, field(default="nearest")))
    fields.append(("layers", tuple, field(default=())))  # LayerTransforms, in config order
    return dataclasses.make_dataclass("AugmentationSettings", fields, frozen=True)


class AugmentationSettings(_settings_class()):
    """The range of every transform of :data:`TRANSFORMS` (fields named after them, defaults
    from the registry), the fill mode, and the study's layer transforms (``layers``: the
    :class:`augablate.layers.LayerTransform` of every Keras layer entry, in config order; a
    variant's settings hold those it switches on)."""

    @classmethod
    def from_config(cls, config: Mapping) -> AugmentationSettings:
        """The settings of config section ``augmentation``: the built-in transforms' ranges,
        and a layer transform for every other key whose value is a mapping."""
        known = [t.name for t in TRANSFORMS] + ["fill_mode"]
        builtin = {key: value for key, value in config.items() if key in known}
        others = {key: value for key, value in config.items() if key not in known}
        if unknown := [key for key, value in others.items() if not is_layer_entry(value)]:
            raise ValueError(
                f"unknown key(s) {sorted(unknown)} in config 'augmentation'; allowed: {known}, "
                "or a Keras layer transform {layer: <name in keras.layers>, args: {...}}"
            )
        for key in known:
            if is_layer_entry(config.get(key)):
                raise ValueError(
                    f"config key 'augmentation.{key}' is a built-in transform: give the layer "
                    "transform another name"
                )
        layers = tuple(LayerTransform.from_entry(key, entry) for key, entry in others.items())
        return cls(**builtin, layers=layers)

    @classmethod
    def from_ranges(cls, ranges: Mapping) -> AugmentationSettings:
        """Settings with exactly the given transforms on (the rest off), e.g. from a run's
        params (:meth:`active_ranges`)."""
        return cls(
            **{t.name: ranges.get(t.name, t.off) for t in TRANSFORMS},
            fill_mode=ranges.get("fill_mode", "nearest"),
            layers=tuple(
                LayerTransform.from_entry(name, entry)
                for name, entry in ranges.items()
                if name not in BY_NAME and is_layer_entry(entry)
            ),
        )

    def active_ranges(self) -> dict:
        """The ranges of the transforms that are on (a layer transform's: its entry), with the
        fill mode when the warp is used: what decides a run's augmentation, and nothing else (a
        transform added to the registry later changes no finished run's params)."""
        ranges = {name: getattr(self, name) for name in self.builtin_enabled()}
        if any(BY_NAME[name].stage != "pixel" for name in ranges):
            ranges["fill_mode"] = self.fill_mode
        return {**ranges, **{layer.name: layer.as_entry() for layer in self.layers}}

    def builtin_enabled(self) -> list[str]:
        """The transforms of :data:`TRANSFORMS` that are on (those :mod:`augablate.augment`
        draws and applies)."""
        return [t.name for t in TRANSFORMS if not t.is_off(getattr(self, t.name))]

    def enabled(self) -> list[str]:
        """The transforms this study switches on (what ``all`` means): the built-in ones in
        registry order, then the layer transforms in config order."""
        return self.builtin_enabled() + [layer.name for layer in self.layers]

    def names(self) -> list[str]:
        """Every transform a variant of these settings may name."""
        return list(BY_NAME) + [layer.name for layer in self.layers]

    def range_of(self, name: str):
        """A transform's range: a built-in one's value, a layer transform's LayerTransform."""
        if name in BY_NAME:
            return getattr(self, name)
        return next(layer for layer in self.layers if layer.name == name)

    def for_variant(self, variant: str, strict: bool = False) -> AugmentationSettings:
        """The settings one variant trains with: its transforms at their ranges, the rest off
        (idempotent: the settings of a variant give the same settings again)."""
        active = variant_ranges(variant, self, strict)
        return dataclasses.replace(
            self,
            **{t.name: active.get(t.name, t.off) for t in TRANSFORMS},
            layers=tuple(active[layer.name] for layer in self.layers if layer.name in active),
        )

    def restricted_to(self, transforms: Iterable[str]) -> AugmentationSettings:
        """The same ranges with every transform not in ``transforms`` switched off."""
        enabled = set(transforms)
        if unknown := enabled - set(self.names()):
            raise ValueError(
                f"unknown transform(s) {sorted(unknown)}; allowed: {list(self.names())}"
            )
        return dataclasses.replace(
            self,
            **{t.name: getattr(self, t.name) if t.name in enabled else t.off for t in TRANSFORMS},
            layers=tuple(layer for layer in self.layers if layer.name in enabled),
        )

    @property
    def is_identity(self) -> bool:
        return not self.enabled()

    @property
    def mixes_labels(self) -> bool:
        """Whether a layer transform mixes the labels of a batch (training on soft labels)."""
        return any(layer.mixes_labels for layer in self.layers)

    def as_dict(self) -> dict:
        """Every range; the layer transforms' entries under ``layers`` when there are any (so
        that the settings of a study without them read, and hash, as before)."""
        ranges = {t.name: getattr(self, t.name) for t in TRANSFORMS}
        ranges["fill_mode"] = self.fill_mode
        if self.layers:
            ranges["layers"] = {layer.name: layer.as_entry() for layer in self.layers}
        return ranges

    def reference_arguments(self) -> dict:
        """The equivalent ``ImageDataGenerator`` keyword arguments (for tests and the report)."""
        arguments = {
            t.reference: getattr(self, t.name) for t in TRANSFORMS if t.reference is not None
        }
        return {**arguments, "fill_mode": self.fill_mode}


def parse_variant(
    variant: str, settings: AugmentationSettings | None = None
) -> list[tuple[str, float | None]]:
    """The (transform, strength or None) parts of a combination or strength variant
    (``rotation@10+zoom``); ValueError for anything else.

    With ``settings`` a name must be one of their transforms (a layer transform's too);
    without, any name of a layer transform's form is taken (the analysis reads the variants
    of a study whose config check has already checked them)."""
    parts = []
    for part in variant.split(AND):
        name, at, strength = part.partition(AT)
        known = name in BY_NAME or (
            name in settings.names() if settings is not None else bool(NAME.match(name))
        )
        if not known or name in (NONE, ALL):
            raise ValueError(_unknown(variant, settings))
        if at:
            try:
                parts.append((name, float(strength)))
            except ValueError:
                raise ValueError(_unknown(variant, settings)) from None
            if name in BY_NAME:
                BY_NAME[name].range_at(0.0)  # raises for transforms without strength levels
            elif settings is not None:
                settings.range_of(name).at(0.0)  # raises for a layer without a sweep argument
        else:
            parts.append((name, None))
    if len({name for name, _ in parts}) < len(parts):
        raise ValueError(f"variant {variant!r} names a transform twice (config key 'variants')")
    return parts


def variant_ranges(
    variant: str, settings: AugmentationSettings, strict: bool = True
) -> dict[str, Any]:
    """The range of every transform ``variant`` switches on, under ``settings``.

    ``strict``: ``all-minus-X`` must leave out a transform the settings switch on (a study's
    check); not strict, it may already be off (the settings of that very variant)."""
    enabled = settings.enabled()
    if variant == NONE:
        return {}
    if variant == ALL:
        return {name: settings.range_of(name) for name in enabled}
    if variant.startswith(ALL_MINUS):
        left_out = variant[len(ALL_MINUS) :]
        # not strict: a variant's own settings no longer hold the layer transform it leaves out
        known = left_out in settings.names() or (not strict and NAME.match(left_out))
        if not known or (strict and left_out not in enabled):
            raise ValueError(_unknown(variant, settings))
        return {name: settings.range_of(name) for name in enabled if name != left_out}
    ranges = {}
    for name, strength in parse_variant(variant, settings):
        if strength is not None:
            ranges[name] = (
                BY_NAME[name].range_at(strength)
                if name in BY_NAME
                else settings.range_of(name).at(strength)
            )
        elif name in enabled:
            ranges[name] = settings.range_of(name)
        else:
            raise ValueError(
                f"variant {variant!r} uses {name}, which config key 'augmentation.{name}' "
                f"switches off ({getattr(settings, name)!r}); give it a range, or a strength "
                f"({name}@value)"
            )
    return ranges


def variant_transforms(
    variant: str, settings: AugmentationSettings | None = None
) -> frozenset[str]:
    """The set of transforms a variant switches on; unknown names raise with the allowed ones."""
    return frozenset(variant_ranges(variant, settings or AugmentationSettings()))


def strength_of(variant: str) -> tuple[str, float] | None:
    """(transform, strength) of a single strength variant ``X@value``, else None."""
    try:
        parts = parse_variant(variant)
    except ValueError:
        return None
    if len(parts) == 1 and parts[0][1] is not None:
        return parts[0][0], parts[0][1]
    return None


def all_variant_names(settings: AugmentationSettings | None = None) -> list[str]:
    """The study's standard variants: none, each enabled transform alone, all, all minus each."""
    enabled = (settings or AugmentationSettings()).enabled()
    return [NONE, *enabled, ALL, *(ALL_MINUS + name for name in enabled)]


def _unknown(variant: str, settings: AugmentationSettings | None = None) -> str:
    settings = settings or AugmentationSettings()
    return (
        f"unknown augmentation variant {variant!r} (config key 'variants'); allowed: "
        f"{', '.join(all_variant_names(settings))}, any transform of "
        f"{', '.join(settings.names())} alone, combinations X+Y and strength levels X@value"
    )


def variant_kind(variant: str) -> str:
    """``none``, ``all``, ``all-minus``, ``single`` (X), ``strength`` (X@value) or
    ``combination`` (X+Y, with or without strengths); ``unknown`` otherwise."""
    if variant in (NONE, ALL):
        return variant
    if variant.startswith(ALL_MINUS):
        return "all-minus"
    try:
        parts = parse_variant(variant)
    except ValueError:
        return "unknown"
    if len(parts) > 1:
        return "combination"
    return "strength" if parts[0][1] is not None else "single"


def variant_sort_key(variant: str) -> tuple:
    """The study's order: none, each transform alone (registry order; layer transforms after
    the built-in ones, by name), its strength levels (ascending), combinations, all, all minus
    each; unknown names last."""
    names = list(BY_NAME)
    kind = variant_kind(variant)
    if kind == NONE:
        return (0,)
    if kind in ("single", "strength"):
        name, strength = parse_variant(variant)[0]
        return (1, registry_position(name), name, strength is not None, strength or 0.0)
    if kind == "combination":
        return (2, variant)
    if kind == ALL:
        return (3,)
    if kind == "all-minus":
        left_out = variant[len(ALL_MINUS) :]
        return (4, names.index(left_out) if left_out in names else len(names), variant)
    return (5, variant)


def registry_position(name: str) -> int:
    """A transform's place in the registry; layer transforms (not in it) after every one."""
    names = list(BY_NAME)
    return names.index(name) if name in names else len(names)


def config_table() -> str:
    """The table of the ``augmentation`` keys in config/README.md, made from the registry
    (tests/test_variants.py checks that the README holds exactly this)."""

    def shown(value):
        return (
            "null"
            if value is None
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )

    rows = ["| key | default | off | reference argument | meaning |", "|---|---|---|---|---|"]
    for t in TRANSFORMS:
        reference = f"`{t.reference}`" if t.reference else "(none)"
        rows.append(
            f"| `augmentation.{t.name}` | {shown(t.default)} | {shown(t.off)} | {reference} | "
            f"{t.meaning} |"
        )
    rows.append(
        "| `augmentation.fill_mode` | nearest | | `fill_mode` | how points outside the image "
        "are filled: `nearest` (the reference's) or `reflect` (the default of Keras layers); "
        "both are tested against the reference. `wrap` and `constant` are refused: "
        "TensorFlow's versions of them differ from the reference's scipy ones |"
    )
    return "\n".join(rows)
