//! The pristine skeletons: their recorded fingerprints (`course/pristine.sum`,
//! written by `cargo run -- dev update`) and the copies `build.rs` embedded.
//!
//! The committed `exercises/NAME.rs` is the only copy kept in the tree; an
//! exercise is "not started" while its file still has the recorded
//! fingerprint, and `reset` writes the embedded copy back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::hash::skeleton_hash;

include!(concat!(env!("OUT_DIR"), "/pristine.rs"));

/// Where the fingerprints are, under the course root.
pub fn sum_file(root: &Path) -> PathBuf {
    root.join("course").join("pristine.sum")
}

/// The first lines of `course/pristine.sum`.
pub const SUM_HEADER: &str = "\
# The fingerprints of the pristine skeletons (exercises/NAME.rs as committed):
# FNV-1a, 64 bits, of the file with CRLF read as LF. Written by
# `cargo run -- dev update`; do not edit.
";

/// The recorded fingerprints: name -> hex.
pub fn recorded(root: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(sum_file(root)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}

/// The fingerprint of `bytes`, as `pristine.sum` writes it.
pub fn hex(bytes: &[u8]) -> String {
    format!("{:016x}", skeleton_hash(bytes))
}

/// True while `bytes` (an exercise file) is its recorded skeleton.
pub fn is_pristine(root: &Path, name: &str, bytes: &[u8]) -> bool {
    recorded(root)
        .get(name)
        .is_some_and(|sum| *sum == hex(bytes))
}

/// The embedded skeleton of `name`, if the build had it.
pub fn embedded(name: &str) -> Option<&'static str> {
    EMBEDDED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}
