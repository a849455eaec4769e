"""One round of the sequential top-up (rule topup_round): look at the study's runs so far,
settle what the boundaries allow, and name the seeds the next round adds (augablate.sequential,
augablate.topup). The questions are the primary contrasts, or a factorial study's primary
effects (augablate.factorial.primary_questions)."""

import json
import math
import os

import numpy as np
import pandas as pd

from augablate import analysis
from augablate.design import design_from_config
from augablate.factorial import primary_questions
from augablate.io import atomic_write_text
from augablate.logs import log_to_file
from augablate.protocol import RUN_FILES
from augablate.sequential import Plan, SequentialState, decide_round
from augablate.topup import budget_trainings

log_to_file(snakemake.log[0])
round_ = int(snakemake.wildcards.round)
settings = snakemake.params.settings
if snakemake.input.previous:
    with open(snakemake.input.previous[0]) as handle:
        previous = json.load(handle)
    state = SequentialState.from_dict(previous["state"])
    used = previous["trainings_added"]
else:
    plan = Plan(
        tuple(settings["seeds"]),
        settings["seeds_per_round"],
        settings["rounds"],
        settings["alpha"],
        settings["equivalence_margin"] / 100,
    )
    design = design_from_config(settings, settings.get("enabled", ()))
    if design is None:  # one-at-a-time: the primary contrasts
        pairs = analysis.contrast_pairs(settings["variants"])
        state = SequentialState.start(plan, [(p.variant, p.baseline) for p in pairs if p.primary])
    else:  # factorial: the primary effects, each weighing every design point
        questions = primary_questions(
            design, settings["enabled"], settings["design"]["interactions_primary"]
        )
        state = SequentialState.of(plan, questions)
    used = 0
# the open variants' runs at this look, over the seeds each has so far
wanted = {(v, s) for v in state.open_variants() for s in state.seeds[v]}
predictions, seconds = [], []
for folder in snakemake.params.runs:
    with open(os.path.join(folder, RUN_FILES["metrics"])) as handle:
        metrics = json.load(handle)
    seconds.append(metrics["wall_seconds"])
    if (metrics["variant"], metrics["seed"]) in wanted:
        frame = pd.read_csv(os.path.join(folder, RUN_FILES["predictions"]))
        predictions.append((metrics["variant"], metrics["seed"], frame))
images = analysis.image_table(predictions, settings["last_k"])
tables = analysis.variant_tables(images)
common = sorted(set.intersection(*(set(t.columns) for t in tables.values())))
state.look_at({v: tables[v].loc[state.seeds[v], common].to_numpy(float) for v in tables})
budget = budget_trainings({"topup": settings}, float(np.median(seconds)))
added = decide_round(state, budget - used)
rows = [  # the questions open at this look: a contrast with its variants, or an effect
    (
        {"contrast": q.name, "variant": q.variant, "baseline": q.baseline}
        if state.noun == "contrast"
        else {"effect": q.name, "kind": q.kind}
    )
    | q.history[-1]
    for q in state.questions
    if q.history and q.history[-1]["look"] == state.look
]
record = {
    "round": round_,
    "look": rows,
    "verdicts": state.verdicts(),
    "added": added,
    "trainings_added": used + added["trainings"],
    "budget_trainings": None if math.isinf(budget) else budget,
    "seconds_per_training": float(np.median(seconds)),
    "finished": not added["variants"],
    "reason": added["reason"],
    "state": state.as_dict(),
}
atomic_write_text(snakemake.output.state, json.dumps(record, indent=1, default=float) + "\n")
