"""Decode every image once into the memory-mappable cache (rule cache)."""

import logging
from pathlib import Path

from augablate.data import build_cache
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
decode = snakemake.params.decode
meta = build_cache(
    snakemake.input.images,
    Path(snakemake.output.meta).parent,
    size=decode["size"],
    resize=decode["resize"],
    skip_bad=decode["skip_bad"],
)
for split, info in meta["splits"].items():
    logging.info("%s: %d images %s", split, info["count"], info["per_class"])
