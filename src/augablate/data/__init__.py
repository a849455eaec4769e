"""Getting the images, one module per stage: :mod:`~augablate.data.download` (fetch and verify
an archive), :mod:`~augablate.data.layout` (extract it safely, check the folder layout),
:mod:`~augablate.data.embedded` and :mod:`~augablate.data.generated` (the data sets shipped in
code), :mod:`~augablate.data.cache` (decode everything once into a memory-mappable cache).

Layout every source ends in::

    <images>/{train,validation}/<class>/<file>
"""

from augablate.data.cache import RESIZE_METHODS, build_cache, decode_image, load_meta, load_split
from augablate.data.common import IMAGE_SUFFIXES, SPLITS, DataError
from augablate.data.download import (
    TransientDownloadError,
    describe_source,
    download,
    local_source,
    sha256_of,
    verify_archive,
)
from augablate.data.embedded import embedded_split, export_embedded
from augablate.data.layout import (
    check_layout,
    extract_archive,
    find_split_root,
    folder_manifest,
    import_folder,
    list_images,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "RESIZE_METHODS",
    "SPLITS",
    "DataError",
    "TransientDownloadError",
    "build_cache",
    "check_layout",
    "decode_image",
    "describe_source",
    "download",
    "embedded_split",
    "export_embedded",
    "extract_archive",
    "find_split_root",
    "folder_manifest",
    "import_folder",
    "list_images",
    "load_meta",
    "local_source",
    "load_split",
    "sha256_of",
    "verify_archive",
]
