"""How the answer depends on the endpoint: the primary contrasts' verdicts when an image's score
is its accuracy over the last 1, 5 or 10 epochs instead of the study's ``analysis.last_k``.

A verdict that changes with k rests on where single epochs fall; one that holds for every k
does not. The study's own k decides the verdicts; this table only shows how they would move.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from augablate.protocol import FULL_VALIDATION_EPOCHS

#: The endpoints the report compares (those beyond a study's epochs are left out); the largest
#: is the last epochs every run validates.
ENDPOINTS = (1, 5, FULL_VALIDATION_EPOCHS)

ENDPOINT_COLUMNS = [
    "last_k",
    "family",
    "variant",
    "baseline",
    "transform",
    "difference",
    "ci_low",
    "ci_high",
    "p_holm",
    "verdict",
]


def endpoint_table(
    predictions: Sequence[tuple[str, int, pd.DataFrame]],
    epochs: int,
    contrasts: Callable[[pd.DataFrame], pd.DataFrame],
    endpoints: Sequence[int] = ENDPOINTS,
) -> pd.DataFrame:
    """The primary contrasts at each endpoint k in ``endpoints`` (at most ``epochs``):
    ``contrasts`` is the study's contrasts function (its alpha and margin bound) applied to the
    per-image table of that k."""
    from augablate.analysis import image_table

    frames = []
    for k in [k for k in endpoints if k <= epochs]:
        table = contrasts(image_table(predictions, k))
        table = table[table["primary"].astype(bool)]
        frames.append(table.assign(last_k=k)[ENDPOINT_COLUMNS])
    if not frames:
        return pd.DataFrame(columns=ENDPOINT_COLUMNS)
    return pd.concat(frames, ignore_index=True)
