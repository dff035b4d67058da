"""Run an ASGI app on a free loopback port in a background thread (the library's helper)."""
from smolmoe.serve.load import running_server as live_server  # noqa: F401
