"""The one exception the bundle tool raises for anything an operator must fix."""

from __future__ import annotations


class BundleError(Exception):
    """A bundle, tarball or manifest problem, worded for the operator.

    ``problems`` lists every individual finding (one bad file each) when there are
    several, so the CLI can print them all and the deploy can report them.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)
