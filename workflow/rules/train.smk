rule train:
    input:
        **CACHE_FILES,
    output:
        history=f"{RUN}/history.csv",
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
        config=lambda wildcards: {
            key: config[key] for key in ("train", "model", "augmentation", "analysis")
        },
    script:
        "../scripts/train.py"
