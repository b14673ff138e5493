"""Command line, as ``aad`` or ``python -m aadlib``.

- ``aad fetch [NAME ...]``: put registered data sets into the cache.
- ``aad student NOTEBOOK_DIR OUT_DIR``: write student copies of the chapters.

Errors print as one sentence, without a traceback, and exit with status 1.
"""

import argparse
import sys

from .data import REGISTRY, fetch
from .student import write_student_copies
from .utils import AadError


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="aad",
        description="Tools of the aad-book course (also: python -m aadlib).",
        epilog="examples: aad fetch anomaly_mini; aad student notebooks/ student/",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="download, verify and unpack data sets into the cache")
    fetch_parser.add_argument("names", nargs="*", default=["anomaly_mini"], help=f"registered data sets: {', '.join(REGISTRY)}")
    student_parser = commands.add_parser(
        "student", help="write student copies: solutions replaced by stubs, solution text removed, outputs cleared"
    )
    student_parser.add_argument("notebook_dir", help="folder of the chapters, e.g. notebooks/")
    student_parser.add_argument("out_dir", help="folder for the copies (created)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            for name in args.names:
                print(f"{name}: {fetch(name)}")
        else:
            for path in write_student_copies(args.notebook_dir, args.out_dir):
                print(f"wrote {path}")
    except (AadError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
