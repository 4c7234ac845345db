//! What `/proc` says about processes: a reader's children and whether one is still alive, for
//! the cases that check no worker process outlives a run.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

/// `pid (comm) state ppid …`: the state letter and the parent, if `/proc` can tell.
fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?; // whole-file read ok: one /proc line
    // comm may hold spaces and parentheses: the fields that follow start after the last ')'.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// The processes whose parent is `pid`, with their state letter (`R`, `S`, `Z`…).
pub fn children(pid: u32) -> Vec<(u32, char)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| {
            let (state, parent) = state_and_parent(child)?;
            (parent == pid).then_some((child, state))
        })
        .collect()
}

/// The live (not zombie) children of `pid`.
pub fn live_children(pid: u32) -> Vec<u32> {
    children(pid)
        .into_iter()
        .filter(|&(_, state)| state != 'Z')
        .map(|(child, _)| child)
        .collect()
}

/// Whether `pid` runs and is not a zombie.
pub fn alive(pid: u32) -> bool {
    state_and_parent(pid).is_some_and(|(state, _)| state != 'Z')
}

/// Waits until `pid` has at least `count` live children, for at most `limit`; fails the case
/// if it does not.
pub fn wait_for_children(pid: u32, count: usize, limit: Duration) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let kids = live_children(pid);
        if kids.len() >= count {
            return kids;
        }
        assert!(
            started.elapsed() < limit,
            "{pid} did not start {count} children: {kids:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits at most `limit` for every one of `pids` to be gone (neither running nor a zombie);
/// returns those left.
pub fn left_after(pids: &[u32], limit: Duration) -> Vec<u32> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|&p| state_and_parent(p).is_some())
            .collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_seen_alive_and_then_gone() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let me = std::process::id();
        assert!(live_children(me).contains(&child.id()));
        assert!(alive(child.id()));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            left_after(&[child.id()], Duration::from_secs(5)),
            Vec::<u32>::new()
        );
        assert!(!alive(child.id()));
    }
}
