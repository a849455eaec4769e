"""Download and verify the archive (rule download)."""

from augablate.data import download
from augablate.logs import log_to_file

log_to_file(snakemake.log[0])
params = snakemake.params
download(
    params.url,
    snakemake.output.archive,
    expected_bytes=params.bytes,
    expected_sha256=params.sha256,
    retries=params.retries,
    timeout=params.timeout,
)
