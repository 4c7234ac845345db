"""The original's hybrid reader: files smaller than 10 KB (10,000 bytes) go to the async path
(``aiofiles`` under a semaphore), the others to a thread pool; both run at once under one
``asyncio.gather``, and feed one list of results.

The original stats each file twice (one list comprehension a path); this one stats it once
and routes a file it cannot stat to the async path, which then reports why it cannot be read.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from async_file_reader import default_semaphore_size, read_file_async
from common import FileResult, discover, read_file_sync
from threaded_file_reader import default_thread_count, thread_name

#: The original's threshold: smaller files take the async path.
THRESHOLD = 10_000


def size_or_zero(path: Path) -> int:
    """The file's size, or 0 when it cannot be looked at."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


class HybridFileReader:
    """Routes each file by size to the async path or the thread pool, both at once."""

    def __init__(self, max_workers: Optional[int] = None, digest: Optional[str] = None,
                 threshold: int = THRESHOLD, max_concurrent_files: Optional[int] = None,
                 extensions=None):
        self.max_workers = max_workers or default_thread_count()
        self.max_concurrent_files = max_concurrent_files or default_semaphore_size()
        self.digest = digest
        self.threshold = threshold
        self.extensions = extensions

    def read_in_thread(self, path: Path) -> FileResult:
        """A large file, on a worker thread of the pool."""
        return read_file_sync(path, self.digest, thread_name())

    async def read_files_hybrid(self, directory: str) -> list[FileResult]:
        """Discovers, routes by size, and gathers both paths' results."""
        files = discover(directory, self.extensions)
        sizes = {f: size_or_zero(f) for f in files}
        async_files = [f for f in files if sizes[f] < self.threshold]
        thread_files = [f for f in files if sizes[f] >= self.threshold]
        semaphore = asyncio.Semaphore(self.max_concurrent_files)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=self.max_workers) as executor:
            async_tasks = [read_file_async(semaphore, f, self.digest) for f in async_files]
            thread_tasks = [
                loop.run_in_executor(executor, self.read_in_thread, f) for f in thread_files
            ]
            # Both approaches run concurrently
            all_tasks = async_tasks + thread_tasks
            return list(await asyncio.gather(*all_tasks))

    def run(self, directory: str) -> list[FileResult]:
        """Runs the reader to the end on a fresh event loop."""
        return asyncio.run(self.read_files_hybrid(directory))
