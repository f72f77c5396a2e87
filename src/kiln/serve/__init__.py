"""The REST service: `create_app(settings)` (FastAPI) run by uvicorn, and its web page."""
