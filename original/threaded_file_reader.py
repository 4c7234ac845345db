"""The original's threaded reader: a ``ThreadPoolExecutor`` whose worker threads read files
with blocking calls; a lock guards the shared progress counter, and the main thread collects
the results as the futures complete."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Optional

from common import FileResult, discover, read_file_sync


def default_thread_count() -> int:
    """The original's configuration guideline for I/O-bound work: the cores plus one."""
    return (os.cpu_count() or 1) + 1


def thread_name() -> str:
    """``thread-N``: the pool's own number for the current worker thread."""
    return "thread-" + threading.current_thread().name.rsplit("_", 1)[-1]


class ThreadedFileReader:
    """Reads every file of a tree on a pool of threads."""

    def __init__(self, max_workers: Optional[int] = None, digest: Optional[str] = None,
                 extensions=None):
        self.max_workers = max_workers or default_thread_count()
        self.digest = digest
        self.extensions = extensions
        self.lock = threading.Lock()
        self.processed_files = 0

    def read_file(self, path: Path) -> FileResult:
        """One file, on a worker thread; the shared counter under the lock."""
        result = read_file_sync(path, self.digest, thread_name())
        with self.lock:
            self.processed_files += 1
        return result

    def run(self, directory: str) -> list[FileResult]:
        """Submits every file of the tree and collects the results as they complete."""
        files = discover(directory, self.extensions)
        results: list[FileResult] = []
        with ThreadPoolExecutor(max_workers=self.max_workers) as executor:
            future_to_file = {executor.submit(self.read_file, f): f for f in files}
            for future in as_completed(future_to_file):
                results.append(future.result())
        return results
