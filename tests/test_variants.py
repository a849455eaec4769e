import pytest

from augablate.variants import (
    TRANSFORMS,
    AugmentationSettings,
    all_variant_names,
    variant_transforms,
)


def test_the_study_has_fourteen_variants_in_order():
    names = all_variant_names()
    assert names[0] == "none" and names[7] == "all"
    assert names[1:7] == list(TRANSFORMS)
    assert names[8:] == [f"all-minus-{t}" for t in TRANSFORMS]
    assert len(set(names)) == 14


def test_variant_expansion():
    assert variant_transforms("none") == frozenset()
    assert variant_transforms("all") == frozenset(TRANSFORMS)
    assert variant_transforms("zoom") == {"zoom"}
    assert variant_transforms("all-minus-shear") == frozenset(TRANSFORMS) - {"shear"}


@pytest.mark.parametrize("name", ["blur", "all-minus-blur", "All", ""])
def test_unknown_variant_names_the_key_and_the_allowed_values(name):
    with pytest.raises(ValueError, match=r"'variants'.*allowed: none, rotation"):
        variant_transforms(name)


def test_restricting_settings_switches_transforms_off_only():
    reference = AugmentationSettings()
    assert reference.restricted_to([]).is_identity
    only_zoom = reference.restricted_to(["zoom"])
    assert only_zoom.zoom == 0.2 and only_zoom.rotation == 0 and not only_zoom.horizontal_flip
    assert reference.restricted_to(TRANSFORMS) == reference
    assert only_zoom.fill_mode == "nearest"


def test_unknown_augmentation_key_is_named():
    with pytest.raises(ValueError, match="blur"):
        AugmentationSettings.from_config({"blur": 1})
