"""``medsr`` entry point.

Each subcommand lives in ``medsr.cli.<name>`` and defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Subcommand modules import only the
standard library at module level, so ``medsr --help`` stays fast; heavy imports happen in ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from medsr._version import __version__

#: Subcommands in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "degrade",
    "baseline",
    "evaluate",
    "data",
    "enhance",
    "models",
    "export",
    "train",
    "report",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="medsr",
        description="GAN-based medical image enhancement: MRI super-resolution and low-dose CT denoising.",
    )
    parser.add_argument("--version", action="version", version=f"medsr {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"medsr.cli.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 user error, 1 unexpected failure)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("medsr: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI turns every error into one line
        if args.debug:
            raise
        from medsr.errors import MedsrError

        if isinstance(exc, MedsrError | FileNotFoundError | IsADirectoryError | PermissionError):
            print(f"medsr: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        print(
            f"medsr: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
