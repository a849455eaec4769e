rule aggregate:
    input:
        training=training_outputs,
        rounds=topup_round_files,
    output:
        **TABLES,
    log:
        "logs/aggregate/aggregate.log",
    benchmark:
        "benchmarks/aggregate/aggregate.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=10,
    params:
        # every run's folder (in the training jobs' folders), in the config's order, then
        # the top-up's added runs
        runs=all_run_folders,
        # one dict: Snakemake compares params as a set of strings, so separate values equal
        # to each other could trade places unnoticed
        analysis={
            key: config["analysis"][key]
            for key in ("last_k", "alpha", "equivalence_margin")
        },
        # the factorial design whose effects the tables give (one-at-a-time: none)
        design={"design": config["design"], "enabled": ENABLED},
        # the top-up's rounds (their verdicts replace the fixed-sample ones): whether any
        topup=TOPUP,
    script:
        "../scripts/aggregate.py"


rule figure:
    input:
        tables=lambda wildcards: [
            TABLES[name] for name in FIGURES[wildcards.figure].tables
        ],
    output:
        figure=report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
        ),
    log:
        "logs/figure/{figure}.log",
    benchmark:
        "benchmarks/figure/{figure}.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=10,
    params:
        # what the figure is (augablate.figures.FIGURES); the caption of snakemake --report
        caption=lambda wildcards: FIGURES[wildcards.figure].caption,
    script:
        "../scripts/figure.py"


rule augmentation_grid:
    input:
        **CACHE_FILES,
    output:
        grid=report(
            GRID,
            caption="../report/figure.rst",
            category="Figures",
        ),
    log:
        "logs/augmentation_grid/augmentation_grid.log",
    benchmark:
        "benchmarks/augmentation_grid/augmentation_grid.tsv"
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=10,
    params:
        caption=AUGMENTATION_GRID.caption,
        grid={
            "variants": VARIANTS,
            "augmentation": config["augmentation"],
            "images": config["analysis"]["grid_images"],
            "draws": config["analysis"]["grid_draws"],
            "seed": SEEDS[0],
        },
    script:
        "../scripts/augmentation_grid.py"


rule report:
    input:
        **{
            name: TABLES[name]
            for name in (
                "runs",
                "variants",
                "contrasts",
                "mcnemar",
                "dose_response",
                "convergence",
                "endpoint",
                "effects",
                "overall",
            )
        },
        training=training_outputs,
        rounds=topup_round_files,
        meta=CACHE_FILES["meta"],
        figures=expand("results/figures/{figure}.png", figure=STUDY_FIGURES),
        grid=GRID,
    output:
        report=report(
            "results/report.md",
            caption="../report/report.rst",
            category="Report",
        ),
        landing=LANDING,
        study=STUDY_RECORD,
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/report/report.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=1024,
        runtime=10,
    params:
        config=config,
        command=REPRODUCE_COMMAND,
        config_files=CONFIG_FILES,
        enabled=ENABLED,
        runs=all_run_folders,
    script:
        "../scripts/report.py"
