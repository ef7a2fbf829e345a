"""Mirror statistics and regional aggregates: pure functions over stored rows (hub extensions, not SDMX)."""
