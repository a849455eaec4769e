# One rule per group of seeds (resources.seeds_per_job), each with a {variant} wildcard: a job
# trains its variant's seeds one after the other in one process (one start-up, one compiled
# model), and every run keeps its own outputs. The rules are named train_seed_1 or
# train_seeds_1_2_3; --set-threads / --set-resources given for `train` apply to all of them.
for _seeds in TRAINING_JOBS:

    rule:
        name:
            training_rule(_seeds)
        input:
            **CACHE_FILES,
        output:
            **job_outputs(_seeds, RUN),
        log:
            f"logs/train/{{variant}}/{chunk_label(_seeds)}.log",
        benchmark:
            f"benchmarks/train/{{variant}}/{chunk_label(_seeds)}.tsv"
        conda:
            "../envs/train.yaml"
        threads: config["resources"]["train_threads"]
        resources:
            **train_resources(len(_seeds)),
        params:
            # exactly what decides the runs besides their seeds (augablate.settings.run_params):
            # a new seed, variant, analysis setting, the grouping of seeds into jobs or the
            # range of an unused transform retrains nothing done (the seeds are in the outputs)
            run=lambda wildcards: run_params(config, wildcards.variant),
        script:
            "../scripts/train.py"
