"""``paycode plugins [--json]``: the loaded plugins and the problems of those that did not load."""

from __future__ import annotations

import argparse
import json

HELP = "list installed plugins: name, distribution, version, hooks, what each registers, and problems"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace) -> int:
    from ..host import PluginHost
    from ..settings import Settings

    host = PluginHost(Settings.load(args.config))
    plugins = host.plugin_info()
    if args.json:
        for info in plugins:
            print(json.dumps(info))
        for problem in host.problems:
            print(json.dumps(problem.as_json()))
        return 0
    for info in plugins:
        origin = " ".join(str(v) for v in (info["distribution"], info["version"]) if v) or "given by the caller"
        print(f"{info['name']}  {origin}  ({info['source']})")
        print(f"  hooks: {', '.join(info['hooks']) or 'none'}")
        for kind, keys in info["registers"].items():
            if keys:
                print(f"  {kind}: {', '.join(keys)}")
    if host.problems:
        print(f"problems ({len(host.problems)}):")
        for problem in host.problems:
            print(f"  {problem}")
    return 0
