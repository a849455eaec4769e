if config["data"]["source"] == "archive":

    rule download:
        input:
            # a local archive is an input: replacing or correcting it reruns the data stage and
            # what follows (a remote one is fetched again when data.url, .sha256 or .bytes change)
            source=archive_source,
        output:
            archive=temp(ARCHIVE),
        log:
            "logs/download/{}.log".format(DATASET),
        benchmark:
            "benchmarks/download/{}.tsv".format(DATASET)
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=512,
            runtime=60,
        params:
            # one dict per rule: Snakemake compares params as a set of strings, so two
            # separate values could trade places unnoticed
            source={
                key: config["data"][key]
                for key in ("url", "sha256", "bytes", "retries", "timeout")
            },
        script:
            "../scripts/download.py"

    rule extract:
        input:
            archive=ARCHIVE,
        output:
            images=directory(IMAGES),
        log:
            "logs/extract/{}.log".format(DATASET),
        benchmark:
            "benchmarks/extract/{}.tsv".format(DATASET)
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=1024,
            runtime=60,
        params:
            max_bytes=config["data"]["max_uncompressed_bytes"],
        script:
            "../scripts/extract.py"

elif config["data"]["source"] == "folder":

    rule import_folder:
        output:
            images=directory(IMAGES),
        log:
            "logs/import_folder/{}.log".format(DATASET),
        benchmark:
            "benchmarks/import_folder/{}.tsv".format(DATASET)
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=1024,
            runtime=60,
        params:
            # the fingerprint of every file in the folder: a changed folder is read again
            folder=folder_source(),
        script:
            "../scripts/import_folder.py"

else:

    rule export_embedded:
        output:
            images=directory(IMAGES),
        log:
            "logs/export_embedded/{}.log".format(DATASET),
        benchmark:
            "benchmarks/export_embedded/{}.tsv".format(DATASET)
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=1024,
            runtime=10,
        params:
            source=config["data"]["source"],
        script:
            "../scripts/export_embedded.py"


rule cache:
    input:
        images=IMAGES,
    output:
        **CACHE_FILES,
    log:
        "logs/cache/{}.log".format(DATASET),
    benchmark:
        "benchmarks/cache/{}.tsv".format(DATASET)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4096,
        runtime=60,
    params:
        decode={
            "size": config["data"]["image_size"],
            "resize": config["data"]["resize"],
            "skip_bad": config["data"]["skip_bad_images"],
            "exif_orientation": config["data"]["exif_orientation"],
        },
    script:
        "../scripts/cache.py"
