# One rule, `train`, over the training jobs of augablate.jobs (TRAINING_JOBS): a job trains some
# seeds (resources.seeds_per_job) of one variant or of a group of variants
# (resources.variants_per_job) one after the other in one process (one start-up, one compiled
# model). Its output is the folder results/train/<job>/ holding each run's files in
# <variant>/seed-<seed>/; its runs' checkpoints live in results/checkpoints/<job>/ while it runs
# (Snakemake removes a job's outputs before it runs it), so a killed job's rerun resumes.
# --forcerun train, --until train, --set-threads train=N and --set-resources train:... apply to
# every training job.


rule train:
    input:
        **CACHE_FILES,
    output:
        runs=directory(JOB_FOLDER),
    log:
        "logs/train/{job}.log",
    benchmark:
        "benchmarks/train/{job}.tsv"
    conda:
        "../envs/train.yaml"
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=train_runtime,
        # resources.gpu: a whole GPU per job (gpu=1, which the SLURM plugin turns into
        # --gpus=1), or with resources.trainings_per_gpu N above 1 a slot of a shared GPU:
        # give --resources gpu_slots=<N x GPUs> (config/README.md)
        gpu=GPU["gpu"],
        gpu_slots=GPU["gpu_slots"],
    params:
        # exactly what decides the runs besides their seeds (augablate.settings.run_params of
        # each variant of the job): a new seed or variant in a job of its own, an analysis
        # setting or the range of a transform no variant of the job uses retrains nothing
        # done (the seeds are in the job's name, not in the params)
        runs=job_params,
    script:
        "../scripts/train.py"


# evaluation.tensorboard: every run has written its event file in tensorboard/ beside its
# outputs as it trained; gathered here as results/tensorboard/<variant>/seed-<seed>/, the same
# names whatever the grouping into jobs (tensorboard --logdir results/tensorboard).
rule tensorboard:
    input:
        training=training_outputs,
    output:
        events=directory(TENSORBOARD),
    log:
        "logs/tensorboard/tensorboard.log",
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=512,
        runtime=5,
    params:
        # every run as [variant, seed, its folder in its training job's folder]
        runs=[
            [run.variant, run.seed, folder]
            for run, folder in zip(RUNS, run_folders(RUNS))
        ],
    script:
        "../scripts/tensorboard.py"
