"""The local bridge (``paycode serve``): an HTTP + WebSocket API, a JavaScript client and a cashier page.

::

    from paycode.bridge import Bridge, BridgeServer
    from paycode.bridge.security import load_token

    bridge = Bridge.build(settings, {"lane-1": "serial:///dev/ttyACM0"})
    token, token_file = load_token(settings.bridge_token_file)
    BridgeServer(bridge, token=token, port=8350).serve()   # until SIGTERM, then drains
    bridge.close()

docs/bridge.md describes the API, the client, the page and the security rules.
"""

from __future__ import annotations

from .app import BridgeApp, create_app, openapi_document
from .events import EventHub
from .server import DEFAULT_PORT, BridgeServer
from .service import Bridge

__all__ = ["DEFAULT_PORT", "Bridge", "BridgeApp", "BridgeServer", "EventHub", "create_app", "openapi_document"]
