"""How apply shows it is working, on stderr (stdout stays clean for ``--format json``).

- On a terminal: a live bar (done/total, rate, ETA, failures) drawn by ``tqdm`` — chosen over
  ``rich`` because it is small (no dependencies, ~50 ms to import against rich's ~150+ ms), writes to
  any stream, and does exactly this one thing; failed and skipped writes are printed above the bar.
- Elsewhere (CI logs, pipes, files): one line per finished write, ``[n/N] + create Tool/x … ok``,
  flushed as it happens (a killed job's log still holds every write it saw), and a final summary.

Lines go to ``emit`` (the action's log writer neutralises workflow commands and masks secrets).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ci_deployer.engine.apply import OpResult


def summary_line(results: list[OpResult], seconds: float) -> str:
    """``Applied 12/14 writes in 3.2 s: 12 ok, 1 failed, 1 not attempted``."""
    counts = {status: sum(1 for r in results if r.status == status) for status in ("ok", "failed", "skipped")}
    return (
        f"Applied {counts['ok']}/{len(results)} writes in {seconds:.1f} s: {counts['ok']} ok, "
        f"{counts['failed']} failed, {counts['skipped']} not attempted"
    )


def stderr_line(text: str) -> None:
    """Write one line to stderr and flush it at once."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class LineProgress:
    """``[n/N]`` lines, in order, each written as it happens.

    apply's workers report from their own threads.  A line is numbered and queued under a lock, and
    written outside it by whichever worker finds no other writing (it writes what queued meanwhile
    too): a lock held across the write made the 32 workers queue behind each write's system call,
    whose caller, back from it, waited for the GIL before it could let the next one in.
    """

    def __init__(self, emit: Callable[[str], None] = stderr_line) -> None:
        self._write = emit
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._queued: list[str] = []
        self._writing = False

    def start(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.monotonic()
        self._write(f"Applying {total} write{'s' if total != 1 else ''}")

    def step(self, result: OpResult, line: str) -> None:
        with self._lock:
            self.done += 1
            self._queued.append(f"[{self.done:>{len(str(self.total))}}/{self.total}] {line}")
            if self._writing:
                return  # the worker writing now writes this one too
            self._writing = True
        try:
            while True:
                with self._lock:
                    lines, self._queued = self._queued, []
                    if not lines:
                        self._writing = False
                        return
                for text in lines:
                    self._write(text)
        except BaseException:
            with self._lock:  # a failed write (a closed pipe): the next worker writes again
                self._writing = False
            raise

    def finish(self, results: list[OpResult]) -> None:
        self._write(summary_line(results, time.monotonic() - self.started))


class BarProgress:
    """A live ``tqdm`` bar on a terminal; failures and skips are printed above it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        self.failed = 0
        self.started = time.monotonic()

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.started = time.monotonic()
        self.bar = tqdm(total=total, file=self.stream, unit="write", desc="Applying", dynamic_ncols=True)
        self.bar.set_postfix(failed=0)

    def step(self, result: OpResult, line: str) -> None:
        if self.bar is None:
            return
        if result.status != "ok":
            self.failed += result.status == "failed"
            self.bar.write(line, file=self.stream)
            self.bar.set_postfix(failed=self.failed)
        self.bar.update(1)

    def finish(self, results: list[OpResult]) -> None:
        if self.bar is not None:
            self.bar.close()
        self.stream.write(summary_line(results, time.monotonic() - self.started) + "\n")
        self.stream.flush()


def for_terminal(*, ci: bool = False) -> LineProgress | BarProgress:
    """A bar when stderr is an interactive terminal (and not CI), lines anywhere else."""
    if not ci and sys.stderr.isatty():
        return BarProgress(sys.stderr)
    return LineProgress()
