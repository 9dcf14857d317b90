"""Commit prediction chunks to the results store on a background thread, so writing overlaps predicting.

Each chunk is one transaction, committed in submission order. At most ``depth`` chunks wait in the queue,
so a killed run loses the chunk being written, the ones queued behind it and the one being predicted, never
a committed one. A write error is raised in the submitting thread at the next ``submit`` or at ``close``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from vlmrobust.core.store import ResultsStore

_STOP = object()


class ChunkWriter:
    """A background writer of prediction chunks (see the module docstring).

    Args:
        store: the results store written.
        depth: chunks that may wait while one is being written (the submitter blocks beyond that).
    """

    def __init__(self, store: ResultsStore, depth: int = 1) -> None:
        self.store = store
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="vlmrobust-store-writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (rows := self._queue.get()) is not _STOP:
            if self._error is None:
                try:
                    self.store.put(predictions=rows)
                except BaseException as err:  # re-raised in the submitting thread
                    self._error = err

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue one chunk of prediction records (blocks while ``depth`` chunks already wait)."""
        self._raise()
        self._queue.put(rows)

    def close(self) -> None:
        """Wait until every submitted chunk is committed; raise the first write error, if any."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise()

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:  # commit what was already predicted, but let the original error propagate
            self._queue.put(_STOP)
            self._thread.join()
