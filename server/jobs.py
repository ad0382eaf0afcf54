"""The worker threads of the server's CPU work: an executor whose threads never hold the process.

A :class:`concurrent.futures.ThreadPoolExecutor` joins its threads when the interpreter exits,
so a photo still being decoded or calibrated when SIGTERM arrives keeps the process alive
until it is done (seconds). :class:`DaemonThreadExecutor` runs the same jobs on daemon threads:
at shutdown the jobs still queued are cancelled, the one running is abandoned (its result is
no longer wanted: every session is closed and every request answered by then), and the process
exits at once.

Fairness across sessions does not need a scheduler here: a session runs one command at a
time and each command submits one job at a time, so every session has at most one job queued
or running per executor, and the executor's FIFO order is round-robin over the sessions (one
session's twelve capture stills are twelve jobs in turn, each letting the others' jobs in).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

__all__ = ["DaemonThreadExecutor", "WorkerThread"]

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class WorkerThread(threading.Thread):
    """A daemon thread of a :class:`DaemonThreadExecutor` (the process's exit looks for them:
    ``server.cli.main.run``)."""


class DaemonThreadExecutor(Executor):
    """``workers`` daemon threads taking jobs in submission order.

    Args:
        workers: number of threads (>= 1), started on first use.
        name: thread name prefix (``name-0``, ``name-1``, ...).
    """

    def __init__(self, workers: int, name: str) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._workers = workers
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            future: Future[T] = Future()
            self._jobs.put((future, fn, args, kwargs))
            if len(self._threads) < self._workers:
                thread = WorkerThread(
                    target=self._run, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            return future

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:  # handed to the waiting side, as ThreadPoolExecutor
                future.set_exception(error)
            else:
                future.set_result(result)
            del job, future, fn, args, kwargs  # release the job's data before waiting again

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking jobs; ``cancel_futures`` cancels those not started. ``wait`` joins the
        threads (each finishes its running job first)."""
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()
