"""Extract the archive safely and check its layout (rule extract)."""

import logging

from augablate.data import check_layout, extract_archive
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
images = extract_archive(
    snakemake.input.archive,
    snakemake.output.images,
    max_bytes=snakemake.params.max_bytes,
)
logging.info("extracted %s; classes %s", images, check_layout(images))
