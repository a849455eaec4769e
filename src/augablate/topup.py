"""The top-up's files and training jobs: what the workflow needs to grow a finished study round
by round (the statistics are :mod:`augablate.sequential`).

Round n's decision is ``results/topup/round-<n>.json`` (rule ``topup_round``, a checkpoint): the
look at the study's runs so far, each primary contrast's status, and the (variant, seed) pairs
it adds with why, or why the procedure ended. Added runs are training jobs of their own, one
variant and the round's seeds each (``rotation_seeds-4-5``; ``resources.seeds_per_job`` at a
time): the study's own jobs keep their names and params, so nothing finished is trained again.

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


def topup_jobs(config: Mapping, states: Sequence[Mapping]) -> dict[str, TrainingJob]:
    """The training jobs of the rounds' added runs: per round and variant, its seeds
    ``resources.seeds_per_job`` at a time."""
    jobs = {}
    for state in states:
        for variant in state["added"]["variants"]:
            for seeds in chunks(state["added"]["seeds"], config["resources"]["seeds_per_job"]):
                job = TrainingJob((variant,), tuple(seeds))
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


def report_lines(states: Sequence[Mapping]) -> list[str]:
    """The report's section on the top-up: per round what was looked at, decided and added,
    and why the procedure ended."""
    if not states:
        return []
    plan = states[0]["state"]["plan"]
    lines = [
        "## Top-up: seeds where the answer was open",
        "",
        f"The finished study was grown by a sequential procedure planned before its first look: "
        f"at most {plan['rounds']} round{'s' if plan['rounds'] > 1 else ''} of "
        f"{plan['seeds_per_round']} seeds, given only to "
        "the variants of primary contrasts still inconclusive; each look tests both claims "
        "(helps / hurts, and no effect larger than the margin) against Lan-DeMets "
        "O'Brien-Fleming-type boundaries with group-sequential Holm, so the verdicts keep "
        "their error rates over the looks (docs/statistics.md). The primary verdicts above "
        "are this procedure's.",
        "",
    ]
    for state in states:
        rows = state["look"]
        made = [r for r in rows if r["status"] != "open"]
        still = [r for r in rows if r["status"] == "open"]
        words = f"Round {state['round']} (look {state['round'] + 1}"
        words += f", {rows[0]['seeds']} seeds per open variant): " if rows else "): "
        if made:
            words += (
                "settled "
                + "; ".join(
                    f"`{r['contrast']}` ({r['status']}, p = {r['p_value']:.2g} against its "
                    f"level {r['level']:.2g})"
                    for r in made
                )
                + ". "
            )
        if still:
            words += (
                "Still open: "
                + "; ".join(
                    f"`{r['contrast']}` (difference {100 * r['difference']:+.1f} points, p = "
                    f"{r['p_value']:.2g} against {r['level']:.2g}; equivalence p = "
                    f"{r['p_equivalence']:.2g} against {r['level_equivalence']:.2g})"
                    for r in still
                )
                + ". "
            )
        added = state["added"]
        if added["variants"]:
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
