"""Write a data set the workflow ships in code to the image layout (rule export_embedded):
scikit-learn's digits (source: embedded) or the known-answer glyphs (source: generated)."""

import logging

from augablate.data import check_layout, export_embedded
from augablate.data.generated import export_known_answer
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
export = {"embedded": export_embedded, "generated": export_known_answer}[snakemake.params.source]
images = export(snakemake.output.images)
logging.info("exported %s; classes %s", images, check_layout(images))
