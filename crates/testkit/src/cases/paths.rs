//! What is read: a `--files0-from` list, special files, symbolic links, unreadable entries,
//! PATHs that are files or overlap, an empty folder, and paths longer than `PATH_MAX`.

use std::collections::HashMap;
use std::process::Command;

use serde_json::Value;

use super::checks::{
    assert_failed, assert_no_panic, assert_one_line_error, assert_read, assert_skipped, in_bash,
};
use super::shards::union_of_shards;
use crate::noise;
use crate::run::{Reader, Run, finish};
use crate::tree::{Deep, Tree};

/// `--files0-from`: a NUL-separated list (a file, or `-` for stdin) is read as PATHs are — a
/// listed directory is walked, a listed FIFO skipped, a missing name reported as `not_found`
/// — and an unreadable list is a one-line start error.
pub fn files0_from_reads_a_list_like_paths(reader: &Reader) {
    let tree = Tree::new();
    let a = tree.file("a.txt", "one two\n");
    let b = tree.file("dir/b.md", "three\n");
    let c = tree.file("dir/sub/c", "four five six\n");
    let pipe = tree.fifo("pipe");
    let missing = tree.join("missing.txt");
    let mut list = Vec::new();
    for path in [&a, &tree.join("dir"), &missing, &pipe] {
        list.extend_from_slice(path.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    let list_file = tree.file("list0", &list);
    let check = |run: &Run| {
        assert_eq!(
            run.code(),
            Some(1),
            "a missing file is a failure: {}",
            run.stderr
        );
        let records = run.records();
        assert_eq!(records.len(), 5, "{:?}", records.keys());
        assert_read(&records, &a, b"one two\n");
        assert_read(&records, &b, b"three\n");
        assert_read(&records, &c, b"four five six\n");
        assert_failed(&records, &missing, "not_found");
        assert_skipped(&records, &pipe, "fifo");
    };
    check(&reader.json(&["--files0-from".as_ref(), list_file.as_os_str()]));
    let args = [
        "--format".as_ref(),
        "json".as_ref(),
        "--files0-from".as_ref(),
        "-".as_ref(),
    ];
    check(&in_bash(reader, &args, |cmd| {
        format!("{cmd} <{}", list_file.display())
    }));
    let unreadable = reader.run(&["--files0-from".as_ref(), missing.as_os_str()]);
    assert_one_line_error(&unreadable);
    let both = reader.run(&[
        "--files0-from".as_ref(),
        list_file.as_os_str(),
        tree.path().as_os_str(),
    ]);
    assert_one_line_error(&both);
}

/// FIFOs, sockets and devices are reported as skipped and never opened.
pub fn special_files_are_skipped_without_hanging(reader: &Reader) {
    let tree = Tree::new();
    let ok = tree.file("ok.txt", "fine\n");
    let pipe = tree.fifo("pipe");
    let sock = tree.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind a socket");
    let zero = tree.symlink("zero", "/dev/zero");
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_read(&records, &ok, b"fine\n");
    assert_skipped(&records, &pipe, "fifo");
    assert_skipped(&records, &sock, "socket");
    assert_skipped(&records, &zero, "symlink");
    let followed = reader.json(&["--follow".as_ref(), tree.path().as_os_str()]);
    assert_eq!(followed.code(), Some(0), "stderr: {}", followed.stderr);
    assert_skipped(&followed.records(), &zero, "char_device");
    let direct = reader.json(&[&pipe]);
    assert_eq!(direct.code(), Some(0));
    assert_skipped(&direct.records(), &pipe, "fifo");
}

fn link_tree() -> Tree {
    let tree = Tree::new();
    tree.file("real/f.txt", "in the real folder\n");
    tree.symlink("to-dir", tree.join("real"));
    tree.symlink("dangling", tree.join("nowhere"));
    tree.symlink("real/loop", tree.path());
    tree
}

/// Without `--follow`, every symbolic link is skipped as such.
pub fn symlinks_without_follow_are_skipped(reader: &Reader) {
    let tree = link_tree();
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    let records = run.records();
    assert_eq!(records.len(), 4);
    assert_read(&records, &tree.join("real/f.txt"), b"in the real folder\n");
    for link in ["to-dir", "dangling", "real/loop"] {
        assert_skipped(&records, &tree.join(link), "symlink");
    }
}

/// With `--follow`, links are walked, a dangling one fails `not_found`, and a loop fails
/// `symlink_loop` instead of being walked forever.
pub fn symlinks_with_follow_loop_safe(reader: &Reader) {
    let tree = link_tree();
    let run = reader.json(&["--follow".as_ref(), tree.path().as_os_str()]);
    assert_eq!(
        run.code(),
        Some(1),
        "failures give status 1; stderr: {}",
        run.stderr
    );
    let records = run.records();
    assert_read(&records, &tree.join("real/f.txt"), b"in the real folder\n");
    assert_read(
        &records,
        &tree.join("to-dir/f.txt"),
        b"in the real folder\n",
    );
    assert_failed(&records, &tree.join("dangling"), "not_found");
    assert_failed(&records, &tree.join("real/loop"), "symlink_loop");
    assert_failed(&records, &tree.join("to-dir/loop"), "symlink_loop");
    assert_eq!(records.len(), 5);
}

/// An unreadable file and an unreadable folder, as a user the permissions apply to (the suite
/// switches to `nobody` with `setpriv` when it runs as root, rather than skipping the case).
pub fn permission_denied_as_an_unprivileged_user(reader: &Reader) {
    let tree = Tree::new();
    let open = tree.file("open.txt", "readable\n");
    let secret = tree.file("secret.txt", "hidden\n");
    tree.file("locked/inside.txt", "hidden\n");
    tree.chmod("secret.txt", 0o000);
    tree.chmod("locked", 0o000);
    let args = ["--format", "json", "--progress", "never"];
    // SAFETY: geteuid has no preconditions.
    let cmd = if unsafe { libc::geteuid() } == 0 {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        cmd.arg(reader.bin())
            .args(reader.command(&args).get_args())
            .arg(tree.path());
        cmd
    } else {
        let mut cmd = reader.command(&args);
        cmd.arg(tree.path());
        cmd
    };
    let run = finish(cmd);
    tree.chmod("locked", 0o755);
    assert_eq!(run.code(), Some(1), "stderr: {}", run.stderr);
    let records = run.records();
    assert_read(&records, &open, b"readable\n");
    assert_failed(&records, &secret, "permission_denied");
    assert_failed(&records, &tree.join("locked"), "permission_denied");
    assert_eq!(records.len(), 3);
}

/// A PATH that is a file is read as one file; overlapping PATHs read each file once.
pub fn file_path_and_overlapping_paths(reader: &Reader) {
    let tree = Tree::new();
    let x = tree.file("a/x.txt", "one two\n");
    let y = tree.file("a/b/y.txt", "three\n");
    let single = reader.json(&[&x]);
    assert_eq!(single.code(), Some(0));
    let records = single.records();
    assert_eq!(records.len(), 1);
    assert_read(&records, &x, b"one two\n");
    let a = tree.join("a");
    let overlapping = reader.json(&[&a, &tree.join("a/b"), &a, &x]);
    assert_eq!(
        overlapping.code(),
        Some(0),
        "stderr: {}",
        overlapping.stderr
    );
    let records = overlapping.records();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_read(&records, &y, b"three\n");
}

/// An empty folder is a successful run of nothing.
pub fn empty_directory(reader: &Reader) {
    let tree = Tree::new();
    let run = reader.json(&[tree.path()]);
    assert_eq!(run.code(), Some(0));
    assert!(run.records().is_empty());
    assert_eq!(run.summary()["files"], 0);
    assert_eq!(reader.run(&[tree.path()]).code(), Some(0));
}

/// Levels of the deep tree of [`paths_longer_than_path_max`]: 8-byte names, so its deepest
/// files sit at about four times `PATH_MAX`.
const DEEP_LEVELS: usize = 2000;

/// A tree whose deepest files sit at several times `PATH_MAX` (docs/CONTRACT.md): every file is
/// read, exactly, under its full path — files every 250 levels, two side by side, the bottom —
/// in every model, with no `name_too_long` left; links down there are skipped, or followed with
/// `--follow` (a loop back up reported as `symlink_loop`); a `--files0-from` list of such paths
/// is read as PATHs are; and shards share the whole run out between them.
pub fn paths_longer_than_path_max(reader: &Reader) {
    let tree = Tree::new();
    let shallow = tree.file("shallow.txt", "near the top\n");
    let other = tree.file("other/o.txt", "reached through a link\n");
    let top = tree.join("deep");
    let mut files = vec![(shallow, b"near the top\n".to_vec())];
    tree.deep_with("deep", DEEP_LEVELS, 8, |level| {
        let mut items = Vec::new();
        let dir = Tree::deep_dir(&top, level, 8);
        if level % 250 == 0 || level == DEEP_LEVELS {
            let data = noise(1000 + level, level as u64);
            files.push((dir.join(format!("at-{level}.txt")), data.clone()));
            items.push(Deep::File(format!("at-{level}.txt"), data));
        }
        if level == 1500 {
            let data = b"beside another\n".to_vec();
            files.push((dir.join("beside.txt"), data.clone()));
            items.push(Deep::File("beside.txt".into(), data));
        }
        if level == 1800 {
            items.push(Deep::Link("loop".into(), "../../..".into()));
            items.push(Deep::Link("across".into(), tree.join("other")));
            let up = "../".repeat(50);
            items.push(Deep::Link(
                "to-file".into(),
                format!("{up}at-1750.txt").into(),
            ));
        }
        items
    });
    let at = |level| Tree::deep_dir(&top, level, 8);
    assert!(at(DEEP_LEVELS).as_os_str().len() > 4 * 4096);
    let links = ["loop", "across", "to-file"].map(|name| at(1800).join(name));
    let no_name_too_long = |run: &Run| {
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(!text.contains("name_too_long"), "{}", run.stderr);
    };

    let run = reader.json(&[tree.path()]);
    assert_no_panic(&run);
    assert_eq!(run.code(), Some(0), "stderr: {}", run.stderr);
    no_name_too_long(&run);
    let records = run.records();
    assert_eq!(
        records.len(),
        files.len() + 1 + links.len(),
        "{:?}",
        records.len()
    );
    for (path, data) in &files {
        assert_read(&records, path, data);
    }
    assert_read(&records, &other, b"reached through a link\n");
    for link in &links {
        assert_skipped(&records, link, "symlink");
    }
    let whole = records;
    let file_at = |level: usize| {
        let name = format!("at-{level}.txt");
        files
            .iter()
            .find(|(path, _)| path.ends_with(&name))
            .expect("a file at that level")
    };

    let followed = reader.json(&["--follow".as_ref(), tree.path().as_os_str()]);
    assert_no_panic(&followed);
    assert_eq!(followed.code(), Some(1), "the loop: {}", followed.stderr);
    no_name_too_long(&followed);
    let records = followed.records();
    for (path, data) in &files {
        assert_read(&records, path, data);
    }
    assert_failed(&records, &links[0], "symlink_loop");
    assert_read(
        &records,
        &links[1].join("o.txt"),
        b"reached through a link\n",
    );
    assert_read(&records, &links[2], &file_at(1750).1);
    assert_eq!(records.len(), files.len() + 1 + 3, "{:?}", records.len());

    let missing = at(1900).join("gone.txt");
    let mut list = Vec::new();
    for path in [&file_at(1750).0, &at(1900), &missing] {
        list.extend_from_slice(path.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    let lists = Tree::new();
    let list_file = lists.file("list0", &list);
    let listed = reader.json(&["--files0-from".as_ref(), list_file.as_os_str()]);
    assert_eq!(
        listed.code(),
        Some(1),
        "the missing file: {}",
        listed.stderr
    );
    no_name_too_long(&listed);
    let records = listed.records();
    assert_eq!(records.len(), 3, "{:?}", records.len());
    for (path, data) in [file_at(1750), file_at(2000)] {
        assert_read(&records, path, data);
    }
    assert_failed(&records, &missing, "not_found");

    let union = union_of_shards((0..3).map(|k| {
        let shard = format!("{k}/3");
        let run = reader.json(&["--shard".as_ref(), shard.as_ref(), tree.path().as_os_str()]);
        assert_eq!(run.code(), Some(0), "shard {shard}: {}", run.stderr);
        run
    }));
    // Names only in messages: the paths are tens of kilobytes long.
    let names = |records: &HashMap<String, Value>| {
        let mut names: Vec<String> = records
            .keys()
            .map(|path| {
                format!(
                    "{} {}",
                    path.len(),
                    path.rsplit('/').next().unwrap_or_default()
                )
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&union), names(&whole));
    for (path, data) in &files {
        assert_read(&union, path, data);
    }
}
