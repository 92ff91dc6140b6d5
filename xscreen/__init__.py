"""xscreen: X-ray screening of mail and parcels.

Importing any xscreen package makes ultralytics safe to import offline (see `xscreen.offline`):
the environment switches are set here, before anything can import ultralytics.
"""

from xscreen.offline import set_offline_environment

__version__ = "0.1.0"

set_offline_environment()
