//! The watch mode, used the way a person uses it: the runner starts in a
//! pseudo-terminal on a copy of the course, the test edits the exercise file
//! and reads the screen (a `vt100` emulator renders what the runner drew),
//! and presses `h`, `n`, `r` (answering n, then y), `l` (with `f`, `j` and
//! Enter), `c` and `q`.
//!
//! Every wait has a deadline and ends as soon as the screen shows what it
//! waits for; none sleeps. The first run builds the course copy in a target
//! directory of its own, hence the long deadline of the first test run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

/// The course manifest, for the names and hints the screen must show.
#[allow(dead_code)]
mod manifest {
    include!("../manifest.rs");
}
use manifest::EXERCISES;

/// A wait that involves a cargo build of the copy (the first one compiles
/// the library).
const BUILD: Duration = Duration::from_secs(600);
/// Any other wait: the screen answers a key at once.
const SCREEN: Duration = Duration::from_secs(30);

const ROWS: u16 = 45;
const COLS: u16 = 130;

/// The course tree, copied (without build products) to `to`.
fn copy_course(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read the course root") {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&*name));
        if src.is_dir() {
            std::fs::create_dir_all(&dst).expect("create a directory of the copy");
            copy_course(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy a file of the course");
        }
    }
}

/// The runner in a pseudo-terminal, and the screen it draws.
struct Session {
    screen: Arc<Mutex<vt100::Parser>>,
    output: Receiver<()>,
    keys: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Session {
    fn start(root: &Path, target: &Path) -> Session {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_synclings-course"));
        cmd.cwd(root);
        cmd.env("SYNCLINGS_ROOT", root);
        cmd.env("CARGO_TARGET_DIR", target);
        cmd.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(cmd).expect("start the runner");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("read the terminal");
        let keys = pty.master.take_writer().expect("write to the terminal");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            ROWS.try_into().unwrap(),
            COLS.try_into().unwrap(),
            0,
        )));
        let (tx, output) = mpsc::channel();
        let parser = screen.clone();
        std::thread::spawn(move || {
            let _master = pty.master;
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                parser.lock().unwrap().process(&buf[..n]);
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
        Session {
            screen,
            output,
            keys,
            child,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until the screen shows `text`; fails with the screen if it does
    /// not within `deadline`.
    fn wait_for(&self, deadline: Duration, text: &str) -> String {
        let end = Instant::now() + deadline;
        loop {
            let screen = self.contents();
            if screen.contains(text) {
                return screen;
            }
            let left = end.saturating_duration_since(Instant::now());
            // Woken by each chunk the runner draws; the deadline bounds a
            // screen that never comes.
            match self.output.recv_timeout(left) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) if self.contents().contains(text) => continue,
                Err(RecvTimeoutError::Disconnected) => {}
            }
            panic!(
                "the screen never showed {text:?} within {deadline:?}; it shows:\n{}",
                self.contents()
            );
        }
    }

    fn press(&mut self, key: char) {
        write!(self.keys, "{key}").expect("type a key");
        self.keys.flush().expect("type a key");
    }
}

#[test]
fn watch_mode_reruns_on_save_and_answers_every_key() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("course/ is in the course root")
        .to_path_buf();
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let copy = tmp.join("watch-course");
    let _ = std::fs::remove_dir_all(copy.join("exercises"));
    copy_course(&root, &copy);
    // A target directory of the copy's own: cargo hashes a workspace's path
    // packages relative to its root, so the copy's `exercises` would share
    // (and clobber) the real tree's artifacts in the same target directory.
    let target = tmp.join("watch-target");
    let exercise = |name: &str| copy.join("exercises").join(format!("{name}.rs"));

    let mut s = Session::start(&copy, &target);
    let first = &EXERCISES[0];
    let second = &EXERCISES[1];
    s.wait_for(
        SCREEN,
        &format!("Exercise 1 of {}: {}", EXERCISES.len(), first.name),
    );
    s.wait_for(SCREEN, "is still the skeleton");

    // `n` before the exercise is done: refused.
    s.press('n');
    s.wait_for(SCREEN, "n moves on once this exercise is done");

    // Saving the solution re-runs the tests: done.
    let solution = std::fs::read(root.join("solutions").join(format!("{}.rs", first.name)))
        .expect("read the solution");
    std::fs::write(exercise(first.name), solution).expect("save the exercise");
    let screen = s.wait_for(
        BUILD,
        &format!("✓ {}: every test passes. Done!", first.name),
    );
    assert!(
        screen.contains("Progress [█") && screen.contains("] 1 of "),
        "{screen}"
    );

    // Two steps of hints: the nudge, then the walkthrough.
    s.press('h');
    s.wait_for(SCREEN, "Nudge:");
    assert!(!s.contents().contains("Walkthrough:"), "{}", s.contents());
    s.press('h');
    s.wait_for(SCREEN, "Walkthrough:");

    // `n` once done: the next exercise.
    s.press('n');
    s.wait_for(
        SCREEN,
        &format!("Exercise 2 of {}: {}", EXERCISES.len(), second.name),
    );
    s.wait_for(SCREEN, "is still the skeleton");

    // An edit of the current file re-runs its tests (the skeleton fails).
    let pristine = std::fs::read(exercise(second.name)).expect("read the skeleton");
    let mut edited = pristine.clone();
    edited.extend_from_slice(b"\n// my first edit\n");
    std::fs::write(exercise(second.name), &edited).expect("save the exercise");
    s.wait_for(BUILD, &format!("✗ {}:", second.name));

    // `r`, answered n: nothing changes.
    s.press('r');
    s.wait_for(SCREEN, "to its skeleton? Your edits are lost. (y/n)");
    s.press('n');
    s.wait_for(SCREEN, "Not reset:");
    assert_eq!(std::fs::read(exercise(second.name)).unwrap(), edited);

    // `r`, answered y: the skeleton is back.
    s.press('r');
    s.wait_for(SCREEN, "(y/n)");
    s.press('y');
    s.wait_for(SCREEN, "is back to its skeleton.");
    assert_eq!(std::fs::read(exercise(second.name)).unwrap(), pristine);
    s.wait_for(SCREEN, "is still the skeleton");

    // `l`: the list, with the first exercise done; `f` filters; `l` goes back.
    s.press('l');
    let screen = s.wait_for(SCREEN, "The exercises (showing: all):");
    assert!(
        screen.contains(&format!("{:<20} done", first.name)),
        "{screen}"
    );
    s.press('f');
    let screen = s.wait_for(SCREEN, "The exercises (showing: done):");
    assert!(!screen.contains(second.name), "{screen}");
    s.press('l');
    s.wait_for(SCREEN, &format!("Exercise 2 of {}", EXERCISES.len()));

    // In the list, `j` moves down and Enter jumps there.
    s.press('l');
    s.wait_for(SCREEN, "The exercises (showing: all):");
    s.press('j');
    s.wait_for(SCREEN, &format!(">  3. {}", EXERCISES[2].name));
    s.press('\r');
    s.wait_for(
        SCREEN,
        &format!("Exercise 3 of {}: {}", EXERCISES.len(), EXERCISES[2].name),
    );

    // `c` checks every exercise (the first is still done).
    s.press('c');
    let screen = s.wait_for(BUILD, "Checked every exercise.");
    assert!(screen.contains("] 1 of "), "{screen}");

    // `q`: the runner exits, and succeeds.
    s.press('q');
    let child = s.child;
    let status = synclings::testing::within(SCREEN, "the runner exits on q", move || {
        let mut child = child;
        child.wait().expect("wait for the runner")
    });
    assert!(status.success(), "the runner exited with {status:?}");
}
