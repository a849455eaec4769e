"""Export the embedded digits data set to the image layout (rule export_embedded)."""

import logging

from augablate.data import check_layout, export_embedded
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
images = export_embedded(snakemake.output.images)
logging.info("exported %s; classes %s", images, check_layout(images))
