"""``medsr`` entry point.

Each subcommand lives in ``medsr.cli.<name>`` and defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Subcommand modules import only the
standard library at module level, so ``medsr --help`` stays fast; heavy imports happen in ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn

from medsr._version import __version__

#: Said under the help of every command that reads volumes (issue 13, item 17).
AXES_EPILOG = (
    "Axis order: shapes, spacings and per-axis options (--factor, --scale, --window, --axis, "
    "--kspace-factor) use medsr's canonical (D, H, W) order, after the volume is reoriented to "
    "RAS at read time: D runs inferior->superior (axial slices), H posterior->anterior, "
    "W left->right. This is not necessarily the file's array order; NIfTI outputs are written back "
    "in the input file's orientation, with a matching affine."
)
_VOLUME_COMMANDS = frozenset({"degrade", "baseline", "evaluate", "enhance", "augment"})

#: Subcommands in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "degrade",
    "baseline",
    "evaluate",
    "data",
    "enhance",
    "augment",
    "models",
    "export",
    "train",
    "report",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr with exit 2, like every
    other medsr error (``--help`` still shows the usage); subcommand parsers are of this class
    too (``add_subparsers`` makes its parsers of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        """Print ``medsr: error: MESSAGE (see `PROG --help`)`` and exit with 2."""
        self.exit(2, f"medsr: error: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = _Parser(
        prog="medsr",
        description="GAN-based medical image enhancement: MRI super-resolution and low-dose CT denoising.",
    )
    parser.add_argument("--version", action="version", version=f"medsr {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"medsr.cli.{name}")
        epilog = AXES_EPILOG if name in _VOLUME_COMMANDS else None
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, epilog=epilog)
        p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 user error, 1 unexpected failure).

    Library warnings raised while a command runs are shown after it succeeds (or before an
    internal error); a user error is one line on stderr with nothing before it. A closed output
    pipe (``medsr models --json | head -1``) ends quietly with 141, like ``cat``.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named against the subcommand's --help, not medsr's
        _command_parser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 2
    caught: list[warnings.WarningMessage] = []
    try:
        # library warnings are held back: shown after a success, dropped before a one-line error
        with warnings.catch_warnings(record=not args.debug) as log:
            caught = log if log is not None else caught
            code = int(args._run(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except KeyboardInterrupt:
        _replay(caught)
        print("medsr: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI turns every error into one line
        if isinstance(exc, BrokenPipeError) and _stdout_broken():
            return _quiet_broken_pipe()  # `medsr ... | head`: end quietly, as `cat` would
        if args.debug:
            raise
        from medsr.errors import MedsrError

        if isinstance(exc, MedsrError | FileNotFoundError | IsADirectoryError | PermissionError):
            print(f"medsr: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        _replay(caught)
        print(
            f"medsr: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    _replay(caught)
    return code


def _command_parser(
    parser: argparse.ArgumentParser, command: str | None
) -> argparse.ArgumentParser:
    """The parser of subcommand ``command`` (``parser`` itself without one)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]  # type: ignore[no-any-return]
    return parser


#: Exit status of a process ended by SIGPIPE (128 + 13), what ``cat file | head`` reports.
EXIT_BROKEN_PIPE = 141


def _replay(caught: list[warnings.WarningMessage]) -> None:
    """Show held-back warnings once each, through the filters in force outside :func:`main`."""
    seen = set()
    for w in caught:
        key = (str(w.message), w.category, w.filename, w.lineno)
        if key in seen:
            continue
        seen.add(key)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def _stdout_broken() -> bool:
    """True when standard output is a pipe whose reader has gone (poll reports an error)."""
    import select

    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return False
    if not hasattr(select, "poll"):  # pragma: no cover - not POSIX
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(event & select.POLLERR for _, event in poller.poll(0))


def _quiet_broken_pipe() -> int:
    """Point standard output at /dev/null so the exit-time flush stays silent."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
