"""The augmentation registry: transform names, their settings, and the study's variants.

Free of TensorFlow so that the Snakefile can expand variants without importing it. A new
transform is one entry in ``TRANSFORMS`` plus its field in :class:`AugmentationSettings`; its
sampling and its place in the affine matrix live in :mod:`augablate.augment`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: The transforms a variant can switch on, in the order the study lists them.
TRANSFORMS: tuple[str, ...] = (
    "rotation",
    "width_shift",
    "height_shift",
    "shear",
    "zoom",
    "horizontal_flip",
)

#: The reference ImageDataGenerator arguments that correspond to each transform.
REFERENCE_ARGUMENT = {
    "rotation": "rotation_range",
    "width_shift": "width_shift_range",
    "height_shift": "height_shift_range",
    "shear": "shear_range",
    "zoom": "zoom_range",
    "horizontal_flip": "horizontal_flip",
}

ALL = "all"
NONE = "none"
ALL_MINUS = "all-minus-"


def all_variant_names() -> list[str]:
    """Every variant the study knows: none, each transform alone, all, and all minus each."""
    return [NONE, *TRANSFORMS, ALL, *(ALL_MINUS + name for name in TRANSFORMS)]


def variant_transforms(variant: str) -> frozenset[str]:
    """The set of transforms a variant switches on; unknown names raise with the allowed ones."""
    if variant == NONE:
        return frozenset()
    if variant == ALL:
        return frozenset(TRANSFORMS)
    if variant in TRANSFORMS:
        return frozenset({variant})
    if variant.startswith(ALL_MINUS) and variant[len(ALL_MINUS) :] in TRANSFORMS:
        return frozenset(TRANSFORMS) - {variant[len(ALL_MINUS) :]}
    raise ValueError(
        f"unknown augmentation variant {variant!r} (config key 'variants'); "
        f"allowed: {', '.join(all_variant_names())}"
    )


@dataclass(frozen=True)
class AugmentationSettings:
    """Ranges of every transform, in the reference's units.

    rotation: degrees, angle uniform in [-rotation, rotation].
    width_shift / height_shift: fraction of the image width / height, uniform in [-s, s].
    shear: degrees (the reference ``shear_range`` is in degrees: 0.2 means 0.2 degrees).
    zoom: independent x and y factors uniform in [1 - zoom, 1 + zoom]; as in the reference a
        factor below 1 enlarges the content (zoom in) and above 1 shrinks it.
    horizontal_flip: flip with probability 0.5.
    fill_mode: how points outside the image are filled (reference: nearest).
    """

    rotation: float = 40.0
    width_shift: float = 0.2
    height_shift: float = 0.2
    shear: float = 0.2
    zoom: float = 0.2
    horizontal_flip: bool = True
    fill_mode: str = "nearest"

    @classmethod
    def from_config(cls, config: Mapping) -> AugmentationSettings:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(config) - known
        if unknown:
            raise ValueError(
                f"unknown key(s) {sorted(unknown)} in config 'augmentation'; allowed: {sorted(known)}"
            )
        return cls(**dict(config))

    def restricted_to(self, transforms: Iterable[str]) -> AugmentationSettings:
        """The same settings with every transform not in ``transforms`` switched off."""
        enabled = set(transforms)
        unknown = enabled - set(TRANSFORMS)
        if unknown:
            raise ValueError(f"unknown transform(s) {sorted(unknown)}; allowed: {TRANSFORMS}")
        return AugmentationSettings(
            rotation=self.rotation if "rotation" in enabled else 0.0,
            width_shift=self.width_shift if "width_shift" in enabled else 0.0,
            height_shift=self.height_shift if "height_shift" in enabled else 0.0,
            shear=self.shear if "shear" in enabled else 0.0,
            zoom=self.zoom if "zoom" in enabled else 0.0,
            horizontal_flip=self.horizontal_flip and "horizontal_flip" in enabled,
            fill_mode=self.fill_mode,
        )

    @property
    def is_identity(self) -> bool:
        return not (
            self.rotation
            or self.width_shift
            or self.height_shift
            or self.shear
            or self.zoom
            or self.horizontal_flip
        )

    def reference_arguments(self) -> dict:
        """The equivalent ``ImageDataGenerator`` keyword arguments (for tests and the report)."""
        return {
            "rotation_range": self.rotation,
            "width_shift_range": self.width_shift,
            "height_shift_range": self.height_shift,
            "shear_range": self.shear,
            "zoom_range": self.zoom,
            "horizontal_flip": self.horizontal_flip,
            "fill_mode": self.fill_mode,
        }
