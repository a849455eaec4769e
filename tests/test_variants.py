"""The transform registry and the variants built from it."""

import pytest
from conftest import REPO

from augablate.settings import load_config, run_params
from augablate.variants import (
    BY_NAME,
    TRANSFORMS,
    AugmentationSettings,
    all_variant_names,
    strength_of,
    variant_ranges,
    variant_transforms,
)

CLASSIC = ["rotation", "width_shift", "height_shift", "shear", "zoom", "horizontal_flip"]


def test_the_registry_holds_the_reference_six_on_and_the_new_ones_opt_in():
    assert [t.name for t in TRANSFORMS[:6]] == CLASSIC
    assert AugmentationSettings().enabled() == CLASSIC
    assert {t.name for t in TRANSFORMS} - set(CLASSIC) == {
        "vertical_flip",
        "brightness_range",
        "channel_shift_range",
        "erasing",
    }
    streams = [t.stream for t in TRANSFORMS]
    assert len(set(streams)) == len(streams), "a stream per transform: draws stay paired"


def test_the_study_has_fourteen_standard_variants_in_order():
    names = all_variant_names()
    assert names[0] == "none" and names[7] == "all"
    assert names[1:7] == CLASSIC
    assert names[8:] == [f"all-minus-{t}" for t in CLASSIC]
    assert len(set(names)) == 14


def test_variant_expansion_combinations_and_strengths():
    settings = AugmentationSettings()
    assert variant_transforms("none") == frozenset()
    assert variant_transforms("all") == frozenset(CLASSIC)
    assert variant_transforms("zoom") == {"zoom"}
    assert variant_transforms("all-minus-shear") == frozenset(CLASSIC) - {"shear"}
    assert variant_ranges("rotation+zoom", settings) == {"rotation": 40.0, "zoom": 0.2}
    assert variant_ranges("rotation@10", settings) == {"rotation": 10.0}
    assert variant_ranges("rotation@10+zoom", settings) == {"rotation": 10.0, "zoom": 0.2}
    assert variant_ranges("brightness_range@0.3", settings) == {"brightness_range": [0.7, 1.3]}
    assert strength_of("rotation@20") == ("rotation", 20.0) and strength_of("rotation") is None


@pytest.mark.parametrize(
    "name, message",
    [
        ("blur", "'variants'.*allowed: none, rotation"),
        ("all-minus-blur", "'variants'.*allowed"),
        ("All", "'variants'"),
        ("", "'variants'"),
        ("rotation@ten", "'variants'"),
        ("horizontal_flip@0.5", "no strength levels"),
        ("rotation+rotation@10", "names a transform twice"),
        ("vertical_flip", "'augmentation.vertical_flip' switches off"),
        ("all-minus-vertical_flip", "'variants'"),
    ],
)
def test_bad_variants_name_the_key_and_what_is_allowed(name, message):
    with pytest.raises(ValueError, match=message):
        AugmentationSettings().for_variant(name, strict=True)


def test_every_variant_reaches_its_training_with_exactly_its_transforms():
    """What the train rule hands a run (its params) switches on exactly the variant's
    transforms, at the study's ranges; none is the identity."""
    config = load_config(REPO / "config" / "config.yaml")
    settings = AugmentationSettings.from_config(config["augmentation"])
    for variant in config["variants"]:
        ranges = run_params(config, variant)["augmentation"]
        trained = AugmentationSettings.from_ranges(ranges).for_variant(variant)
        assert set(trained.enabled()) == set(variant_transforms(variant)), variant
        for name in trained.enabled():
            assert getattr(trained, name) == getattr(settings, name), (variant, name)
    assert AugmentationSettings.from_ranges(run_params(config, "none")["augmentation"]).is_identity


def test_restricting_settings_switches_transforms_off_only():
    reference = AugmentationSettings()
    assert reference.restricted_to([]).is_identity
    only_zoom = reference.restricted_to(["zoom"])
    assert only_zoom.zoom == 0.2 and only_zoom.rotation == 0 and not only_zoom.horizontal_flip
    assert reference.restricted_to(CLASSIC) == reference
    assert only_zoom.fill_mode == "nearest"
    assert AugmentationSettings.from_ranges(only_zoom.active_ranges()) == only_zoom


def test_the_settings_and_schema_come_from_the_registry():
    from augablate.settings import config_schema

    properties = config_schema()["properties"]["augmentation"]["properties"]
    assert set(properties) == {t.name for t in TRANSFORMS} | {"fill_mode"}
    for transform in TRANSFORMS:
        assert properties[transform.name]["default"] == transform.default
        assert getattr(AugmentationSettings(), transform.name) == transform.default
    assert BY_NAME["shear"].reference == "shear_range"


def test_unknown_augmentation_key_is_named():
    with pytest.raises(ValueError, match="blur"):
        AugmentationSettings.from_config({"blur": 1})


def test_the_config_readme_table_is_the_registry():
    from augablate.variants import config_table

    assert config_table() in (REPO / "config" / "README.md").read_text(), (
        "config/README.md's augmentation table differs from the registry: paste "
        "augablate.variants.config_table() into it"
    )
