"""One module per resource: scans, reviews, models, health."""
