"""The top-up's files and training jobs: what the workflow needs to grow a finished study round
by round (the statistics are :mod:`augablate.sequential`).

Round n's decision is ``results/topup/round-<n>.json`` (rule ``topup_round``, a checkpoint): the
look at the study's runs so far, each primary question's status (a one-at-a-time study's
contrasts, a factorial study's effects), and the (variant, seed) pairs it adds with why, or why
the procedure ended. Added runs are training jobs of their own, one variant and the round's
seeds each (``rotation_seeds-4-5``; ``resources.seeds_per_job`` at a time), or for a factorial
study, whose rounds add every design point, the study's own groups of
``resources.variants_per_job`` points (``none-to-all_seeds-3-4``): the study's own jobs keep
their names and params, so nothing finished is trained again.

Standard library only: the Snakefile imports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from augablate.jobs import TrainingJob, chunks, run_folder, training_jobs

ROUND_FILE = "results/topup/round-{round}.json"


def round_file(round_: int) -> str:
    return ROUND_FILE.format(round=round_)


def active(config: Mapping) -> bool:
    """Whether the study is topped up (``topup.rounds`` above 0)."""
    return int(config.get("topup", {}).get("rounds", 0)) > 0


def read_rounds(folder: str | Path = ".") -> list[dict]:
    """The round files on disk, round 0 on, up to the first missing one or the one that ended
    the procedure."""
    states = []
    while (path := Path(folder) / round_file(len(states))).is_file():
        states.append(json.loads(path.read_text()))
        if states[-1]["finished"]:
            break
    return states


def added_runs(states: Sequence[Mapping]) -> list[tuple[str, int]]:
    """Every (variant, seed) the rounds added, in order."""
    return [
        (v, s)
        for state in states
        for v in state["added"]["variants"]
        for s in state["added"]["seeds"]
    ]


def factorial(config: Mapping) -> bool:
    """Whether the study is a factorial design (``design.type``)."""
    return (config.get("design") or {}).get("type") == "factorial"


def topup_jobs(config: Mapping, states: Sequence[Mapping]) -> dict[str, TrainingJob]:
    """The training jobs of the rounds' added runs: per round, its seeds
    ``resources.seeds_per_job`` at a time, for each variant it adds (one-at-a-time) or each of
    the study's groups of ``resources.variants_per_job`` design points (a factorial round adds
    every point: its jobs are the study's groups, named alike)."""
    resources = config["resources"]
    jobs = {}
    for state in states:
        variants = state["added"]["variants"]
        groups = [(variant,) for variant in variants]
        if factorial(config):  # in the config's order, as the study's jobs
            ordered = [variant for variant in config["variants"] if variant in set(variants)]
            groups = chunks(ordered, resources["variants_per_job"])
        for group in groups:
            for seeds in chunks(state["added"]["seeds"], resources["seeds_per_job"]):
                job = TrainingJob(tuple(group), tuple(seeds))
                jobs[job.name] = job
    return jobs


def topup_run_folders(config: Mapping, states: Sequence[Mapping]) -> list[str]:
    """The run folders of the rounds' added runs, in the order they were added."""
    folders = []
    for name, job in topup_jobs(config, states).items():
        folders += [run_folder(name, variant, seed) for variant, seed in job.runs()]
    return folders


def study_jobs(config: Mapping, states: Sequence[Mapping] = ()) -> dict[str, TrainingJob]:
    """The study's training jobs (:func:`augablate.jobs.training_jobs`) and the top-up's."""
    return {**training_jobs(config), **topup_jobs(config, states)}


def budget_trainings(config: Mapping, seconds_per_training: float) -> float:
    """The most trainings the top-up may add: ``topup.max_trainings``, and
    ``topup.max_hours`` over the study's measured time per training (the smaller)."""
    topup = config["topup"]
    limits = [float("inf")]
    if topup.get("max_trainings") is not None:
        limits.append(float(topup["max_trainings"]))
    if topup.get("max_hours") is not None and seconds_per_training > 0:
        limits.append(float(int(topup["max_hours"] * 3600 // seconds_per_training)))
    return min(limits)


def noun(state: Mapping) -> str:
    """What a round file's questions are: ``contrast`` (one-at-a-time) or ``effect``
    (factorial); its look's rows name each by this key."""
    questions = state["state"].get("questions", state["state"].get("contrasts", []))
    return (
        "effect" if any(q.get("kind", "contrast") != "contrast" for q in questions) else "contrast"
    )


def report_lines(states: Sequence[Mapping]) -> list[str]:
    """The report's section on the top-up: per round what was looked at, decided and added,
    and why the procedure ended (in a factorial study's words: effects, design points)."""
    if not states:
        return []
    plan = states[0]["state"]["plan"]
    key = noun(states[0])
    rounds = f"at most {plan['rounds']} round{'s' if plan['rounds'] > 1 else ''}"
    if key == "effect":
        given = (
            f"{plan['seeds_per_round']} seeds for every design point, while any primary effect "
            "is still inconclusive (every point informs every effect, and the design stays "
            "balanced)"
        )
        verdicts = "The main-effects table's verdicts are this procedure's."
    else:
        given = (
            f"{plan['seeds_per_round']} seeds, given only to the variants of primary contrasts "
            "still inconclusive"
        )
        verdicts = "The primary verdicts above are this procedure's."
    lines = [
        "## Top-up: seeds where the answer was open",
        "",
        f"The finished study was grown by a sequential procedure planned before its first look: "
        f"{rounds} of {given}; each look tests both claims of every open {key} "
        "(helps / hurts, and no effect larger than the margin) against Lan-DeMets "
        "O'Brien-Fleming-type boundaries with group-sequential Holm, so the verdicts keep "
        f"their error rates over the looks (docs/statistics.md). {verdicts}",
        "",
    ]
    per = "design point" if key == "effect" else "open variant"
    for state in states:
        rows = state["look"]
        made = [r for r in rows if r["status"] != "open"]
        still = [r for r in rows if r["status"] == "open"]
        words = f"Round {state['round']} (look {state['round'] + 1}"
        words += f", {rows[0]['seeds']} seeds per {per}): " if rows else "): "
        if made:
            words += (
                "settled "
                + "; ".join(
                    f"`{r[key]}` ({r['status']}, p = {r['p_value']:.2g} against its "
                    f"level {r['level']:.2g})"
                    for r in made
                )
                + ". "
            )
        if still:
            words += (
                "Still open: "
                + "; ".join(
                    f"`{r[key]}` (difference {100 * r['difference']:+.1f} points, p = "
                    f"{r['p_value']:.2g} against {r['level']:.2g}; equivalence p = "
                    f"{r['p_equivalence']:.2g} against {r['level_equivalence']:.2g})"
                    for r in still
                )
                + ". "
            )
        added = state["added"]
        if added["variants"] and key == "effect":
            words += (
                f"Added seed{'s' if len(added['seeds']) > 1 else ''} "
                + ", ".join(str(s) for s in added["seeds"])
                + f" for all {len(added['variants'])} design points ({added['trainings']} "
                f"trainings, {state['trainings_added']} added in all)."
            )
        elif added["variants"]:
            words += (
                f"Added seed{'s' if len(added['seeds']) > 1 else ''} "
                + ", ".join(str(s) for s in added["seeds"])
                + " for "
                + ", ".join(f"`{v}`" for v in added["variants"])
                + f" ({added['trainings']} trainings, {state['trainings_added']} added in all): "
                "the variants of the open contrasts."
            )
        else:
            words += f"Nothing added: {state['reason']}."
        lines += [f"- {words}", ""]
    return lines
