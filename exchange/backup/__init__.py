"""``exchange export DIR`` / ``exchange import DIR``: the whole store as files (issue #15, "Keep data safe").

The layout and the choice of representation are described in docs/export.md:
``manifest.json`` (counts, SHA-256 of every file), ``structures/`` (the pushed SDMX-ML structure messages as
pushed), ``data/`` (one SDMX-CSV 2.0 file per DSD holding every version of every observation, with custom
provenance columns) and ``tables/`` (the hub's own records - submissions, their issues, token hashes, events -
as JSON lines).
"""

from exchange.backup.dump import ExportRefused, export_store
from exchange.backup.restore import ImportRefused, import_store

__all__ = ["ExportRefused", "ImportRefused", "export_store", "import_store"]
