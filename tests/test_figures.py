"""Figures draw the tables' numbers: every point, bar and band is read back from the drawn
artists and compared with the table it came from; every learning-curve line says what it is."""

import math

import numpy as np
import pytest
from test_analysis import history, study
from test_report import tables

from augablate.analysis import contrasts, dose_response, learning_curves, tidy_histories
from augablate.figures import CURVE_LABELS, FIGURES, contrast_forest, final_accuracy, pyplot
from augablate.figures import learning_curves as draw_learning_curves


def errorbars(axis):
    """(x, y, low, high) of every errorbar drawn on ``axis``."""
    drawn = []
    for container in axis.containers:
        line, _, bars = container.lines
        segments = bars[0].get_segments()
        for x, y, segment in zip(line.get_xdata(), line.get_ydata(), segments, strict=True):
            drawn.append((x, y, segment[0][0], segment[1][0]))
    return drawn


def test_forest_plot_points_and_bars_are_the_contrasts_table():
    table = contrasts(study())
    table.loc[6, ["ci_low", "ci_high"]] = math.nan  # a contrast without an interval
    figure = contrast_forest(table)
    drawn = {}
    for axis in figure.axes:
        labels = [tick.get_text() for tick in axis.get_yticklabels()]
        positions = axis.get_yticks()
        label_at = dict(zip(positions, labels, strict=True))
        for x, y, low, high in errorbars(axis):
            drawn[label_at[y]] = (x, low, high)
        crosses = [line for line in axis.lines if line.get_marker() == "x"]
        for line in crosses:
            drawn[label_at[line.get_ydata()[0]]] = (line.get_xdata()[0], None, None)
    assert len(drawn) == len(table)
    for _, row in table.iterrows():
        x, low, high = drawn[f"{row['variant']} vs {row['baseline']} ({row['verdict']})"]
        assert x == pytest.approx(row["difference"] * 100)
        if math.isnan(row["ci_low"]):
            assert low is None, "a missing interval must not be drawn as a bar"
        else:
            assert (low, high) == pytest.approx((row["ci_low"] * 100, row["ci_high"] * 100))
    pyplot().close(figure)


def test_learning_curve_lines_say_what_they_plot_and_bands_are_the_table():
    histories = tidy_histories(
        [
            (
                variant,
                seed,
                history(
                    np.linspace(0.5, 0.7, 4) + 0.01 * seed,
                    clean=[math.nan, 0.8, math.nan, 0.9 + 0.01 * seed],
                ),
            )
            for variant in ("none", "all")
            for seed in (1, 2, 3)
        ]
    )
    curves = learning_curves(histories)
    figure = draw_learning_curves(curves, "accuracy")
    axes = [axis for axis in figure.axes if axis.get_visible()]
    assert [axis.get_title() for axis in axes] == ["none", "all"]
    for axis in axes:
        lines = {line.get_label(): line for line in axis.lines}
        assert set(lines) == set(CURVE_LABELS.values())
        for source, label in CURVE_LABELS.items():
            expected = curves[
                (curves["variant"] == axis.get_title())
                & (curves["measure"] == f"{source}_accuracy")
            ]
            np.testing.assert_allclose(lines[label].get_xdata(), expected["epoch"])
            np.testing.assert_allclose(lines[label].get_ydata(), expected["mean"])
        bands = axis.collections
        assert len(bands) == 3
        clean = curves[
            (curves["variant"] == axis.get_title()) & (curves["measure"] == "clean_train_accuracy")
        ]
        vertices = bands[1].get_paths()[0].vertices
        assert vertices[:, 1].min() == pytest.approx(clean["ci_low"].min())
        assert vertices[:, 1].max() == pytest.approx(clean["ci_high"].max())
    pyplot().close(figure)


def test_final_accuracy_draws_the_variant_intervals_over_seeds_and_images():
    _, runs, variants, _ = tables()
    figure = final_accuracy(variants, runs)
    (axis,) = figure.axes
    label_at = dict(
        zip(axis.get_yticks(), [t.get_text() for t in axis.get_yticklabels()], strict=True)
    )
    by_variant = variants.set_index("variant")
    drawn = errorbars(axis)
    assert len(drawn) == len(variants)
    for x, y, low, high in drawn:
        row = by_variant.loc[label_at[y]]
        assert x == pytest.approx(row["final_val_accuracy_mean"] * 100)
        assert (low, high) == pytest.approx(
            (row["final_val_accuracy_ci_low"] * 100, row["final_val_accuracy_ci_high"] * 100)
        )
    pyplot().close(figure)


def test_every_registered_figure_draws_from_its_declared_tables():
    from test_analysis import EFFECTS, runs_of

    from augablate.analysis import variant_summary

    images = study(effects={**EFFECTS, "rotation@10": 0.02, "rotation@20": 0.05}, images=200)
    runs = runs_of(images)
    variants, table = variant_summary(runs, images), contrasts(images)
    histories = tidy_histories(
        [
            (variant, seed, history(np.linspace(0.5, 0.7, 3)))
            for variant in ("none", "all")
            for seed in (1, 2)
        ]
    )
    from test_factorial import REFERENCE, simulated

    from augablate.design import build_design
    from augablate.factorial import effects_table

    design = build_design(REFERENCE, resolution=4)
    available = {
        "effects": effects_table(simulated(design, {"rotation": 0.05}, images=100), design),
        "contrasts": table,
        "runs": runs,
        "variants": variants,
        "curves": learning_curves(histories),
        "dose_response": dose_response(variants, table),
    }
    factorial = {name for name, figure in FIGURES.items() if figure.only_with == "factorial"}
    assert factorial == {"main_effects", "interactions"}
    for name, figure in FIGURES.items():  # factorial figures only where the design is factorial
        assert figure.applies(variants["variant"], factorial=True)
        assert figure.applies(variants["variant"]) == (name not in factorial)
    for figure in FIGURES.values():
        drawn = figure.draw({name: available[name] for name in figure.tables})
        visible = [axis for axis in drawn.axes if axis.get_visible()]
        assert visible, figure.name
        # something drawn from data on every visible axis: lines with points, error bars or
        # bands, or the figure's own "nothing to draw" text
        for axis in visible:
            drawn_points = sum(len(line.get_xdata()) for line in axis.lines)
            assert drawn_points or axis.containers or axis.collections or axis.texts, (
                figure.name,
                axis.get_title(),
            )
        pyplot().close(drawn)
        # every declared table is needed: the figure cannot draw without it
        for missing in figure.tables:
            with pytest.raises(KeyError):
                figure.draw({n: available[n] for n in figure.tables if n != missing})
