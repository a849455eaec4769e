"""Effects of a factorial study, against independent computations: means of the design's
halves and quarters by hand, and statsmodels' OLS for the run part of the variance."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from augablate.design import build_design
from augablate.factorial import effect_labels, effects_table
from augablate.variants import AugmentationSettings

REFERENCE = AugmentationSettings().enabled()


def simulated(design, effects, seeds=3, images=300, run_sd=0.01, seed=0):
    """Per-image scores [points, seeds, images]: 0.8 plus the planted effects (main effects of
    transforms, 'a:b' for interactions as conditional-effect differences), run noise, and
    image-level noise, clipped to 0..1."""
    rng = np.random.default_rng(seed)
    columns = design.effect_columns(order=2)
    mean = 0.8 + sum(
        value * columns[label] / (2 if ":" not in label else 4) for label, value in effects.items()
    )
    runs = mean[:, None] + rng.normal(0, run_sd, (design.runs, seeds))
    image_bias = rng.normal(0, 0.05, images)
    scores = (
        runs[:, :, None]
        + image_bias[None, None, :]
        + rng.normal(0, 0.08, (design.runs, seeds, images))
    )
    return np.clip(scores, 0, 1)


def test_main_effects_and_interactions_equal_the_means_of_the_design_by_hand():
    design = build_design(REFERENCE, resolution=4)
    scores = simulated(design, {"rotation": 0.06, "zoom": -0.04, "rotation:zoom": -0.03})
    table = effects_table(scores, design).set_index("effect")
    run_means = scores.mean(axis=(1, 2))
    x = dict(zip(design.factors, design.matrix.T, strict=True))
    for name in REFERENCE:
        by_hand = run_means[x[name] > 0].mean() - run_means[x[name] < 0].mean()
        assert table.loc[name, "difference"] == pytest.approx(by_hand, abs=1e-12)
    # rotation's effect with zoom on minus with zoom off
    on, off = x["zoom"] > 0, x["zoom"] < 0
    by_hand = (
        run_means[on & (x["rotation"] > 0)].mean()
        - run_means[on & (x["rotation"] < 0)].mean()
        - (
            run_means[off & (x["rotation"] > 0)].mean()
            - run_means[off & (x["rotation"] < 0)].mean()
        )
    )
    label = "rotation:zoom" if "rotation:zoom" in table.index else None
    if label is None:  # the chain is named by another member
        label = next(e for e in table.index if "rotation:zoom" in str(table.loc[e, "aliases"]))
    assert table.loc[label, "difference"] == pytest.approx(by_hand, abs=1e-12)
    assert table.loc["rotation", "verdict"] == "helps"
    assert table.loc["zoom", "verdict"] == "hurts"
    assert (table["kind"] == "main effect").sum() == 6 and (
        table["kind"] == "interaction"
    ).sum() == 7
    assert table.loc[table["kind"] == "interaction", "verdict"].eq("descriptive").all()


def test_the_run_part_of_a_main_effects_variance_is_ols_on_the_run_means():
    """Variant and seed fixed on the points x seeds table of run means: OLS's standard error of
    the main-effect contrast is the run part of ours, with (V - 1)(S - 1) df."""
    design = build_design(["rotation", "zoom", "horizontal_flip"])
    scores = simulated(design, {"rotation": 0.02}, seeds=3, images=200, run_sd=0.02, seed=3)
    row = effects_table(scores, design).set_index("effect").loc["rotation"]
    means = scores.mean(axis=2)
    frame = pd.DataFrame(
        [(f"p{v}", s, means[v, s]) for v in range(design.runs) for s in range(3)],
        columns=["point", "seed", "y"],
    )
    fit = smf.ols("y ~ C(point) + C(seed) - 1", frame).fit()
    weights = design.matrix[:, 0] / (design.runs / 2)
    names = [f"C(point)[p{v}]" for v in range(design.runs)]
    restriction = np.zeros(len(fit.params))
    restriction[[list(fit.params.index).index(n) for n in names]] = weights
    ols = fit.t_test(restriction)
    assert float(ols.effect[0]) == pytest.approx(row["difference"], abs=1e-12)
    image_part = row["standard_error"] ** 2 - float(ols.sd[0, 0]) ** 2
    assert row["df"] == fit.df_resid == (design.runs - 1) * 2
    table = np.tensordot(weights, scores, axes=1)  # the effect's seeds x images table
    ms_image = 3 * table.mean(axis=0).var(ddof=1)
    residual = table - table.mean(1, keepdims=True) - table.mean(0, keepdims=True) + table.mean()
    ms_residual = (residual**2).sum() / (2 * 199)
    assert image_part == pytest.approx(max(ms_image - ms_residual, 0) / (3 * 200), rel=1e-6)


def test_each_alias_chain_is_one_row():
    design = build_design(REFERENCE, resolution=4)
    labels = effect_labels(design)
    members = [label for label, aliases in labels for label in [label, *aliases]]
    assert len(members) == len(set(members)) == 6 + 15


def test_the_effect_figures_draw_the_tables_numbers():
    from test_figures import errorbars

    from augablate.figures import interactions, main_effects, pyplot

    design = build_design(REFERENCE, resolution=4)
    table = effects_table(simulated(design, {"rotation": 0.06, "rotation:zoom": -0.03}), design)
    figure = main_effects(table)
    axis = figure.axes[0]
    label_at = dict(
        zip(axis.get_yticks(), [t.get_text() for t in axis.get_yticklabels()], strict=True)
    )
    drawn = {label_at[y].split(" (")[0]: (x, low, high) for x, y, low, high in errorbars(axis)}
    mains = table[table["kind"] == "main effect"].set_index("effect")
    assert set(drawn) == set(mains.index)
    for name, (x, low, high) in drawn.items():
        row = mains.loc[name]
        assert (x, low, high) == pytest.approx(
            (row["difference"] * 100, row["ci_low"] * 100, row["ci_high"] * 100)
        )
    pyplot().close(figure)
    figure = interactions(table)
    matrix = figure.axes[0].images[0].get_array()
    factors = list(mains.index)
    for _, row in table[table["kind"] == "interaction"].iterrows():
        for label in [row["effect"], *str(row["aliases"]).split(" = ")]:
            if label.count(":") == 1:
                a, b = (factors.index(n) for n in label.split(":"))
                assert matrix[a, b] == matrix[b, a] == pytest.approx(row["difference"] * 100)
    assert np.ma.getmaskarray(matrix).diagonal().all()  # a transform with itself: blank
    pyplot().close(figure)


def test_what_the_design_can_show_matches_normal_theory_with_many_seeds():
    """With many seeds the run part's law is all but known, so the MDE at Holm's level is
    (z(1 - level/2) + z(0.8)) SE and the narrowest equivalence margin at power 0.8 is
    (z(1 - level) + z(0.9)) SE: an independent check of the effects table's columns."""
    from scipy import stats

    design = build_design(REFERENCE, resolution=4)
    table = effects_table(simulated(design, {"rotation": 0.02}, seeds=60, images=200), design)
    main = table[table["kind"] == "main effect"]
    level = 0.05 / len(main)
    for row in main.itertuples():
        se = row.standard_error
        assert row.df == 15 * 59 and row.minimum_detectable_effect == pytest.approx(
            (stats.norm.ppf(1 - level / 2) + stats.norm.ppf(0.8)) * se, rel=0.02
        )
        assert row.smallest_margin == pytest.approx(
            (stats.norm.ppf(1 - level) + stats.norm.ppf(0.9)) * se, rel=0.02
        )
        low, high = row.minimum_detectable_effect_ci_low, row.minimum_detectable_effect_ci_high
        assert low < row.minimum_detectable_effect < high < 1.05 * row.minimum_detectable_effect
    few = effects_table(simulated(design, {"rotation": 0.0}, seeds=2), design)
    row = few[few["kind"] == "main effect"].iloc[0]
    assert row.minimum_detectable_effect_ci_high > 1.2 * row.minimum_detectable_effect  # 15 df


def test_the_factorial_report_states_verdicts_power_and_methods_from_the_table():
    from augablate.report import (
        effects_in_brief,
        effects_power_lines,
        effects_summary,
        factorial_methods_lines,
    )

    design = build_design(REFERENCE, resolution=4)
    scores = simulated(design, {"rotation": 0.08, "zoom": -0.08}, seeds=3, run_sd=0.002)
    table = effects_table(scores, design, margin=0.03)
    main = table[table["kind"] == "main effect"].set_index("effect")
    assert main.loc["rotation", "verdict"] == "helps" and main.loc["zoom", "verdict"] == "hurts"
    negligible = sorted(main.index[main["verdict"] == "negligible"])
    assert negligible  # the planted nulls within the 3-point margin
    summary = effects_summary(table[table["primary"]])
    assert "**Helps**: `rotation`." in summary and "**Hurts**: `zoom`." in summary
    assert "**No effect larger than ±3 points**" in summary
    brief = effects_in_brief(table)
    r = main.loc["rotation"]
    assert (
        f"**helps**: `rotation` ({r['difference'] * 100:+.1f} points, 95% CI "
        f"{r['ci_low'] * 100:+.1f} to {r['ci_high'] * 100:+.1f} points)" in brief
    )
    power = " ".join(effects_power_lines(table[table["primary"]], alpha=0.05))
    mde = main["minimum_detectable_effect"].median() * 100
    margin = main["smallest_margin"].median() * 100
    assert f"detects a true difference of {mde:.1f} points" in power
    assert f"at Holm's strictest level (alpha = {0.05 / 6:.4f})" in power
    assert f"when the true effect is 0 is ±{margin:.1f} points." in power
    assert "out of its reach" not in power
    narrow = table.assign(margin=0.001)
    assert "out of its reach" in " ".join(effects_power_lines(narrow[narrow["primary"]]))
    methods = " ".join(factorial_methods_lines(0.05, table))
    assert "the 6 main effects are one family" in methods and "±3 points" in methods
    assert f"{15 * 2:g} degrees of freedom" in methods  # (points - 1)(seeds - 1)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_seeds_a_one_at_a_time_study_needs_invert_the_main_effect_design(share):
    """From a main effect built out of a pair contrast's components by the simulator's
    main_effect_design, one_at_a_time_seeds finds the pair's components again: the seeds it
    gives are, by brute force over the pair's own design, the fewest reaching the target."""
    from augablate.factorial import one_at_a_time_seeds
    from augablate.inference import design
    from augablate.simulate import main_effect_design

    pair = (4e-4, 2e-3, 2e-2)  # seed, image, residual components of a two-variant contrast
    images, level = 1000, 0.05 / 12
    main = main_effect_design(pair, 16, 2, images, share)
    target = 0.02
    found = one_at_a_time_seeds(main, 16, 14, level, target, share)
    mdes = {
        s: design(*pair, s, images, 13.0).minimum_detectable_effect(level) for s in range(2, 80)
    }
    fewest = min((s for s, mde in mdes.items() if mde <= target), default=math.inf)
    assert found == fewest and 2 < fewest < 80
    assert one_at_a_time_seeds(main, 16, 14, level, 1e-4, share) == math.inf  # image part


def test_the_report_prices_the_answer_against_one_at_a_time():
    from augablate.report import cost_lines

    design = build_design(REFERENCE, resolution=4)
    table = effects_table(simulated(design, {"rotation": 0.02}, seeds=2), design, margin=0.03)
    main = table[table["kind"] == "main effect"]
    low, high = main["one_at_a_time_seeds_low"].median(), main["one_at_a_time_seeds_high"].median()
    assert 2 <= low <= high
    text = " ".join(cost_lines(table[table["primary"]], [60.0] * 31 + [120.0], 0.05))
    assert "this answer took 32 trainings (0.55 hours of training, a median of 60 s each)" in text
    assert "(14 variants:" in text and f"alpha = {0.05 / 12:.4f})" in text
    if math.isinf(high):
        assert f"at least {low:.0f} seeds per variant ({14 * low:.0f} trainings" in text
    else:
        assert f"{low:.0f} seeds per variant ({14 * low:.0f} trainings, about" in text
        assert f"{14 * high * 60 / 3600:.1f} hours)" in text
    assert cost_lines(table[table["primary"]], [], 0.05) == []


@pytest.mark.slow
def test_a_factorial_study_runs_end_to_end_with_effects_aliases_and_figures(tmp_path):
    """A 2^(4-1) design (horizontal_flip = rotation x width_shift x zoom) at smoke scale: 8
    points x 2 seeds, one training job."""
    import yaml
    from conftest import REPO, job_stats, run_snakemake

    study = tmp_path / "factorial.yaml"
    study.write_text(
        yaml.safe_dump(
            {
                "design": {
                    "type": "factorial",
                    "transforms": ["rotation", "width_shift", "zoom", "horizontal_flip"],
                    "generators": "a b c abc",  # resolution IV: 2FIs aliased in pairs
                },
                "resources": {"variants_per_job": 8, "seeds_per_job": 2},
            }
        )
    )
    smoke = str(REPO / "config" / "smoke.yaml")
    result = run_snakemake(tmp_path, "--cores", "2", "--configfile", smoke, str(study), timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    effects = pd.read_csv(tmp_path / "results" / "tables" / "effects.csv")
    assert (effects["kind"] == "main effect").sum() == 4
    assert (effects["kind"] == "interaction").sum() == 3  # 6 pairs in 3 aliased chains
    assert effects.loc[effects["kind"] == "interaction", "aliases"].str.count(":").eq(1).all()
    contrasts = pd.read_csv(tmp_path / "results" / "tables" / "contrasts.csv")
    assert not contrasts["primary"].any() and contrasts["verdict"].eq("descriptive").all()
    report = (tmp_path / "results" / "report.md").read_text()
    assert "## Factorial design: main effects and interactions" in report
    assert "### Main effects (4 effects, Holm-corrected together)" in report
    assert (
        "### Alias structure" in report
        and "`rotation = width_shift:zoom:horizontal_flip`" in report
    )
    for row in effects[effects["kind"] == "main effect"].itertuples():
        assert f"`{row.effect}`, averaged over the other transforms' settings" in report
    for name in ("main_effects", "interactions"):
        assert (tmp_path / "results" / "figures" / f"{name}.png").stat().st_size > 10_000
    again = run_snakemake(tmp_path, "-n", "--cores", "2", "--configfile", smoke, str(study))
    assert job_stats(again.stdout) == {}, again.stdout[-2000:]


@pytest.mark.parametrize("seeds", [1, 2])
def test_the_overall_table_is_its_design_points_arithmetic(seeds):
    """overall.csv: all vs none is the two points' difference, any augmentation the mean of the
    15 augmented points minus none, the sum of main effects effects.csv's six added up; each
    from the design points' means."""
    from augablate.design import build_design
    from augablate.factorial import effects_table, overall_table
    from augablate.simulate import DEFAULT_TRANSFORMS, Scenario, simulate_design

    design = build_design(DEFAULT_TRANSFORMS, resolution=4)
    scores = simulate_design(Scenario(), design, seeds, 200, np.random.default_rng(8))
    names = design.variants(DEFAULT_TRANSFORMS)
    means = scores.mean(axis=(1, 2))
    table = overall_table(scores, design, DEFAULT_TRANSFORMS).set_index("effect")
    none, every = names.index("none"), names.index("all")
    assert table.loc["all vs none", "difference"] == pytest.approx(means[every] - means[none])
    others = np.delete(means, none).mean()
    assert table.loc["any augmentation vs none", "difference"] == pytest.approx(
        others - means[none]
    )
    effects = effects_table(scores, design, detectable=False)
    main = effects.loc[effects["kind"] == "main effect", "difference"].sum()
    assert table.loc["sum of main effects", "difference"] == pytest.approx(main)
    assert (table["population"] == "seeds and images").all()


def test_the_overall_table_leaves_out_what_a_fraction_lacks():
    """A 2^(3-1) fraction without `none` as a design point: only the sum of main effects
    remains."""
    from augablate.design import build_design
    from augablate.factorial import overall_table
    from augablate.simulate import Scenario, simulate_design

    transforms = ["rotation", "zoom", "horizontal_flip"]
    design = build_design(transforms, generators="a b ab")
    assert "none" not in design.variants(transforms)
    scores = simulate_design(Scenario(), design, 2, 100, np.random.default_rng(2))
    table = overall_table(scores, design, transforms)
    assert list(table["effect"]) == ["sum of main effects"]


def test_one_seed_all_vs_none_is_the_classical_t_interval_without_image_effects():
    """With one seed and every point changing every image alike, all vs none's interval is the
    classical one: its estimate +- t(2) times the higher-order contrasts' root mean square,
    scaled to its weights (1 and -1: 8 times a main effect's squares)."""
    from scipy import stats

    from augablate.design import build_design
    from augablate.factorial import overall_table
    from augablate.simulate import DEFAULT_TRANSFORMS

    design = build_design(DEFAULT_TRANSFORMS, resolution=4)
    rng = np.random.default_rng(9)
    means = 0.75 + rng.normal(0, 0.01, design.runs)
    scores = (means[:, None] + rng.normal(0, 0.1, 300)[None, :])[:, None, :]
    names = design.variants(DEFAULT_TRANSFORMS)
    errors = [means @ c / (design.runs / 2) for c in design.higher_order_columns().values()]
    unit = np.mean(np.square(errors)) / (4 / design.runs)  # per unit of sum(w^2)
    difference = means[names.index("all")] - means[names.index("none")]
    half = stats.t.ppf(0.975, 2) * np.sqrt(2 * unit)
    row = overall_table(scores, design, DEFAULT_TRANSFORMS).set_index("effect").loc["all vs none"]
    assert row["difference"] == pytest.approx(difference)
    assert [row["ci_low"], row["ci_high"]] == pytest.approx([difference - half, difference + half])


def test_the_overall_table_of_a_fraction_with_none_but_not_all():
    from augablate.design import build_design
    from augablate.factorial import overall_table
    from augablate.simulate import Scenario, simulate_design

    transforms = ["rotation", "zoom", "horizontal_flip"]
    design = build_design(transforms, generators="a b -ab")
    names = design.variants(transforms)
    assert "none" in names and "all" not in names
    scores = simulate_design(Scenario(), design, 2, 100, np.random.default_rng(3))
    table = overall_table(scores, design, transforms)
    assert list(table["effect"]) == ["sum of main effects", "any augmentation vs none"]


def test_a_one_seed_report_without_run_variance_says_so_and_names_no_top_up():
    """2^(3-1) with one seed: no contrast measures how runs vary; the report says so and does
    not call its missing Holm p-values a top-up's."""
    from augablate.design import build_design
    from augablate.factorial import effects_table
    from augablate.report import factorial_lines

    design = build_design(["rotation", "zoom", "horizontal_flip"], generators="a b ab")
    scores = 0.75 + np.random.default_rng(5).normal(0, 0.1, (4, 1, 100))
    text = "\n".join(factorial_lines(effects_table(scores, design), design.how, 4, 1))
    assert "nothing measures how runs vary" in text and "add a seed" in text
    assert "top-up" not in text and "alpha-spending" not in text
