"""The SQL models (package data): staging, marts and rollups, run by ``warehouse.models``."""
