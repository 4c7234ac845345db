"""Runs one of the original's four readers on a tree and writes what it found.

    python3 original/run.py {async,threads,hybrid,proc} [--jobs N] [--digest sha256|blake3]
                            [--threshold BYTES] [--ext EXT,...] [--format human|json] PATH

``--format json`` writes JSON Lines in the Rust readers' schema (a record a file, then the
summary), which ``cargo xtask bench --original`` reads and checks. ``--progress`` is accepted
and ignored, so that the bench runs these readers with the arguments it gives its own.
Exit status: 0 when every file was read, 1 when one or more failed, 2 when the run could not
start.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

from common import DIGESTS, write_human, write_json

MODELS = ("async", "threads", "hybrid", "proc")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=MODELS)
    p.add_argument("path")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="files in flight (async), threads (threads, hybrid), processes (proc)")
    p.add_argument("--digest", choices=DIGESTS, default=None)
    p.add_argument("--threshold", type=int, default=None,
                   help="hybrid: files smaller than this many bytes take the async path")
    p.add_argument("-e", "--ext", default=None, help="only these extensions (comma-separated)")
    p.add_argument("--format", choices=("human", "json"), default="human")
    p.add_argument("--progress", choices=("auto", "always", "never"), default="never")
    args = p.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        p.error("--jobs must be at least 1")
    if args.threshold is not None and args.model != "hybrid":
        p.error("--threshold is the hybrid's")
    if args.digest == "blake3" and importlib.util.find_spec("blake3") is None:
        p.error("--digest blake3 needs the blake3 package (pip install blake3)")
    if args.model in ("async", "hybrid") and importlib.util.find_spec("aiofiles") is None:
        p.error(f"the {args.model} reader needs the aiofiles package (pip install aiofiles)")
    if not os.path.exists(args.path):
        p.error(f"{args.path}: no such file or folder")
    return args


def reader(args: argparse.Namespace):
    """The reader the arguments ask for, and the concurrency it uses."""
    ext = ["." + e.strip().lstrip(".").lower() for e in args.ext.split(",")] if args.ext else None
    if args.model == "async":
        from async_file_reader import AsyncFileReader
        r = AsyncFileReader(args.jobs, args.digest, ext)
        return r, r.max_concurrent_files
    if args.model == "threads":
        from threaded_file_reader import ThreadedFileReader
        r = ThreadedFileReader(args.jobs, args.digest, ext)
        return r, r.max_workers
    if args.model == "hybrid":
        from hybrid_async_threaded_reader import THRESHOLD, HybridFileReader
        threshold = THRESHOLD if args.threshold is None else args.threshold
        r = HybridFileReader(args.jobs, args.digest, threshold, extensions=ext)
        return r, r.max_workers
    from multiprocess_file_reader import MultiprocessFileReader
    r = MultiprocessFileReader(args.jobs, args.digest, ext)
    return r, r.process_count


def main(argv: list[str]) -> int:
    args = parse(argv)
    chosen, jobs = reader(args)
    started = time.perf_counter()
    results = chosen.run(args.path)
    elapsed_ms = (time.perf_counter() - started) * 1e3
    strategy = f"python-{args.model}"
    if args.format == "json":
        write_json(results, strategy, jobs, args.digest, elapsed_ms)
    else:
        write_human(results, strategy, elapsed_ms)
    sys.stdout.flush()
    return 1 if any(not r.ok for r in results) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:
        sys.exit(0)
