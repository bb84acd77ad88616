//! Embeds the pristine skeletons for `cargo run -- reset NAME`.
//!
//! `course/pristine.sum` records the fingerprint of every committed skeleton
//! (`cargo run -- dev update` writes it). This script copies each
//! `exercises/NAME.rs` whose fingerprint matches into `OUT_DIR`, and the
//! runner embeds those copies. It re-runs only when `pristine.sum` changes,
//! never when a learner edits an exercise: the embedded copy stays the
//! skeleton. A file that no longer matches when the script runs (it was
//! edited before the first build, or after a `cargo clean`) is not embedded;
//! `reset` then says how to restore it.

use std::fmt::Write as _;
use std::path::Path;

#[path = "src/hash.rs"]
mod hash;

fn main() {
    println!("cargo:rerun-if-changed=pristine.sum");
    println!("cargo:rerun-if-changed=src/hash.rs");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = Path::new(&out).join("pristine");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/pristine");
    let sums = std::fs::read_to_string("pristine.sum").unwrap_or_default();
    let mut table = String::from("/// The embedded pristine skeletons: (name, text).\n");
    table.push_str("pub const EMBEDDED: &[(&str, &str)] = &[\n");
    for line in sums.lines().filter(|l| !l.starts_with('#')) {
        let mut words = line.split_whitespace();
        let (Some(name), Some(sum)) = (words.next(), words.next()) else {
            continue;
        };
        let file = Path::new("..").join("exercises").join(format!("{name}.rs"));
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if format!("{:016x}", hash::skeleton_hash(&bytes)) != sum {
            continue;
        }
        let copy = dir.join(format!("{name}.rs"));
        std::fs::write(&copy, hash::normalized(&bytes)).expect("write the embedded copy");
        let copy = copy.display().to_string();
        writeln!(table, "    ({name:?}, include_str!({copy:?})),").expect("write to a String");
    }
    table.push_str("];\n");
    std::fs::write(Path::new(&out).join("pristine.rs"), table).expect("write pristine.rs");
}
