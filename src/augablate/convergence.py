"""Has each variant stopped learning by the end of its runs, and did single epochs throw it off?

A contrast between two variants measures where they end only if both have levelled off; if
one is still rising, it also measures how fast it learns. Per variant: the least-squares slope
of validation accuracy over the last ``window`` epochs of each run, averaged over the seeds,
with a 95% t-interval over seeds (the population: seeds; the epochs of one run are not
independent draws, its slope is one number). A variant is *still rising* when that interval
lies above zero and the slope is at least :data:`RISING_SLOPE` (0.1 points per epoch, a point
over 10 more epochs): a significant rise of a hundredth of a point per epoch is a plateau. Collapses: epochs within the endpoint (the last k) whose validation accuracy
is ``drop`` or more below the run's median over those epochs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from augablate.protocol import FULL_VALIDATION_EPOCHS

#: The smallest slope (accuracy per epoch: 0.1 points) the report calls still rising.
RISING_SLOPE = 0.001
#: An endpoint epoch this far (accuracy: 3 points) below its run's median over the endpoint
#: counts as a collapse.
COLLAPSE_DROP = 0.03

CONVERGENCE_COLUMNS = [
    "variant",
    "window",
    "seeds",
    "slope_per_epoch",
    "slope_ci_low",
    "slope_ci_high",
    "still_rising",
    "endpoint_epochs",
    "collapsed_epochs",
]


def run_slope(epochs: np.ndarray, accuracy: np.ndarray) -> float:
    """Least-squares slope of accuracy on epoch (accuracy per epoch)."""
    return float(np.polyfit(np.asarray(epochs, float), np.asarray(accuracy, float), 1)[0])


def convergence_table(
    histories: pd.DataFrame,
    window: int = FULL_VALIDATION_EPOCHS,
    last_k: int = 5,
    drop: float = COLLAPSE_DROP,
) -> pd.DataFrame:
    """One row per variant (in the histories' order): the slope of validation accuracy over
    the last ``window`` epochs with its 95% interval over seeds, whether it is still rising,
    and how many of the runs' last ``last_k`` epochs collapsed."""
    rows = []
    for variant, runs in histories.groupby("variant", sort=False):
        slopes, collapsed, endpoint = [], 0, 0
        for _, run in runs.groupby("seed", sort=True):
            run = run.sort_values("epoch")
            tail = run.tail(min(window, len(run)))
            if len(tail) >= 2:
                slopes.append(run_slope(tail["epoch"], tail["val_accuracy"]))
            last = run["val_accuracy"].to_numpy(float)[-last_k:]
            collapsed += int((last <= np.median(last) - drop).sum())
            endpoint += len(last)
        slopes = np.asarray(slopes)
        mean = float(slopes.mean()) if len(slopes) else math.nan
        if len(slopes) >= 2 and slopes.std(ddof=1) > 0:
            low, high = stats.t.interval(
                0.95, len(slopes) - 1, loc=mean, scale=slopes.std(ddof=1) / math.sqrt(len(slopes))
            )
        else:
            low = high = mean
        rows.append(
            {
                "variant": variant,
                "window": int(min(window, runs["epoch"].nunique())),
                "seeds": len(slopes),
                "slope_per_epoch": mean,
                "slope_ci_low": float(low),
                "slope_ci_high": float(high),
                "still_rising": bool(len(slopes) >= 2 and low > 0 and mean >= RISING_SLOPE),
                "endpoint_epochs": endpoint,
                "collapsed_epochs": collapsed,
            }
        )
    return pd.DataFrame(rows, columns=CONVERGENCE_COLUMNS)
