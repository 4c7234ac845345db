//! The walk's tests: what it finds, skips and fails, through its public builder, the walk through
//! descriptors beside the walker, and each name once.

use super::*;
use crate::record::ErrorKind;
use crate::walk::descend::Descent;

use crate::walk::seen::Seen;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;

fn discover(walk: &Walk) -> Vec<Discovered> {
    let mut all = Vec::new();
    walk.for_each(|d| all.push(d)).expect("roots exist");
    all
}

fn names(found: &[Discovered]) -> Vec<String> {
    let mut names: Vec<String> = found
        .iter()
        .map(|d| match d {
            Discovered::File(j) => format!("file {}", name(&j.path)),
            Discovered::Skipped(s) => {
                format!("skipped {} {}", name(&s.path), s.reason.as_str())
            }
            Discovered::Failed(e) => format!("failed {} {}", name(e.path()), e.kind()),
        })
        .collect();
    names.sort();
    names
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn walks_recursively_and_filters_extensions_case_insensitively() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(dir.path().join("a/b")).expect("mkdir");
    fs::write(dir.path().join("a/one.TXT"), "x").expect("write");
    fs::write(dir.path().join("a/b/two.txt"), "x").expect("write");
    fs::write(dir.path().join("a/b/three.md"), "x").expect("write");
    fs::write(dir.path().join("noext"), "x").expect("write");
    let all = discover(&Walk::new([dir.path()]));
    assert_eq!(all.len(), 4);
    let txt = discover(&Walk::new([dir.path()]).extensions([".txt"]));
    assert_eq!(names(&txt), ["file one.TXT", "file two.txt"]);
}

#[test]
fn extensions_follow_path_extension() {
    let walk = Walk::new(["."]).extensions(["txt", "GZ"]);
    for (path, wanted) in [
        ("a/b.txt", true),
        ("a/b.tar.gz", true),
        ("B.TXT", true),
        ("a.d/.txt", false),
        ("a.txt/b", false),
        ("a/b.txt.bak", false),
        ("noext", false),
    ] {
        let path = Path::new(path);
        assert_eq!(walk.wanted(path), wanted, "{}", path.display());
        let by_std = path
            .extension()
            .is_some_and(|e| ["txt", "gz"].iter().any(|w| e.eq_ignore_ascii_case(w)));
        assert_eq!(by_std, wanted, "{}", path.display());
    }
}

#[test]
fn special_files_are_skipped_without_opening() {
    let dir = reader_testkit::Tree::new();
    dir.fifo("pipe");
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).expect("bind");
    symlink("/dev/zero", dir.path().join("zero")).expect("symlink");
    let found = names(&discover(&Walk::new([dir.path()])));
    assert_eq!(
        found,
        [
            "skipped pipe fifo",
            "skipped sock socket",
            "skipped zero symlink"
        ]
    );
    let followed = names(&discover(&Walk::new([dir.path()]).follow_links(true)));
    assert_eq!(
        followed,
        [
            "skipped pipe fifo",
            "skipped sock socket",
            "skipped zero char_device"
        ]
    );
}

#[test]
fn links_dangling_and_looping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    fs::create_dir(d.join("sub")).expect("mkdir");
    fs::write(d.join("sub/file"), "x").expect("write");
    symlink(d.join("nowhere"), d.join("dangling")).expect("symlink");
    symlink(d, d.join("sub/loop")).expect("symlink");
    assert_eq!(
        names(&discover(&Walk::new([d]))),
        [
            "file file",
            "skipped dangling symlink",
            "skipped loop symlink"
        ]
    );
    assert_eq!(
        names(&discover(&Walk::new([d]).follow_links(true))),
        [
            "failed dangling not_found",
            "failed loop symlink_loop",
            "file file"
        ]
    );
}

#[test]
fn shards_split_every_kind_of_entry_by_the_path_below_its_root() {
    let dir = reader_testkit::Tree::new();
    for i in 0..30 {
        dir.file(format!("d{}/f{i}.txt", i % 4), "x\n");
    }
    dir.fifo("pipe");
    let d = dir.path();
    symlink(d.join("nowhere"), d.join("dangling")).expect("symlink");
    symlink(d, d.join("d0/loop")).expect("symlink");
    let lone = d.join("d1/f1.txt");
    for follow in [false, true] {
        let walk = Walk::new([d, lone.as_path()]).follow_links(follow);
        let all = names(&discover(&walk));
        let mut shards = Vec::new();
        for k in 0..3 {
            let shard = Shard::new(k, 3).ok();
            shards.extend(names(&discover(&walk.clone().shard(shard))));
        }
        shards.sort();
        // Every entry once, in exactly one shard (the lone root is inside `d`: walked once).
        assert_eq!(shards, all, "follow {follow}");
    }
    // The key is the path below the root: the same tree under another name shards alike.
    let shard = Shard::new(1, 3).ok();
    let here = names(&discover(&Walk::new([d]).shard(shard)));
    let moved = d.with_extension("moved");
    fs::rename(d, &moved).expect("rename");
    let there = names(&discover(&Walk::new([&moved]).shard(shard)));
    fs::rename(&moved, d).expect("rename back");
    assert_eq!(here, there);
    assert!(!here.is_empty());
}

#[test]
fn every_file_hands_each_shard_all_files_and_each_is_owned_by_one() {
    let dir = reader_testkit::Tree::new();
    for i in 0..30 {
        dir.file(format!("d{}/f{i}.txt", i % 4), "x\n");
    }
    dir.fifo("pipe");
    let d = dir.path();
    symlink(d.join("nowhere"), d.join("dangling")).expect("symlink");
    let walk = Walk::new([d]);
    let all = names(&discover(&walk));
    let files: Vec<&String> = all.iter().filter(|n| n.starts_with("file ")).collect();
    let (mut owned, mut others) = (Vec::new(), Vec::new());
    for k in 0..3 {
        let sharded = walk.clone().shard(Shard::new(k, 3).ok()).every_file(true);
        let mut found = Vec::new();
        sharded
            .for_each_owned(|entry, mine| found.push((entry, mine)))
            .expect("roots exist");
        let (mine, theirs): (Vec<_>, Vec<_>) = found.into_iter().partition(|(_, m)| *m);
        let mine: Vec<Discovered> = mine.into_iter().map(|(e, _)| e).collect();
        let theirs: Vec<Discovered> = theirs.into_iter().map(|(e, _)| e).collect();
        // Every file, its own or not; only files are another shard's.
        let mut seen: Vec<String> = names(&mine)
            .into_iter()
            .chain(names(&theirs))
            .filter(|n| n.starts_with("file "))
            .collect();
        seen.sort();
        assert_eq!(seen.iter().collect::<Vec<_>>(), files, "shard {k}");
        assert!(theirs.iter().all(|e| matches!(e, Discovered::File(_))));
        // Without the mode, the shard's own entries are the same.
        let plain = discover(&walk.clone().shard(Shard::new(k, 3).ok()));
        assert_eq!(names(&mine), names(&plain), "shard {k}");
        owned.extend(names(&mine));
        others.extend(names(&theirs));
    }
    owned.sort();
    // Each entry owned once between the shards, as without the mode.
    assert_eq!(owned, all);
    assert_eq!(others.len(), 2 * files.len());
}

#[test]
fn non_utf8_names_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = OsStr::from_bytes(b"caf\xe9.txt");
    fs::write(dir.path().join(name), "x").expect("write");
    let found = discover(&Walk::new([dir.path()]).extensions(["txt"]));
    match found.as_slice() {
        [Discovered::File(job)] => assert_eq!(job.path.file_name(), Some(name)),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn overlapping_roots_are_walked_once_and_a_file_root_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    fs::write(dir.path().join("sub/a.md"), "x").expect("write");
    let walk = Walk::new([
        dir.path().join("sub"),
        dir.path().to_path_buf(),
        dir.path().join("sub"),
    ])
    .extensions(["txt"]);
    assert!(discover(&walk).is_empty());
    let explicit = Walk::new([dir.path().join("sub/a.md")]).extensions(["txt"]);
    assert_eq!(names(&discover(&explicit)), ["file a.md"]);
}

#[test]
fn sizes_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("f"), "12345").expect("write");
    let found = discover(&Walk::new([dir.path()]).with_sizes(true));
    assert!(matches!(
        &found[..],
        [Discovered::File(FileJob { size: Some(5), .. })]
    ));
}

/// A small source tree inside a git repository (a `.git` directory is all the walker asks).
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for sub in [".git/info", "src", "target/debug", "docs/gen", ".config"] {
        fs::create_dir_all(d.join(sub)).expect("mkdir");
    }
    for (file, text) in [
        (".gitignore", "target/\n*.log\n!keep.log\n[unclosed\n"),
        (".git/info/exclude", "secret.txt\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("src/.gitignore", "generated.rs\n"),
        ("src/generated.rs", "x"),
        ("target/debug/app", "binary"),
        ("docs/gen/page.md", "# page"),
        ("docs/a.log", "log"),
        ("docs/keep.log", "kept"),
        ("secret.txt", "shh"),
        (".config/settings", "x = 1"),
        ("README", "hello world\n"),
    ] {
        fs::write(d.join(file), text).expect("write");
    }
    dir
}

#[test]
fn gitignore_reads_what_git_would_track_and_leaves_git_out() {
    let repo = repository();
    let found = names(&discover(&Walk::new([repo.path()]).gitignore(true)));
    assert_eq!(
        found,
        [
            "file .gitignore",
            "file .gitignore",
            "file README",
            "file keep.log",
            "file main.rs",
            "file page.md",
            "file settings",
        ]
    );
    let everything = discover(&Walk::new([repo.path()]));
    assert_eq!(everything.len(), 13, "{:?}", names(&everything));
}

#[test]
fn hidden_excluded_and_deep_entries_are_left_out() {
    let repo = repository();
    let d = repo.path();
    let visible = names(&discover(&Walk::new([d]).skip_hidden(true)));
    assert!(visible.iter().all(|n| !n.contains(" .")), "{visible:?}");
    assert!(
        !visible.contains(&"file settings".to_string()),
        "{visible:?}"
    );
    assert_eq!(visible.len(), 8, "{visible:?}");
    let excluded = Walk::new([d]).exclude(["target/", "*.log", "!keep.log", "/docs/gen"]);
    excluded.check().expect("valid globs");
    let found = names(&discover(&excluded));
    for gone in ["file app", "file a.log", "file page.md"] {
        assert!(!found.contains(&gone.to_string()), "{found:?}");
    }
    assert!(found.contains(&"file keep.log".to_string()), "{found:?}");
    let top = names(&discover(&Walk::new([d]).max_depth(Some(1))));
    assert_eq!(top, ["file .gitignore", "file README", "file secret.txt"]);
    let file_root = Walk::new([d.join("README")]).max_depth(Some(0));
    assert_eq!(names(&discover(&file_root)), ["file README"]);
}

#[test]
fn sizes_outside_the_range_are_skipped_with_their_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, len) in [("empty", 0), ("small", 3), ("mid", 10), ("big", 100)] {
        fs::write(dir.path().join(name), vec![b'x'; len]).expect("write");
    }
    let walk = Walk::new([dir.path()]).size_range(Some(1), Some(10));
    assert_eq!(
        names(&discover(&walk)),
        [
            "file mid",
            "file small",
            "skipped big too_large",
            "skipped empty too_small"
        ]
    );
    assert!(
        discover(&walk)
            .iter()
            .any(|d| matches!(d, Discovered::File(FileJob { size: Some(10), .. })))
    );
}

#[test]
fn filters_that_cannot_work_are_start_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_glob = Walk::new([dir.path()]).exclude(["ok", "{a,b"]).check();
    let err = bad_glob.expect_err("unclosed class").to_string();
    assert!(err.contains("--exclude '{a,b'"), "{err}");
    let bad_range = Walk::new([dir.path()])
        .size_range(Some(10), Some(1))
        .check();
    assert!(bad_range.is_err());
}

/// Levels of the deep chain: 8-byte names, about twice `PATH_MAX` at the bottom.
const LEVELS: usize = 1000;

/// `top.txt`, and a chain of [`LEVELS`] directories below `deep` holding `at-N.txt` every
/// 100 levels and at the bottom, and `.hidden.txt` and `notes.md` at level 700.
fn deep_tree() -> reader_testkit::Tree {
    use reader_testkit::Deep;
    let tree = reader_testkit::Tree::new();
    tree.file("top.txt", "top\n");
    tree.deep_with("deep", LEVELS, 8, |level| {
        let mut items = Vec::new();
        if level % 100 == 0 || level == LEVELS {
            let text = format!("level {level}\n").into_bytes();
            items.push(Deep::File(format!("at-{level}.txt"), text));
        }
        if level == 700 {
            items.push(Deep::File(".hidden.txt".into(), b"h".to_vec()));
            items.push(Deep::File("notes.md".into(), b"md".to_vec()));
        }
        items
    });
    tree
}

#[test]
fn a_tree_far_deeper_than_path_max_is_walked_to_its_bottom() {
    let tree = deep_tree();
    let root = tree.path();
    let all = discover(&Walk::new([root]));
    assert_eq!(all.len(), 14, "{:?}", names(&all));
    assert!(
        all.iter().all(|d| matches!(d, Discovered::File(_))),
        "{:?}",
        names(&all)
    );
    let deepest = reader_testkit::Tree::deep_dir(&tree.join("deep"), LEVELS, 8);
    let deepest = deepest.join(format!("at-{LEVELS}.txt"));
    assert!(long::too_long(deepest.as_os_str().as_bytes()));
    assert!(all.contains(&Discovered::File(FileJob::new(&deepest, None))));
    let count = |walk: Walk| discover(&walk).len();
    assert_eq!(count(Walk::new([root]).extensions(["md"])), 1);
    assert_eq!(count(Walk::new([root]).skip_hidden(true)), 13);
    assert_eq!(
        count(Walk::new([root]).exclude(["*.md", "/deep/**/at-1000.txt"])),
        12
    );
    // `deep` is at depth 1, level N at depth N + 1, and its files at N + 2.
    assert_eq!(count(Walk::new([root]).max_depth(Some(502))), 7);
    for found in discover(&Walk::new([root]).with_sizes(true)) {
        let Discovered::File(job) = found else {
            panic!("{found:?}");
        };
        let name = job
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let want = match name.as_deref() {
            Some(".hidden.txt") => 1,
            Some("notes.md") => 2,
            Some("top.txt") => 4,
            Some(at) => format!("level {}\n", &at[3..at.len() - 4]).len() as u64,
            None => panic!("{job:?}"),
        };
        assert_eq!(job.size, Some(want), "{}", job.path.display());
    }
    let mut shards = Vec::new();
    for k in 0..3 {
        shards.extend(names(&discover(
            &Walk::new([root]).shard(Shard::new(k, 3).ok()),
        )));
    }
    shards.sort();
    assert_eq!(shards, names(&all), "each entry in one shard");
}

#[test]
fn links_past_path_max_are_followed_and_their_loops_found() {
    use reader_testkit::Deep;
    let tree = reader_testkit::Tree::new();
    tree.file("other/o.txt", "other\n");
    let other = tree.join("other");
    let root = tree.path().to_path_buf();
    tree.deep_with("deep", 600, 8, |level| match level {
        550 => vec![
            Deep::Link("back".into(), "../../..".into()),
            Deep::Link("to-root".into(), root.clone()),
            Deep::Link("across".into(), other.clone()),
            Deep::Link("dangling".into(), "nowhere".into()),
            Deep::File("f.txt".into(), b"f\n".to_vec()),
        ],
        _ => Vec::new(),
    });
    let at = reader_testkit::Tree::deep_dir(&tree.join("deep"), 550, 8);
    assert!(long::too_long(at.as_os_str().as_bytes()));
    let plain = names(&discover(&Walk::new([&root])));
    assert_eq!(
        plain,
        [
            "file f.txt",
            "file o.txt",
            "skipped across symlink",
            "skipped back symlink",
            "skipped dangling symlink",
            "skipped to-root symlink",
        ]
    );
    let followed = discover(&Walk::new([&root]).follow_links(true));
    assert_eq!(
        names(&followed),
        [
            "failed back symlink_loop",
            "failed dangling not_found",
            "failed to-root symlink_loop",
            "file f.txt",
            "file o.txt",
            "file o.txt",
        ]
    );
    assert!(followed.contains(&Discovered::File(FileJob::new(
        at.join("across/o.txt"),
        None
    ))));
    let back = reader_testkit::Tree::deep_dir(&tree.join("deep"), 547, 8);
    for found in &followed {
        if let Discovered::Failed(err) = found
            && err.kind() == ErrorKind::SymlinkLoop
        {
            let ancestor = if err.path().ends_with("back") {
                &back
            } else {
                &root
            };
            let want = format!("loop back to {}", ancestor.display());
            assert!(err.message().ends_with(&want), "{}", err.message());
        }
    }
}

#[test]
fn the_repository_rules_reach_past_path_max() {
    use reader_testkit::Deep;
    let tree = reader_testkit::Tree::new();
    tree.file(".git/HEAD", "ref: refs/heads/main\n");
    tree.file(".gitignore", "*.log\n");
    tree.deep_with("deep", 600, 8, |level| match level {
        500 => vec![Deep::File(".gitignore".into(), b"*.tmp\n".to_vec())],
        550 => vec![
            Deep::File("kept.txt".into(), b"x".to_vec()),
            Deep::File("left.log".into(), b"x".to_vec()),
            Deep::File("left.tmp".into(), b"x".to_vec()),
        ],
        // A repository of its own: the outer one's rules stop at it, as in git.
        580 => vec![Deep::Dir(".git".into())],
        590 => vec![Deep::File("inner.log".into(), b"x".to_vec())],
        _ => Vec::new(),
    });
    let found = names(&discover(&Walk::new([tree.path()]).gitignore(true)));
    let want = [
        "file .gitignore",
        "file .gitignore",
        "file inner.log",
        "file kept.txt",
    ];
    assert_eq!(found, want);
}

#[test]
fn paths_past_path_max_given_as_paths_or_listed_are_walked() {
    let tree = deep_tree();
    let top = tree.join("deep");
    let dir = reader_testkit::Tree::deep_dir(&top, 900, 8);
    let file = reader_testkit::Tree::deep_dir(&top, LEVELS, 8).join("at-1000.txt");
    let gone = dir.join("gone");
    assert_eq!(
        names(&discover(&Walk::new([&dir]))),
        ["file at-1000.txt", "file at-900.txt"]
    );
    assert_eq!(names(&discover(&Walk::new([&file]))), ["file at-1000.txt"]);
    let err = Walk::new([&gone]).check().expect_err("missing");
    assert!(
        matches!(err, StartError::Path { ref source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    let listed = Walk::new([&dir, &file, &gone]).listed(true);
    assert_eq!(
        names(&discover(&listed)),
        [
            "failed gone not_found",
            "file at-1000.txt",
            "file at-1000.txt",
            "file at-900.txt"
        ]
    );
}

/// Walks `root` through descriptors, as a PATH too long for the walker is walked.
fn through_descriptors(walk: &Walk, root: &Path) -> Vec<Discovered> {
    let mut descent = Descent::beneath(walk, root);
    let mut patience = Patience::new(None);
    std::iter::from_fn(|| descent.next(walk, &mut patience)).collect()
}

#[test]
fn the_walk_through_descriptors_finds_what_the_walker_finds() {
    let repo = repository();
    let d = repo.path();
    fs::create_dir(d.join("links")).expect("mkdir");
    symlink(d.join("src"), d.join("links/src")).expect("symlink");
    symlink(d, d.join("links/loop")).expect("symlink");
    symlink(d.join("nowhere"), d.join("links/dangling")).expect("symlink");
    // Every kind of rule, and each taking back what another left out.
    fs::write(d.join(".ignore"), "!secret.txt\n*.tmp\n").expect("write");
    fs::write(d.join("docs/.ignore"), "!a.tmp\n").expect("write");
    fs::write(d.join("docs/a.tmp"), "x").expect("write");
    fs::write(d.join("b.tmp"), "x").expect("write");
    fs::write(d.join("src/.gitignore"), "generated.rs\n!.keep\n").expect("write");
    fs::write(d.join("src/.keep"), "x").expect("write");
    // The same tree by a relative path, whose directories above match absolute paths.
    let cwd = std::env::current_dir().expect("cwd");
    let up = PathBuf::from("../".repeat(cwd.components().count()));
    let relative = up.join(d.strip_prefix("/").expect("absolute"));
    let walks = [
        Walk::new([relative.as_path()])
            .gitignore(true)
            .skip_hidden(true),
        Walk::new([d]),
        Walk::new([d]).gitignore(true),
        Walk::new([d]).skip_hidden(true),
        Walk::new([d]).exclude(["target/", "*.log", "!keep.log", "/docs/gen"]),
        Walk::new([d]).max_depth(Some(1)),
        Walk::new([d]).max_depth(Some(2)).follow_links(true),
        Walk::new([d]).follow_links(true).with_sizes(true),
        Walk::new([d])
            .extensions(["rs", "md"])
            .size_range(Some(2), None),
        Walk::new([d])
            .gitignore(true)
            .skip_hidden(true)
            .follow_links(true),
    ];
    let ruled = names(&discover(&walks[0]));
    for name in [
        "file secret.txt",
        "file a.tmp",
        "file .keep",
        "file keep.log",
    ] {
        assert!(ruled.contains(&name.to_string()), "{name}: {ruled:?}");
    }
    for name in [
        "file b.tmp",
        "file a.log",
        "file generated.rs",
        "file settings",
    ] {
        assert!(!ruled.contains(&name.to_string()), "{name}: {ruled:?}");
    }
    for walk in walks {
        let by_walker = discover(&walk);
        let by_descriptors = through_descriptors(&walk, &walk.roots[0]);
        assert_eq!(names(&by_descriptors), names(&by_walker), "{walk:?}");
        let sizes = |found: &[Discovered]| {
            let mut sizes: Vec<_> = found
                .iter()
                .filter_map(|f| match f {
                    Discovered::File(job) => Some((job.path.clone(), job.size)),
                    _ => None,
                })
                .collect();
            sizes.sort();
            sizes
        };
        assert_eq!(sizes(&by_descriptors), sizes(&by_walker), "{walk:?}");
    }
}

#[test]
fn a_listing_that_never_returns_costs_its_directory_within_the_limit() {
    use reader_testkit::hostile::{HostileFs, LISTING_STALLS, NEVER_LISTED};
    let Some(fs) = HostileFs::mount() else {
        return;
    };
    let tree = fs.join(LISTING_STALLS);
    let never = tree.join(NEVER_LISTED);
    let limit = std::time::Duration::from_millis(200);
    let started = std::time::Instant::now();
    let found = discover(&Walk::new([&tree]).timeout(Some(limit)));
    let took = started.elapsed();
    let alone = discover(&Walk::new([&never]).timeout(Some(limit)));
    let (stalled, stuck) = (fs.stalled_listings(), crate::stuck_listings());
    drop(fs);
    assert_eq!(
        names(&found),
        [
            "failed never-listed timeout",
            "file after.txt",
            "file before.txt",
            "file below.txt",
            "file beside.txt",
        ]
    );
    assert!(took < limit * 5, "{took:?}");
    let Some(Discovered::Failed(err)) = found.iter().find(|f| matches!(f, Discovered::Failed(_)))
    else {
        panic!("{found:?}");
    };
    assert_eq!(err.path(), never);
    assert!(err.message().contains("listing"), "{}", err.message());
    assert_eq!(
        names(&alone),
        ["failed never-listed timeout"],
        "a PATH never listed"
    );
    // The second listing of the directory waits in the kernel behind the first one's
    // request, which the server holds.
    assert!(
        stalled >= 1 && stuck >= 2,
        "{stalled} listings stalled, {stuck} stuck"
    );
}

#[test]
fn missing_root_is_a_start_error() {
    let err = Walk::new(["/no/such/path/here"])
        .check()
        .expect_err("missing");
    assert!(err.to_string().starts_with("/no/such/path/here: "), "{err}");
}

#[test]
fn a_name_listed_twice_is_reported_once_and_a_directory_walked_once() {
    let mut seen = Seen::default();
    let walked: Vec<bool> = [
        (0, "/r", true),
        (1, "/r/a", false),
        (1, "/r/d", true),
        (2, "/r/d/x", false),
        (1, "/r/a", false),
        (1, "/r/d", true),
        (2, "/r/d/x", false),
        (1, "/r/b", false),
        (0, "/s", true),
        (1, "/s/a", false),
    ]
    .into_iter()
    .map(|(depth, path, is_dir)| seen.first(depth, Path::new(path), is_dir))
    .collect();
    let expected = [
        true, true, true, true, false, false, false, true, true, true,
    ];
    assert_eq!(walked, expected);

    seen.first(1, Path::new("/s/d"), true);
    assert!(!seen.first(1, Path::new("/s/d"), true));
    let unlisted = |depth, path: &str| ignore::Error::WithDepth {
        depth,
        err: Box::new(ignore::Error::WithPath {
            path: PathBuf::from(path),
            err: Box::new(ignore::Error::Io(io::Error::from_raw_os_error(
                libc::EACCES,
            ))),
        }),
    };
    assert!(seen.beneath_repeated(&unlisted(1, "/s/d")));
    assert!(seen.beneath_repeated(&unlisted(2, "/s/d/e")));
    assert!(!seen.beneath_repeated(&unlisted(1, "/s/other")));
    assert!(seen.first(1, Path::new("/s/b"), false));
    assert!(!seen.beneath_repeated(&unlisted(1, "/s/d")));
}
