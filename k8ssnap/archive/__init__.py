"""k8ssnap.archive: the versioned snapshot archive format (docs/archive-format.md).

Push-style: ``writer.ArchiveWriter`` turns objects into gzip bytes as they
come, ``reader.ArchiveReader`` turns bytes into objects as they arrive.
Standard library and orjson only; no I/O.
"""
