"""exchange: an SDMX hub for international migration statistics."""

__version__ = "0.1.0"
