"""The audit store: scan records and reviews (SQLAlchemy), station keys, and scan images (fsspec)."""
