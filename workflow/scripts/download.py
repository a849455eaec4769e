"""Download and verify the archive (rule download)."""

from augablate.data import download
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
source = snakemake.params.source
download(
    source["url"],
    snakemake.output.archive,
    expected_bytes=source["bytes"],
    expected_sha256=source["sha256"],
    retries=source["retries"],
    timeout=source["timeout"],
)
