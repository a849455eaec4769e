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
    exif_orientation=decode["exif_orientation"],
)
for split, info in meta["splits"].items():
    logging.info("%s: %d images %s", split, info["count"], info["per_class"])
ignored = meta["ignored"]
if ignored["hidden"] or ignored["other_suffixes"]:
    logging.info(
        "not data, skipped: %d hidden file(s) or folder(s) %s; other files by suffix %s",
        ignored["hidden"],
        ignored["hidden_examples"],
        ignored["other_suffixes"],
    )
for split, bad in meta["skipped"].items():
    for entry in bad:
        logging.warning("undecodable, skipped (data.skip_bad_images): %s/%s", split, entry)
for warning in meta["warnings"]:
    logging.warning("%s", warning)
