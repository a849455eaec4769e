# The sequential top-up (augablate.sequential, augablate.topup): with topup.rounds above 0 the
# finished study is looked at (round 0), the variants of the primary contrasts still
# inconclusive (a factorial study: every design point, while a primary effect is open) get
# topup.seeds_per_round more seeds as training jobs of their own, and the study is looked at
# again, until every contrast is settled, the plan's rounds are done or the
# budget (topup.max_trainings, topup.max_hours) cannot pay for the next round. Each round's
# decision is a checkpoint: Snakemake adds the round's trainings to the DAG once it is written.


checkpoint topup_round:
    input:
        unpack(topup_round_inputs),
    output:
        state="results/topup/round-{round}.json",
    log:
        "logs/topup_round/round-{round}.log",
    benchmark:
        "benchmarks/topup_round/round-{round}.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=10,
    params:
        # the plan (fixed before the first look), the budget and what the tests need
        settings={
            **config["topup"],
            "seeds": SEEDS,
            "variants": VARIANTS,
            "alpha": config["analysis"]["alpha"],
            "equivalence_margin": config["analysis"]["equivalence_margin"],
            "last_k": config["analysis"]["last_k"],
            # a factorial study's design, whose primary effects are the questions (only
            # then: a one-at-a-time study's rounds keep their params)
            **(
                {"design": config["design"], "enabled": ENABLED}
                if config["design"]["type"] == "factorial"
                else {}
            ),
        },
        runs=topup_round_runs,
    script:
        "../scripts/topup_round.py"


# snakemake --cores N until_conclusive: the top-up's rounds and the report of the grown study
rule until_conclusive:
    input:
        report="results/report.md",
        rounds=until_conclusive_rounds,
