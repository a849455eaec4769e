# One rule per training job (augablate.settings.training_jobs): a group of seeds
# (resources.seeds_per_job) with a {variant} wildcard, or, with resources.variants_per_job above
# 1, a group of seeds of a group of variants. A job trains its runs one after the other in one
# process (one start-up, one compiled model), and every run keeps its own outputs. The rules
# are named train_seeds_1_2_3 or train_none_to_zoom_seeds_1_2_3; --set-threads /
# --set-resources given for `train` apply to all of them.
for _job in TRAINING_JOBS:

    rule:
        name:
            training_rule(_job)
        input:
            **CACHE_FILES,
        output:
            **_job.outputs(RUN),
        log:
            f"logs/train/{_job.stem}.log",
        benchmark:
            f"benchmarks/train/{_job.stem}.tsv"
        conda:
            "../envs/train.yaml"
        threads: config["resources"]["train_threads"]
        resources:
            **train_resources(len(_job.runs())),
        params:
            # exactly what decides the runs besides their seeds (augablate.settings.run_params):
            # a new seed or variant in a job of its own, an analysis setting, the grouping of
            # seeds into jobs or the range of a transform no variant of the job uses retrains
            # nothing done (the seeds are in the outputs, not in the params)
            **job_params(_job),
        script:
            "../scripts/train.py"
