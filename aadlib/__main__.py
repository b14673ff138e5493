"""Command line: ``python -m aadlib fetch [NAME ...]`` puts registered data sets into the cache.

Errors print as one sentence, without a traceback, and exit with status 1.
"""

import argparse
import sys

from .data import REGISTRY, fetch
from .utils import AadError


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m aadlib",
        description="Tools of the aad-book course.",
        epilog="example: python -m aadlib fetch anomaly_mini",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="download, verify and unpack data sets into the cache")
    fetch_parser.add_argument("names", nargs="*", default=["anomaly_mini"], help=f"registered data sets: {', '.join(REGISTRY)}")
    args = parser.parse_args(argv)
    try:
        for name in args.names:
            print(f"{name}: {fetch(name)}")
    except AadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
