"""Shared structures: loaded once with sdmx1, compiled into flat schemas for validation."""

from exchange.catalog.load import Catalog, CatalogError, load_catalog
from exchange.catalog.schema import ComponentRule, DsdSchema

__all__ = ["Catalog", "CatalogError", "ComponentRule", "DsdSchema", "load_catalog"]
