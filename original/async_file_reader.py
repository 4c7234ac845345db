"""The original's async reader: one event loop, ``aiofiles`` for every open and read, and an
``asyncio.Semaphore`` bounding the files in flight; counting (and any digest) runs on the
event loop's one thread, as in the original ("limited by single-thread CPU processing").

``aiofiles`` runs each blocking call on the loop's default thread pool, which is what the
original's "non-blocking I/O" is under the hood.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from pathlib import Path
from typing import Optional

import aiofiles

from common import FileResult, count, digested, discover, failure


def default_semaphore_size() -> int:
    """The original's configuration guideline: 2–4× the cores for I/O, between 50 and 100."""
    return min(100, max(50, (os.cpu_count() or 1) * 4))


async def read_file_async(semaphore: asyncio.Semaphore, path: Path,
                          digest: Optional[str]) -> FileResult:
    """Reads one file through ``aiofiles`` once the semaphore lets it: text mode and ``read()``
    whole; with a digest, binary mode, the digest of the bytes, then their text."""
    async with semaphore:  # Acquire one of N available slots
        started = time.perf_counter()
        try:
            if digest is None:
                async with aiofiles.open(path, "r") as file:
                    size = os.fstat(file.fileno()).st_size
                    content = await file.read()  # Non-blocking I/O
                hexdigest = None
            else:
                async with aiofiles.open(path, "rb") as file:
                    size, hexdigest, content = digested(await file.read(), digest)
            lines, words = count(content)
        except (OSError, UnicodeDecodeError) as err:
            return failure(path, err, "event-loop", started)
        return FileResult(
            path=path,
            size=size,
            lines=lines,
            words=words,
            elapsed=time.perf_counter() - started,
            worker="event-loop",
            digest=hexdigest,
        )


class AsyncFileReader:
    """Reads every file of a tree concurrently on one event loop."""

    def __init__(self, max_concurrent_files: Optional[int] = None,
                 digest: Optional[str] = None, extensions=None):
        self.max_concurrent_files = max_concurrent_files or default_semaphore_size()
        self.digest = digest
        self.extensions = extensions
        self.results: deque[FileResult] = deque()

    async def read_files_from_directory(self, directory: str) -> list[FileResult]:
        """Discovers the tree's files and reads them all under one ``asyncio.gather``."""
        semaphore = asyncio.Semaphore(self.max_concurrent_files)
        files = discover(directory, self.extensions)

        async def one(path: Path) -> None:
            self.results.append(await read_file_async(semaphore, path, self.digest))

        await asyncio.gather(*(one(f) for f in files))
        return list(self.results)

    def run(self, directory: str) -> list[FileResult]:
        """Runs the reader to the end on a fresh event loop."""
        return asyncio.run(self.read_files_from_directory(directory))
