"""What the original's four readers share: the result of one file, the discovery of a tree,
reading a file and counting it as the original counts, the optional digest, and the output.

The original's documentation shows each reader opening a file in text mode and reading it
whole (``content = await file.read()``), then counting words with ``len(content.split())``.
It does not show how lines are counted; here they are ``content.count("\\n")`` on that text,
which is ``wc -l``'s rule applied to what Python reads (text mode turns ``\\r\\n`` and a lone
``\\r`` into ``\\n``). See README.md, "How it counts", for how this differs from the Rust
readers' contract.
"""

from __future__ import annotations

import base64
import hashlib
import json
import locale
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

try:
    import blake3 as _blake3
except ImportError:  # only --digest blake3 needs it; run.py says so
    _blake3 = None

#: The digests the readers can compute beside the counts (``--digest``).
DIGESTS = ("sha256", "blake3")


@dataclass
class FileResult:
    """One file: what was counted, who read it, how long it took, or why it failed."""

    path: Path
    size: Optional[int] = None
    lines: Optional[int] = None
    words: Optional[int] = None
    elapsed: float = 0.0
    worker: str = ""
    digest: Optional[str] = None
    error_kind: Optional[str] = None
    error_message: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None


def discover(directory: str, extensions: Optional[Iterable[str]] = None) -> list[Path]:
    """Every regular file under ``directory``, recursively (``Path.rglob``), optionally only
    those with one of ``extensions`` (lower case, with the dot); a file given as the
    directory is the only file."""
    root = Path(directory)
    if root.is_file():
        return [root]
    wanted = {e.lower() for e in extensions} if extensions else None
    return [
        f
        for f in root.rglob("*")
        if f.is_file() and (wanted is None or f.suffix.lower() in wanted)
    ]


def count(content: str) -> tuple[int, int]:
    """Lines and words of a file's text, as the original counts them."""
    return content.count("\n"), len(content.split())


def new_hasher(digest: str):
    """A fresh hasher for ``digest`` (``sha256`` from hashlib, ``blake3`` from PyPI)."""
    if digest == "sha256":
        return hashlib.sha256()
    if digest == "blake3":
        if _blake3 is None:
            raise RuntimeError("--digest blake3 needs the blake3 package (pip install blake3)")
        return _blake3.blake3()
    raise ValueError(f"unknown digest {digest!r} (known: {', '.join(DIGESTS)})")


def text_of(data: bytes) -> str:
    """The text that reading ``data`` in text mode gives: decoded with the locale's encoding,
    ``\\r\\n`` and a lone ``\\r`` turned into ``\\n`` (universal newlines)."""
    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def digested(data: bytes, digest: str) -> tuple[int, str, str]:
    """The size, `digest` and text of a file read as bytes, for a run with a digest."""
    hasher = new_hasher(digest)
    hasher.update(data)
    return len(data), hasher.hexdigest(), text_of(data)


def failure(path: Path, err: BaseException, worker: str, started: float) -> FileResult:
    """The result of a file that could not be read (or decoded)."""
    if isinstance(err, FileNotFoundError):
        kind = "not_found"
    elif isinstance(err, PermissionError):
        kind = "permission_denied"
    elif isinstance(err, IsADirectoryError):
        kind = "is_directory"
    elif isinstance(err, UnicodeDecodeError):
        kind = "not_text"
    else:
        kind = "io"
    return FileResult(
        path=path,
        elapsed=time.perf_counter() - started,
        worker=worker,
        error_kind=kind,
        error_message=f"{path}: {err}",
    )


def read_file_sync(path: Path, digest: Optional[str], worker: str) -> FileResult:
    """Reads one file with blocking calls, as the thread and process readers do: text mode
    and ``read()`` whole; with a digest, binary mode, the digest of the bytes, then their text."""
    started = time.perf_counter()
    try:
        if digest is None:
            with open(path, "r") as file:
                size = os.fstat(file.fileno()).st_size
                content = file.read()
            hexdigest = None
        else:
            with open(path, "rb") as file:
                size, hexdigest, content = digested(file.read(), digest)
        lines, words = count(content)
    except (OSError, UnicodeDecodeError) as err:
        return failure(path, err, worker, started)
    return FileResult(
        path=path,
        size=size,
        lines=lines,
        words=words,
        elapsed=time.perf_counter() - started,
        worker=worker,
        digest=hexdigest,
    )


def json_path(path: Path):
    """A path for JSON: a string when it is UTF-8, else ``{"bytes": <base64>}`` (as the
    Rust readers write names that are not)."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"bytes": base64.b64encode(raw).decode("ascii")}


def write_json(results: list[FileResult], strategy: str, jobs: int, digest: Optional[str],
               elapsed_ms: float, out=sys.stdout) -> None:
    """JSON Lines in the Rust readers' schema (docs/CONTRACT.md): a record a file, then the
    summary, so that ``cargo xtask bench`` reads them as it reads its own readers'."""
    totals = {"bytes": 0, "lines": 0, "words": 0}
    failed = 0
    for r in results:
        record = {
            "type": "file",
            "path": json_path(r.path),
            "size": r.size,
            "lines": r.lines,
            "words": r.words,
            "elapsed_us": int(r.elapsed * 1e6),
            "worker": r.worker,
            "error": None if r.ok else {"kind": r.error_kind, "message": r.error_message},
        }
        if digest is not None and r.ok:
            record[digest] = r.digest
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        if r.ok:
            totals["bytes"] += r.size
            totals["lines"] += r.lines
            totals["words"] += r.words
        else:
            failed += 1
    summary = {
        "type": "summary",
        "strategy": strategy,
        "jobs": jobs,
        "files": len(results),
        "ok": len(results) - failed,
        "failed": failed,
        "skipped": 0,
        **totals,
        "elapsed_ms": round(elapsed_ms, 3),
    }
    out.write(json.dumps(summary, separators=(",", ":")) + "\n")


def write_human(results: list[FileResult], strategy: str, elapsed_ms: float,
                out=sys.stdout) -> None:
    """The original's summary: files processed, how many were read, the totals and the time;
    each failure on stderr."""
    ok = [r for r in results if r.ok]
    for r in results:
        if not r.ok:
            print(f"{strategy}: {r.error_message}", file=sys.stderr)
    out.write(f"Processed {len(results)} files\n")
    out.write(f"Success rate: {len(ok)}/{len(results)}\n")
    out.write(
        f"Totals: {sum(r.size for r in ok)} bytes, {sum(r.lines for r in ok)} lines, "
        f"{sum(r.words for r in ok)} words in {elapsed_ms / 1000:.3f}s\n"
    )
