rule aggregate:
    input:
        histories=run_outputs("history.csv"),
        metrics=run_outputs("metrics.json"),
    output:
        histories="results/tables/histories.csv",
        runs="results/tables/runs.csv",
        variants="results/tables/variants.csv",
        contrasts="results/tables/contrasts.csv",
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
        last_k=config["analysis"]["last_k"],
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        histories="results/tables/histories.csv",
        runs="results/tables/runs.csv",
        contrasts="results/tables/contrasts.csv",
    output:
        learning_curves_accuracy=report(
            FIGURES["learning_curves_accuracy"],
            caption="../report/learning_curves.rst",
            category="Learning curves",
        ),
        learning_curves_loss=report(
            FIGURES["learning_curves_loss"],
            caption="../report/learning_curves.rst",
            category="Learning curves",
        ),
        final_accuracy=report(
            FIGURES["final_accuracy"],
            caption="../report/final_accuracy.rst",
            category="Comparison",
        ),
        generalization_gap=report(
            FIGURES["generalization_gap"],
            caption="../report/generalization_gap.rst",
            category="Overfitting",
        ),
        contrasts=report(
            FIGURES["contrasts"],
            caption="../report/contrasts.rst",
            category="Comparison",
        ),
    log:
        "logs/figures/figures.log",
    benchmark:
        "benchmarks/figures/figures.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=10,
    script:
        "../scripts/figures.py"


rule augmentation_grid:
    input:
        **CACHE_FILES,
    output:
        grid=report(
            "results/figures/augmentation_grid.png",
            caption="../report/augmentation_grid.rst",
            category="Augmentation",
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
        variants=VARIANTS,
        augmentation=config["augmentation"],
        images=config["analysis"]["grid_images"],
        draws=config["analysis"]["grid_draws"],
        seed=SEEDS[0],
    script:
        "../scripts/augmentation_grid.py"


rule report:
    input:
        runs="results/tables/runs.csv",
        variants="results/tables/variants.csv",
        contrasts="results/tables/contrasts.csv",
        metrics=run_outputs("metrics.json"),
        meta=CACHE_FILES["meta"],
        figures=list(FIGURES.values()),
        grid="results/figures/augmentation_grid.png",
    output:
        report=report(
            "results/report.md",
            caption="../report/report.rst",
            category="Report",
        ),
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
    script:
        "../scripts/report.py"
