"""Factorial designs: pyDOE3's matrices named as variants, and alias structures checked two
ways (our effect columns against pyDOE3's alias chains)."""

import itertools

import numpy as np
import pytest

from augablate.design import build_design, point_name
from augablate.variants import AugmentationSettings

REFERENCE = AugmentationSettings().enabled()  # the six ImageDataGenerator transforms


def test_the_reference_quarter_fraction_is_16_named_points_of_resolution_four():
    design = build_design(REFERENCE, resolution=4)
    assert design.runs == 16 and design.factors == tuple(REFERENCE)
    names = design.variants(REFERENCE)
    assert len(set(names)) == 16 and {"none", "all"} <= set(names)
    assert "rotation+zoom+horizontal_flip" in names  # registry order, '+'-joined
    # balanced and orthogonal: every column sums to 0, every pair of columns is orthogonal
    assert not design.matrix.sum(axis=0).any()
    assert (design.matrix.T @ design.matrix == 16 * np.eye(6)).all()
    aliases = design.aliases(order=2)
    # resolution IV: no main effect shares its column with another main effect or a 2FI ...
    assert all(aliases[name] == [] for name in REFERENCE)
    # ... and the 15 two-factor interactions fall into 7 chains (15 = 1 + 2 + 2 + 2 + 2 + 2 + 2
    # + 2 ... : one chain of three, six of two)
    pairs = [":".join(p) for p in itertools.combinations(REFERENCE, 2)]
    chains = {tuple(sorted([p, *aliases[p]])) for p in pairs}
    assert sorted(len(c) for c in chains) == [2, 2, 2, 2, 2, 2, 3]


def test_our_aliases_agree_with_pydoe3s_chains():
    design = build_design(REFERENCE, resolution=4)
    ours = design.aliases(order=2)
    for chain in design.alias_chains():
        words = [w.strip() for w in chain.split("=")]
        short = [w for w in words if w.count(":") <= 1]  # effects of up to 2 factors
        for word in short:
            assert sorted(ours[word]) == sorted(w for w in short if w != word), chain


def test_a_full_design_has_every_subset_once_and_no_aliases():
    design = build_design(["rotation", "zoom", "horizontal_flip"])
    names = design.variants(["rotation", "zoom", "horizontal_flip"])
    assert design.runs == 8 and len(set(names)) == 8
    assert set(names) == {
        "none",
        "rotation",
        "zoom",
        "horizontal_flip",
        "all-minus-horizontal_flip",
        "all-minus-zoom",
        "all-minus-rotation",
        "all",
    }
    assert all(not others for others in design.aliases(order=3).values())


def test_where_no_fraction_has_the_resolution_the_full_design_is_used():
    design = build_design(["rotation", "zoom", "shear", "width_shift"], resolution=4)
    assert design.runs == 16 and "ff2n" in design.how


def test_points_are_named_as_the_one_at_a_time_design_names_them():
    enabled = ["rotation", "zoom", "horizontal_flip"]
    assert point_name([], enabled) == "none"
    assert point_name(["horizontal_flip", "rotation", "zoom"], enabled) == "all"
    assert point_name(["zoom", "rotation"], enabled) == "all-minus-horizontal_flip"
    assert point_name(["zoom"], enabled) == "zoom"
    assert point_name(["zoom", "rotation"], enabled + ["shear"]) == "rotation+zoom"


@pytest.mark.parametrize(
    "factors, options, message",
    [
        (["rotation"], {}, "at least 2 transforms"),
        (["rotation", "zoom"], {"generators": "a b ab"}, "'design.generators'"),
    ],
)
def test_impossible_designs_name_the_config_key(factors, options, message):
    with pytest.raises(ValueError, match=message):
        build_design(factors, **options)


def test_a_factorial_config_trains_the_design_points_named_as_variants():
    from conftest import REPO

    from augablate.settings import ConfigError, load_config

    smoke = REPO / "config" / "smoke.yaml"
    config = load_config(
        smoke, {"design": {"type": "factorial", "transforms": ["zoom", "rotation"]}}
    )
    assert config["variants"] == ["none", "zoom", "rotation", "rotation+zoom"]
    assert load_config(smoke)["variants"] == ["none", "rotation", "all"]  # one-at-a-time
    with pytest.raises(ConfigError, match="'design.transforms' names \\['vertical_flip'\\]"):
        load_config(
            smoke, {"design": {"type": "factorial", "transforms": ["vertical_flip", "zoom"]}}
        )
