"""Tests of the four readers on a small tree: each finds every file, counts it as the
original does, takes the digests hashlib and blake3 give, routes by size (the hybrid), and
writes JSON Lines in the Rust readers' schema.

    python3 -m unittest discover -s original        # the async and hybrid tests need aiofiles
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import tempfile
import unittest
from pathlib import Path

from common import count, discover, read_file_sync, text_of, write_json

HAS_AIOFILES = importlib.util.find_spec("aiofiles") is not None
HAS_BLAKE3 = importlib.util.find_spec("blake3") is not None

#: name → (content, lines, words) under the original's rule.
FILES = {
    "a.txt": (b"one two\nthree\n", 2, 3),
    "crlf.txt": (b"a b\r\nc\r\n", 2, 3),
    "lone-cr.txt": (b"x\ry\r", 2, 2),
    "blanks.txt": (b"a\tb\x0bc\x0cd\x1ce", 0, 5),
    "empty.txt": (b"", 0, 0),
    "sub/deep/big.txt": (b"word " * 4000 + b"\n", 1, 4000),
    "sub/utf8.txt": ("café\u00a0naïve\n".encode(), 1, 2),
}


class Tree(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.root = Path(self.dir.name)
        for name, (content, _, _) in FILES.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    def tearDown(self):
        self.dir.cleanup()

    def check(self, results, digest=None):
        by_name = {str(r.path.relative_to(self.root)): r for r in results}
        self.assertEqual(sorted(by_name), sorted(FILES))
        for name, (content, lines, words) in FILES.items():
            r = by_name[name]
            self.assertTrue(r.ok, r.error_message)
            self.assertEqual((r.size, r.lines, r.words), (len(content), lines, words), name)
            if digest == "sha256":
                self.assertEqual(r.digest, hashlib.sha256(content).hexdigest())
            elif digest == "blake3":
                import blake3
                self.assertEqual(r.digest, blake3.blake3(content).hexdigest())
            else:
                self.assertIsNone(r.digest)

    def readers(self, digest):
        from multiprocess_file_reader import MultiprocessFileReader
        from threaded_file_reader import ThreadedFileReader
        out = [ThreadedFileReader(3, digest), MultiprocessFileReader(2, digest)]
        if HAS_AIOFILES:
            from async_file_reader import AsyncFileReader
            from hybrid_async_threaded_reader import HybridFileReader
            out += [AsyncFileReader(4, digest), HybridFileReader(2, digest)]
        return out

    def test_every_reader_counts_every_file_as_the_original(self):
        for reader in self.readers(None):
            with self.subTest(reader=type(reader).__name__):
                self.check(reader.run(str(self.root)))

    def test_digests_are_hashlibs_and_blake3s_and_the_counts_do_not_change(self):
        for digest in ["sha256"] + (["blake3"] if HAS_BLAKE3 else []):
            for reader in self.readers(digest):
                with self.subTest(reader=type(reader).__name__, digest=digest):
                    self.check(reader.run(str(self.root)), digest)

    @unittest.skipUnless(HAS_AIOFILES, "needs aiofiles")
    def test_the_hybrid_sends_files_of_10_kb_and_more_to_its_threads(self):
        from hybrid_async_threaded_reader import HybridFileReader
        results = HybridFileReader(2).run(str(self.root))
        workers = {str(r.path.relative_to(self.root)): r.worker for r in results}
        self.assertTrue(workers["sub/deep/big.txt"].startswith("thread-"))
        self.assertEqual(workers["a.txt"], "event-loop")

    def test_a_file_that_is_not_utf8_or_not_there_fails_with_its_path(self):
        bad = self.root / "bad.bin"
        bad.write_bytes(b"ok \x80\n")
        r = read_file_sync(bad, None, "main")
        self.assertEqual(r.error_kind, "not_text")
        self.assertIn(str(bad), r.error_message)
        gone = read_file_sync(self.root / "gone", "sha256", "main")
        self.assertEqual(gone.error_kind, "not_found")

    def test_json_lines_hold_a_record_a_file_then_the_summary(self):
        from threaded_file_reader import ThreadedFileReader
        (self.root / "bad.bin").write_bytes(b"\xff")
        results = ThreadedFileReader(2, "sha256").run(str(self.root))
        out = io.StringIO()
        write_json(results, "python-threads", 2, "sha256", 1.5, out)
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        summary = lines[-1]
        self.assertEqual(summary["type"], "summary")
        self.assertEqual((summary["files"], summary["ok"], summary["failed"]),
                         (len(FILES) + 1, len(FILES), 1))
        self.assertEqual(summary["lines"], sum(f[1] for f in FILES.values()))
        self.assertEqual(summary["words"], sum(f[2] for f in FILES.values()))
        records = {r["path"]: r for r in lines[:-1]}
        good = records[str(self.root / "a.txt")]
        self.assertEqual(good["sha256"], hashlib.sha256(FILES["a.txt"][0]).hexdigest())
        self.assertIsNone(good["error"])
        failed = records[str(self.root / "bad.bin")]
        self.assertEqual(failed["error"]["kind"], "not_text")
        self.assertNotIn("sha256", failed)


class Counting(unittest.TestCase):
    def test_text_mode_newlines_and_unicode_whitespace(self):
        self.assertEqual(count(text_of(b"a\r\nb\rc\r")), (3, 3))
        self.assertEqual(count("x\u0085y\u3000z"), (0, 3))

    def test_discovery_takes_regular_files_and_a_file_given_alone(self):
        with tempfile.TemporaryDirectory() as d:
            Path(d, "x").mkdir()
            Path(d, "x", "f.TXT").write_text("a")
            Path(d, "g.md").write_text("b")
            os.mkfifo(Path(d, "pipe"))
            self.assertEqual(sorted(p.name for p in discover(d)), ["f.TXT", "g.md"])
            self.assertEqual([p.name for p in discover(d, [".txt"])], ["f.TXT"])
            self.assertEqual(discover(str(Path(d, "g.md"))), [Path(d, "g.md")])


if __name__ == "__main__":
    unittest.main()
