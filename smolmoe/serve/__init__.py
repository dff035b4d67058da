"""`smolmoe serve`: an OpenAI-compatible chat API and a web page that shows routing live.

- `schema.py`: the request body (validated) and the response/chunk bodies, OpenAI's shapes;
- `worker.py`: one thread steps the engine's continuous batch, one event queue per request;
- `load.py`: aggregate tokens/s with N concurrent clients vs one at a time (the bench);
- `app.py`: the FastAPI app (routes, limits, JSON errors) and `serve()`, which runs uvicorn;
- `static/`: the web page (plain HTML/JS/CSS, no build step).
"""
from .app import ServerLimits, create_app, is_loopback, serve

__all__ = ["ServerLimits", "create_app", "is_loopback", "serve"]
