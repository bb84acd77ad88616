//! `cargo run -- dev check` (and `dev update --check`) as a course author
//! runs it: on a copy of the tree with a `[[bin]]` missing and a suite
//! registered that the manifest does not know, it fails and names both.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files `dev check` reads, copied from the course root to `to`.
fn copy_tree(to: &Path) {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("course/ is in the course root")
        .to_path_buf();
    for dir in [
        &["exercises"][..],
        &["solutions"][..],
        &["suites"][..],
        &["suites", "src"][..],
        &["suites", "tests"][..],
        &["course"][..],
    ] {
        let src = dir.iter().fold(from.clone(), |p, c| p.join(c));
        let dst = dir.iter().fold(to.to_path_buf(), |p, c| p.join(c));
        std::fs::create_dir_all(&dst).expect("create a directory of the copy");
        for entry in std::fs::read_dir(&src).expect("list the course").flatten() {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), dst.join(entry.file_name())).expect("copy a file");
            }
        }
    }
}

fn dev(root: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_synclings-course"))
        .arg("dev")
        .args(args)
        .env("SYNCLINGS_ROOT", root)
        .output()
        .expect("run the course runner");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).expect("read");
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn dev_check_names_the_missing_and_the_extra_entry_and_update_mends_the_lists() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dev-check-course");
    let _ = std::fs::remove_dir_all(&root);
    copy_tree(&root);
    let (ok, out) = dev(&root, &["check"]);
    assert!(ok, "the copy of the tree is in step: {out}");

    edit(
        &root.join("exercises").join("Cargo.toml"),
        "\n[[bin]]\nname = \"semaphore\"\npath = \"semaphore.rs\"\n",
        "",
    );
    edit(
        &root.join("suites").join("tests").join("library.rs"),
        "synclings_suites::event_suite!(synclings::Event);\n",
        "synclings_suites::event_suite!(synclings::Event);\nsynclings_suites::mutex_suite!(synclings::Mutex);\n",
    );
    for args in [&["check"][..], &["update", "--check"][..]] {
        let (ok, out) = dev(&root, args);
        assert!(!ok, "dev {args:?} passed an out-of-step tree: {out}");
        assert!(
            out.contains(
                "exercises/Cargo.toml: no entry for exercise `semaphore` of course/manifest.rs"
            ),
            "{out}"
        );
        assert!(
            out.contains("suites/tests/library.rs: `mutex` is not an exercise of course/manifest.rs (an extra entry)"),
            "{out}"
        );
    }

    // `dev update` writes both lists back from the manifest.
    let (ok, out) = dev(&root, &["update"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("wrote exercises/Cargo.toml") && out.contains("wrote suites/tests/library.rs"),
        "{out}"
    );
    let (ok, out) = dev(&root, &["check"]);
    assert!(ok, "{out}");
    std::fs::remove_dir_all(&root).expect("remove the copy");
}
