"""Per-variant slopes of the last epochs and collapses within the endpoint, against
independent computations (scipy's linregress, the t quantile written out)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from augablate.convergence import convergence_table


def histories(slopes_by_seed, epochs=20, collapse=None):
    rows = []
    for variant, slopes in slopes_by_seed.items():
        for seed, slope in enumerate(slopes, start=1):
            for epoch in range(1, epochs + 1):
                accuracy = 0.8 + slope * epoch + 0.001 * ((epoch * seed) % 3)
                if collapse == (variant, seed, epoch):
                    accuracy -= 0.10
                rows.append(
                    {"variant": variant, "seed": seed, "epoch": epoch, "val_accuracy": accuracy}
                )
    return pd.DataFrame(rows)


def test_slopes_and_intervals_match_linregress_and_the_t_interval():
    table = convergence_table(
        histories({"rising": [0.004, 0.006, 0.005], "flat": [0.0005, -0.0004, 0.0]}),
        window=10,
        last_k=5,
    ).set_index("variant")
    data = histories({"rising": [0.004, 0.006, 0.005]})
    per_seed = [
        stats.linregress(run["epoch"][-10:], run["val_accuracy"][-10:]).slope
        for _, run in data.groupby("seed")
    ]
    mean, sd = np.mean(per_seed), np.std(per_seed, ddof=1)
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    row = table.loc["rising"]
    assert row["slope_per_epoch"] == pytest.approx(mean, abs=1e-12)
    assert (row["slope_ci_low"], row["slope_ci_high"]) == pytest.approx(
        (mean - half, mean + half), abs=1e-12
    )
    assert bool(row["still_rising"]) and not bool(table.loc["flat", "still_rising"])
    assert row["window"] == 10 and row["seeds"] == 3 and row["endpoint_epochs"] == 15


def test_a_single_collapsed_epoch_in_the_endpoint_is_counted_once():
    table = convergence_table(
        histories({"none": [0.0, 0.0, 0.0]}, collapse=("none", 2, 19)), last_k=5
    )
    assert table["collapsed_epochs"].tolist() == [1]
    before = convergence_table(histories({"none": [0.0] * 3}, collapse=("none", 2, 14)), last_k=5)
    assert before["collapsed_epochs"].tolist() == [0]  # outside the last 5 epochs


def test_the_report_says_which_variants_still_rise_beside_their_contrasts():
    from augablate.report import convergence_lines, rising_note, rising_variants

    table = convergence_table(
        histories({"all": [0.004, 0.006, 0.005], "none": [0.0005, -0.0004, 0.0]})
    )
    rising = rising_variants(table)
    assert set(rising) == {"all"}
    row = table.set_index("variant").loc["all"]
    assert rising["all"] == (
        f"`all` gained {row['slope_per_epoch'] * 100:+.2f} points per epoch over its last 10 "
        f"epochs (95% CI {row['slope_ci_low'] * 100:+.2f} to {row['slope_ci_high'] * 100:+.2f})"
    )
    assert rising["all"] in rising_note({"variant": "all", "baseline": "none"}, rising)
    assert rising_note({"variant": "rotation", "baseline": "none"}, rising) == ""
    text = "\n".join(convergence_lines(table, last_k=5))
    assert "Still rising at the end: `all`" in text and "0 of 30 endpoint epochs collapsed" in text


def test_the_endpoint_table_counts_verdicts_that_change_with_k():
    import pandas as pd

    from augablate.report import endpoint_lines

    endpoint = pd.DataFrame(
        [
            (k, "rotation", "none", d, v)
            for k, d, v in [
                (1, -0.05, "hurts"),
                (5, -0.01, "inconclusive"),
                (10, -0.01, "inconclusive"),
            ]
        ]
        + [(k, "zoom", "none", 0.002, "inconclusive") for k in (1, 5, 10)],
        columns=["last_k", "variant", "baseline", "difference", "verdict"],
    )
    text = "\n".join(endpoint_lines(endpoint, last_k=5))
    assert "1 verdict of 2 change with k" in text
    assert "| `rotation` vs `none` | -5.0 (hurts)" in text


def test_the_report_says_when_the_margin_is_out_of_reach():
    import pandas as pd

    from augablate.report import reach_lines

    primary = pd.DataFrame({"margin": [0.01, 0.01]})
    text = "\n".join(reach_lines(primary, {"smallest_margin": 0.036}))
    assert "±1 point (`analysis.equivalence_margin`), is narrower than any it can" in text
    assert "A margin of ±3.6 points or wider" in text
    assert reach_lines(primary, {"smallest_margin": 0.008}) == []


def test_a_significant_rise_of_a_hundredth_of_a_point_per_epoch_is_a_plateau():
    table = convergence_table(histories({"rotation": [0.0002, 0.0003, 0.00025]}))
    assert table["slope_ci_low"].iloc[0] > 0 and not table["still_rising"].iloc[0]


def test_the_report_names_the_contrasts_that_fell_back_to_their_own_seeds():
    import pandas as pd

    from augablate.inference import OWN, POOLED
    from augablate.report import pooling_lines

    primary = pd.DataFrame(
        {
            "variant": ["rotation", "all"],
            "baseline": ["none", "all-minus-zoom"],
            "method": [POOLED, OWN],
            "seeds": [3, 3],
        }
    )
    text = "\n".join(pooling_lines(primary))
    assert text.startswith("1 primary contrast of 2 did not borrow the pooled run part")
    assert "`all` vs `all-minus-zoom`" in text and "`rotation` vs `none`" not in text
    assert "Every primary contrast" in "\n".join(pooling_lines(primary.assign(method=POOLED)))
