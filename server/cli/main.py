"""The ``facecast`` command line: one entry point, one module per subcommand.

Each subcommand lives in its own module under ``server.cli`` and exposes
``register(subparsers) -> None``; the module adds its parser and sets ``func`` to a
handler ``(argparse.Namespace) -> int`` (the exit code). Heavy imports (torch,
mediapipe, aiortc) happen inside the handlers so that ``facecast --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

# Subcommand modules, in the order ``facecast --help`` lists them. A module that does not
# exist yet is skipped, so that parts can land one by one.
COMMAND_MODULES: tuple[str, ...] = (
    "server.cli.cmd_model",
    "server.cli.cmd_calibrate",
    "server.cli.cmd_render",
    "server.cli.cmd_animate",
    "server.cli.cmd_fit_sequence",
    "server.cli.cmd_train",
    "server.cli.cmd_eval",
    "server.cli.cmd_serve",
    "server.cli.cmd_send",
    "server.cli.cmd_bench",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="facecast",
        description="Facecast: photo -> 3D face avatar -> instruction-driven live expressions.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 failure, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


# How long the process waits at exit for daemon worker threads to finish the job they were
# given (a photo being calibrated when SIGTERM came) before it leaves without them.
_DAEMON_GRACE_S = 0.2


def _leave(code: int) -> NoReturn:
    """Exit with ``code``. A server worker thread (``server.jobs.WorkerThread``, daemon) still
    inside native code (mediapipe's calibration of a photo abandoned at SIGTERM) can abort the
    interpreter's finalization (exit status -6 instead of 0), so when one outlives a short
    grace the process flushes its output and leaves without finalizing."""
    from server.jobs import WorkerThread

    busy = [t for t in threading.enumerate() if isinstance(t, WorkerThread) and t.is_alive()]
    for thread in busy:
        thread.join(_DAEMON_GRACE_S / max(len(busy), 1))
    if any(t.is_alive() for t in busy):
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


def run() -> NoReturn:
    """The ``facecast`` console script and ``python -m server.cli.main``: :func:`main`, then
    exit with its code."""
    _leave(main())


if __name__ == "__main__":
    run()
