"""Copy the user's folder of images into the workflow, checked (rule import_folder)."""

import logging

from augablate.data import check_layout, import_folder
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
folder = snakemake.params.folder
images = import_folder(folder["path"], snakemake.output.images)
logging.info(
    "imported %s (fingerprint %s); classes %s",
    folder["path"],
    folder["manifest"],
    check_layout(images),
)
