"""xscreen: X-ray screening of mail and parcels."""

__version__ = "0.1.0"
