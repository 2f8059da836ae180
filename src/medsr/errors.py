"""Error types. A :class:`MedsrError` reaches the user as one line and exit code 2."""

from __future__ import annotations

import os


class MedsrError(Exception):
    """An error the user can fix; the CLI prints its one-line message and exits with 2."""


class InputError(MedsrError, ValueError):
    """A bad input file or folder. The message names the file and the problem.

    Args:
        path: The offending file or folder.
        problem: What is wrong with it, in a few words, ideally with the fix.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(MedsrError, ValueError):
    """A bad configuration or argument combination."""


class MissingDependencyError(MedsrError, ImportError):
    """An optional package is needed; the message names the install command."""
