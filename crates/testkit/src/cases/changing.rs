//! Trees that change while they are read: by one reader, and by eight readers of every model
//! at once.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use super::checks::{assert_no_panic, assert_read};
use crate::run::{Reader, Run};
use crate::tree::Tree;
use crate::{HANG, path_key};

/// A tree that changes while it is read: stable files whose counts are known, files deleted
/// and created again and again, one that grows and one that is cut shorter.
struct ChangingTree {
    tree: Tree,
    stable: Vec<(PathBuf, String)>,
    grow: PathBuf,
    shrink: PathBuf,
}

impl ChangingTree {
    /// Churn files: deleted and created again in turn while the tree changes.
    const CHURN: usize = 200;

    fn new(stable_files: usize) -> ChangingTree {
        let tree = Tree::new();
        let mut stable = Vec::new();
        for i in 0..stable_files {
            let data = format!("stable file {i}\n").repeat(i % 50 + 1);
            stable.push((
                tree.file(format!("stable/{}/f{i}.txt", i % 20), &data),
                data,
            ));
        }
        for i in 0..Self::CHURN {
            tree.file(format!("churn/c{i}.txt"), "short lived\n");
        }
        let grow = tree.file("grow.txt", "start\n");
        let shrink = tree.file("shrink.txt", "x ".repeat(4 << 20));
        ChangingTree {
            tree,
            stable,
            grow,
            shrink,
        }
    }

    /// Runs `read` while another thread changes the tree, and returns what it returned.
    fn while_changing<T>(&self, read: impl FnOnce() -> T) -> T {
        let stop = AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                let mut round = 0;
                while !stop.load(Ordering::Relaxed) {
                    for i in 0..Self::CHURN {
                        let p = self.tree.join(format!("churn/c{i}.txt"));
                        if round % 2 == 0 {
                            let _ = fs::remove_file(&p);
                        } else {
                            let _ = fs::write(&p, "short lived\n");
                        }
                    }
                    let _ = fs::OpenOptions::new()
                        .append(true)
                        .open(&self.grow)
                        .and_then(|mut f| {
                            use std::io::Write;
                            f.write_all(&b"more words\n".repeat(1000))
                        });
                    let _ = fs::OpenOptions::new()
                        .write(true)
                        .open(&self.shrink)
                        .and_then(|f| f.set_len((round % 7) * 100_000));
                    round += 1;
                }
            });
            let result = read();
            stop.store(true, Ordering::Relaxed);
            result
        })
    }

    /// Every entry of `run` reported once, the stable files with exact counts, and only
    /// vanished churn files failed, as `not_found`.
    fn check(&self, run: &Run, what: &str) {
        assert_no_panic(run);
        assert!(matches!(run.code(), Some(0 | 1)), "{what}: {}", run.stderr);
        let records = run.records();
        for (path, data) in &self.stable {
            assert_read(&records, path, data.as_bytes());
        }
        for (path, r) in &records {
            if !r["error"].is_null() {
                assert!(
                    path.contains("/churn/"),
                    "{what}: only vanishing files may fail: {r}"
                );
                assert_eq!(r["error"]["kind"], "not_found", "{what}: {r}");
            }
        }
        assert!(
            records.contains_key(&path_key(&self.grow))
                && records.contains_key(&path_key(&self.shrink)),
            "{what}: the growing and the shrinking file are reported"
        );
    }
}

/// Files deleted, growing and truncated while the run goes on: the run ends, every entry is
/// reported once, and the stable files are counted exactly.
pub fn files_changing_during_the_run(reader: &Reader) {
    let changing = ChangingTree::new(2000);
    let run = changing.while_changing(|| reader.json(&[changing.tree.path()]));
    changing.check(&run, "one reader");
}

/// The readers of the other models: the binaries built beside `reader`'s, where there are
/// (`cargo test --workspace` builds them all before it runs any test).
fn sibling_readers(reader: &Reader) -> Vec<Reader> {
    const MODELS: [&str; 5] = [
        "reader-seq",
        "reader-threads",
        "reader-async",
        "reader-hybrid",
        "reader-proc",
    ];
    MODELS
        .iter()
        .map(|name| reader.bin().with_file_name(name))
        .filter(|bin| bin != reader.bin() && bin.is_file())
        .filter_map(|bin| {
            let sibling = Reader::new(bin.to_str()?, &[]);
            Some(if bin.ends_with("reader-proc") {
                sibling.with_processes()
            } else {
                sibling
            })
        })
        .collect()
}

/// Load: eight readers at once on one tree while its files are created, appended to, cut
/// shorter and deleted — this reader, the readers of the other models built beside it, and this
/// reader again with other `--jobs` to make eight — three times over. Every run reports each
/// entry once, the stable files with exact counts, and fails only files that vanished.
pub fn eight_readers_at_once_on_a_changing_tree(reader: &Reader) {
    let changing = ChangingTree::new(1000);
    let mut readers = vec![reader.clone()];
    readers.extend(sibling_readers(reader));
    for jobs in ["1", "2", "8", "32", "64", "3", "16"] {
        if readers.len() >= 8 {
            break;
        }
        readers.push(reader.clone().setting("--jobs", jobs));
    }
    for _ in 0..3 {
        eight_at_once(&changing, &readers);
    }
}

/// One run of each of `readers` on `changing`, all at once while it changes, each checked.
fn eight_at_once(changing: &ChangingTree, readers: &[Reader]) {
    let runs = changing.while_changing(|| {
        let children: Vec<_> = readers
            .iter()
            .map(|r| {
                let mut cmd = r.command(&[
                    "--format".as_ref(),
                    "json".as_ref(),
                    "--progress".as_ref(),
                    "never".as_ref(),
                    changing.tree.path().as_os_str(),
                ]);
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().expect("start the reader")
            })
            .collect();
        children
            .into_iter()
            .map(|child| crate::collect(child, HANG))
            .collect::<Vec<_>>()
    });
    for (r, run) in readers.iter().zip(&runs) {
        changing.check(run, &r.shell_words::<&str>(&[]));
    }
}
