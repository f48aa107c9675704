"""What the other operation modules build on: failing a host with one clear line, and
running our own Python steps on the host with the operation's connector arguments."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from pyinfra import host, logger
from pyinfra.api import FunctionCommand, QuoteString, StringCommand, operation
from pyinfra.api.arguments import ConnectorArguments
from pyinfra.api.host import Host
from pyinfra.api.state import State
from pyinfra.operations.util.files import generate_color_diff

from gpu_docker import fleet_report
from gpu_docker.files import MergeResult


def _fail_command(message: str) -> StringCommand:
    """A command that fails the host with one line on stderr: pyinfra prints it per host.

    ``printf %s``, not ``echo``: dash's echo turns a ``\\n`` in the message (a setting's
    repr) into a line break, splitting the one line.
    """
    return StringCommand(
        "printf", "'%s\\n'", QuoteString(f"gpu-docker: {message}"), ">&2;", "exit", "1"
    )


@operation()
def fail(message: str) -> Generator[StringCommand, None, None]:
    """
    Fail this host with one clear line, changing nothing (the other hosts go on).

    + message: what is wrong and what to do about it

    Other operations fail their host the same way with ``yield from fail._inner(...)``.
    """
    if not host.state.is_executing:  # a preview: no command runs to print the reason
        host.log_styled(f"gpu-docker: {message}", fg="red", log_func=logger.error)
    yield _fail_command(message)


class WithConnectorArguments(FunctionCommand):
    """A ``FunctionCommand`` that hands the operation's connector arguments (``_sudo``...) on.

    pyinfra's own drops them, so an upload made from one runs as the SSH login user and
    fails on /etc/docker when the deploy logs in as a sudo user; the function gets them as
    ``arguments``, as pyinfra's ``FileUploadCommand`` passes them to ``put_file``. Every
    Python step of ours that runs commands or uploads on the host goes through it.
    """

    def execute(self, state: State, host: Host, connector_arguments: ConnectorArguments) -> Any:
        return self.function(state, host, *self.args, arguments=connector_arguments, **self.kwargs)


def preview_diff(headline: str, old: str | None, new: str | None) -> None:
    """With ``--diff``: say what will happen to a file and show the unified diff of its text
    (``None``: no file), as pyinfra's ``files.put`` does. Every operation that writes a file
    previews it through here."""
    if not host.state.config.DIFF:
        return
    host.log(headline)
    before = (old or "").splitlines(keepends=True)
    for line in generate_color_diff(before, (new or "").splitlines(keepends=True)):
        logger.info("  %s", line)


def write_headline(target: str, existed: bool) -> str:
    """The preview's line for a file about to be written."""
    return f"Will {'modify' if existed else 'create'} {target}"


def merged_text(
    target: str,
    current: str | None,
    merge: Callable[[str | None], MergeResult],
    refused: type[Exception],
    up_to_date: str,
) -> Generator[StringCommand, None, str | None]:
    """The text a merge into the config file ``target`` (now ``current``) will write,
    previewed; ``None`` when there is nothing to write: the file already holds the merge
    (said as ``<target> <up_to_date>``), or the merge refused it (``refused`` raised) and
    the host is failed with one line, the file left untouched.

    Every config merge (daemon.json, its rootless users', containerd's and the toolkit's
    config.toml) decides through here; each writes the text its own way.
    """
    try:
        result = merge(current)
    except refused as exc:
        yield from fail._inner(f"{target}: {exc}; left untouched, fix it and run again")
        return None
    if not result.changed:
        host.noop(f"{target} {up_to_date}")
        return None
    preview_diff(write_headline(target, current is not None), current, result.text)
    return result.text


def conclude_verification(
    lines: list[str], problem: str | None, entry: Any, report_path: str | None
) -> Generator[StringCommand, None, None]:
    """The end of every engine's verification: add ``entry`` (the host's fleet report
    record; ``None`` outside the verify deploy) to the run's report after an applied run,
    log the lines (as a preview's before one), and fail the host with the problem."""
    executing = host.state.is_executing
    if entry is not None and executing:
        fleet_report.collector(host.state).add(entry, report_path)
    for line in lines:
        host.log(line if executing else f"preview: {line}")
    if problem:
        yield from fail._inner(problem)
    else:
        host.noop("verified" if executing else "the checks above pass so far")
