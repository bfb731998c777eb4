"""``recsys serve``: the FastAPI app (app.py), its ASGI guard, caches, metrics and the uvicorn runner."""
