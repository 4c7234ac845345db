"""The original's multiprocessing reader: a ``multiprocessing.Pool`` of one process a core;
the paths are pickled out to the workers in chunks, each worker reads and counts its files,
and the results are pickled back (the IPC the original names as its cost)."""

from __future__ import annotations

import multiprocessing
import os
from functools import partial
from pathlib import Path
from typing import Optional

from common import FileResult, discover, read_file_sync


def default_process_count() -> int:
    """The original's configuration guideline: one process a core."""
    return os.cpu_count() or 1


class MultiprocessFileReader:
    """Reads every file of a tree on a pool of worker processes."""

    def __init__(self, process_count: Optional[int] = None, digest: Optional[str] = None,
                 extensions=None):
        self.process_count = process_count or default_process_count()
        self.digest = digest
        self.extensions = extensions

    @staticmethod
    def read_file_worker(file_path: Path, digest: Optional[str] = None) -> FileResult:
        """Runs in a worker process: one file, read and counted there."""
        return read_file_sync(file_path, digest, f"pid-{os.getpid()}")

    def run(self, directory: str) -> list[FileResult]:
        """Maps the tree's files over the pool and collects every result."""
        files = discover(directory, self.extensions)
        worker = partial(MultiprocessFileReader.read_file_worker, digest=self.digest)
        with multiprocessing.Pool(processes=self.process_count) as pool:
            return pool.map(worker, files)
