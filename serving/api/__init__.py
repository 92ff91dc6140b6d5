"""The scanner-station HTTP API (FastAPI): `create_app(settings)` in `app.py`."""
