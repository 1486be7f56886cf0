"""Built-in plugins, registered by default after the installed entry points.

Each module here is a plugin object (a module with ``@paycode.hookimpl`` functions);
:data:`BUILTINS` lists them by plugin name.
"""

from __future__ import annotations

#: plugin name -> module. The host imports each when it builds its plugin manager.
BUILTINS: dict[str, str] = {
    "signers": "paycode.plugins.signers",
    "stdin": "paycode.plugins.stdin_scanner",
    "replay": "paycode.plugins.replay_scanner",
    "pingpong": "paycode.plugins.pingpong",
    "sandbox": "paycode.plugins.sandbox",
}
