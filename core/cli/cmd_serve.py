"""``paycode serve``: the local bridge, an HTTP + WebSocket API with a JavaScript client and a cashier page."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from ._steps import seconds

if TYPE_CHECKING:
    from ..bridge import Bridge
    from ..settings import Settings

HELP = "serve the local bridge: HTTP + WebSocket API, JS client and cashier page for host applications (docs/bridge.md)"


def _lane(text: str) -> tuple[str, str | None]:
    name, sep, url = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(
            f"--lane {text!r} must be NAME=SCANNER_URL (e.g. lane-1=serial:///dev/ttyACM0), or NAME= for a lane "
            "without a scanner"
        )
    return name.strip(), url.strip() or None


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 <= int(text) <= 65535):
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number 0-65535")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; loopback only unless --allow-remote)",
    )
    parser.add_argument("--port", type=_port, default=8350, help="port to listen on (default 8350; 0: any free port)")
    parser.add_argument(
        "--lane",
        type=_lane,
        action="append",
        metavar="NAME=SCANNER_URL",
        default=[],
        help="a lane and its scanner; repeatable (default: one lane, settings lane and scanner)",
    )
    parser.add_argument(
        "--json", action="store_true", help='print {"event": "listening", "url", "lanes", …} as the first stdout line'
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not loopback; requires --ssl-certfile and --ssl-keyfile",
    )
    parser.add_argument("--ssl-certfile", metavar="FILE", help="TLS certificate (PEM) to serve https")
    parser.add_argument("--ssl-keyfile", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument(
        "--origin",
        action="append",
        metavar="URL",
        default=[],
        help="another origin allowed to call the API from a browser; repeatable (adds to setting bridge_origins)",
    )
    parser.add_argument(
        "--scan-timeout",
        type=seconds,
        default=60.0,
        metavar="S",
        help="seconds a payment waits for its scan (default 60)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=seconds,
        metavar="S",
        help="on SIGTERM, the longest wait for payments in flight (default: until each is final or journaled)",
    )


def _check_origin(origin: str) -> str:
    from ..errors import ConfigError

    text = origin.strip().rstrip("/")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("http", "https") or not rest or "/" in rest:
        raise ConfigError(f"origin {origin!r} must be scheme://host[:port], e.g. http://localhost:3000")
    from urllib.parse import urlsplit

    try:
        port = urlsplit(text).port  # also checks an IPv6 literal's brackets
    except ValueError as exc:
        raise ConfigError(
            f"origin {origin!r} is not a valid scheme://host[:port] ({exc}), e.g. http://[::1]:3000"
        ) from None
    if not urlsplit(text).hostname or (port is not None and not 0 < port < 65536):
        raise ConfigError(f"origin {origin!r} has no host or a bad port; e.g. http://localhost:3000")
    return text


def run(args: argparse.Namespace) -> int:
    from ..bridge import Bridge, BridgeServer
    from ..bridge.security import load_token
    from ..errors import ConfigError
    from ..settings import Settings

    settings = Settings.load(config=args.config)
    origins = [_check_origin(o) for o in (*settings.bridge_origins, *args.origin)]
    names = [name for name, _ in args.lane]
    if len(set(names)) != len(names):
        raise ConfigError(f"--lane names must differ: {', '.join(names)}")
    token, token_file = load_token(settings.bridge_token_file)
    bridge = Bridge.build(settings, dict(args.lane) or None, scan_timeout=args.scan_timeout)
    try:
        server = BridgeServer(
            bridge,
            token=token,
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            origins=origins,
            hosts=settings.bridge_hosts,
            drain_timeout=args.drain_timeout,
            notifications=_notifications(bridge, settings, args),
        )
        lanes = [lane.as_json() for lane in bridge.lanes.values()]
        # a supervisor that reads the listening line may signal at once, before uvicorn installs its own
        # handlers inside serve(): drain from here on, never die of the default action
        server.handle_signals_until_serving()
        if args.json:
            print(
                json.dumps(
                    {
                        "event": "listening",
                        "url": server.url,
                        "lanes": [lane["name"] for lane in lanes],
                        "scanners": {lane["name"]: lane["scanner"] for lane in lanes},
                        "token_file": token_file,
                        "token_source": "file" if token_file else "PAYCODE_BRIDGE_TOKEN",
                        "openapi": f"{server.url}/openapi.json",
                        "page": f"{server.url}/",
                        "gateway": settings.gateway if "://" not in settings.gateway else "url",
                    }
                ),
                flush=True,
            )
        else:
            print(
                f"paycode serve: listening on {server.url} (lanes: {', '.join(lane['name'] for lane in lanes)})",
                flush=True,
            )
            where = f"the file {token_file}" if token_file else "PAYCODE_BRIDGE_TOKEN"
            print(
                f"token: in {where}; cashier page: {server.url}/#token=<the token>; API: {server.url}/openapi.json",
                flush=True,
            )
        server.serve()
        left = bridge.in_flight()
    finally:
        bridge.close()
    if left:
        print(
            f"paycode serve: stopped with payments still in flight ({', '.join(left)}); they are journaled and "
            "recovery settles them on the next start",
            file=sys.stderr,
        )
    return 0


def _notifications(bridge: Bridge, settings: Settings, args: argparse.Namespace) -> object:
    """The notification receiver app when the notification URL points at this bridge's /notifications."""
    from urllib.parse import urlsplit

    url = settings.notification_url
    if not url:
        return None
    parts = urlsplit(url)
    if parts.port != args.port or not (parts.path or "/").startswith("/notifications"):
        return None
    return bridge.notification_app()
