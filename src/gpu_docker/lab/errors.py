"""The one error a lab step raises when the lab cannot be brought up.

In a module of its own so every lab module can raise it (``lifecycle``, which catches it to
tear down, and ``dockerd``, which ``lifecycle`` imports) without importing each other.
"""

from __future__ import annotations


class LabError(RuntimeError):
    """The lab could not be brought up; the message says what and where to look."""
