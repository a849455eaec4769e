rule train:
    input:
        **CACHE_FILES,
    output:
        history=f"{RUN}/history.csv",
        predictions=f"{RUN}/predictions.csv.gz",
        metrics=f"{RUN}/metrics.json",
    log:
        "logs/train/{variant}/seed-{seed}.log",
    benchmark:
        "benchmarks/train/{variant}/seed-{seed}.tsv"
    conda:
        "../envs/train.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        **train_resources(),
    params:
        # exactly what decides this run's result (augablate.settings.run_params): a new seed,
        # variant, analysis setting or the range of an unused transform retrains nothing done
        run=lambda wildcards: run_params(config, wildcards.variant),
    script:
        "../scripts/train.py"
