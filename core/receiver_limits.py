"""The notification receiver's default limits, importable without its ASGI server stack.

``paycode --help`` builds every command's options; importing :mod:`paycode.notifications`
(Starlette, uvicorn, h11) for three numbers would cost every command about 0.2 s.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_READ_TIMEOUT", "DEFAULT_WORKERS"]

#: seconds a client has to send a whole request (headers and body) once it connected or began one
DEFAULT_READ_TIMEOUT = 10.0
#: connections served at once; a request beyond it is answered 503 (the gateway retries)
DEFAULT_MAX_CONNECTIONS = 1000
#: worker threads verifying and journaling notifications at once
DEFAULT_WORKERS = 8
