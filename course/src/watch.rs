//! The watch mode: `cargo run` in a terminal.
//!
//! The current exercise's tests re-run whenever its file is saved (debounced:
//! a burst of writes is one run; saves of other files are ignored), and the
//! screen shows the result, a progress bar, the file to edit and the keys:
//! `h` hint (a nudge, then the walkthrough), `n` next (once the exercise is
//! done), `l` the list (move, filter done/pending, jump), `r` reset (asks
//! y/n), `c` check all, `q` quit.
//!
//! Three sources feed one channel, and the loop blocks on it: a thread
//! reading the terminal's keys (`crossterm`), the file watcher (`notify`),
//! and the thread running the tests. Drawing is [`crate::screen`]'s job.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::exercises::{self, Status, TestRun};
use crate::manifest::{Exercise, EXERCISES};
use crate::screen::{Screen, Terminal};

/// A burst of writes to the file closer together than this is one save.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// What the loop waits for.
enum Msg {
    /// A key was pressed (or the terminal was resized: `None`).
    Key(Option<KeyEvent>),
    /// These files were written.
    Saved(Vec<PathBuf>),
    /// A status is known (with the test run that decided it, if any).
    Checked {
        index: usize,
        status: Status,
        run: Option<TestRun>,
    },
    /// The worker is through a batch of checks (`all`: every exercise).
    BatchDone { all: bool },
    /// The terminal cannot be read any more.
    InputGone,
}

/// Which page is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The current exercise.
    Exercise,
    /// The list: the selected row and the filter.
    List { cursor: usize, filter: Filter },
    /// "Reset the file? (y/n)".
    ConfirmReset,
}

/// Which exercises the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Every exercise.
    All,
    /// The done ones.
    Done,
    /// The others.
    Pending,
}

impl Filter {
    fn next(self) -> Filter {
        match self {
            Filter::All => Filter::Done,
            Filter::Done => Filter::Pending,
            Filter::Pending => Filter::All,
        }
    }

    /// Whether the list shows an exercise with `status`.
    pub fn shows(self, status: Option<&Status>) -> bool {
        match self {
            Filter::All => true,
            Filter::Done => status == Some(&Status::Done),
            Filter::Pending => status != Some(&Status::Done),
        }
    }

    /// The filter's name on screen.
    pub fn name(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Done => "done",
            Filter::Pending => "pending",
        }
    }
}

/// Everything the screen shows.
pub struct State {
    /// The index of the current exercise in [`EXERCISES`].
    pub current: usize,
    /// What is known of each exercise (`None`: not checked yet).
    pub statuses: Vec<Option<Status>>,
    /// The last test run of the current exercise.
    pub run: Option<TestRun>,
    /// True while the current exercise's tests run.
    pub running: bool,
    /// While the worker checks every exercise: how many are left.
    pub checking_all: Option<usize>,
    /// 0: no hint shown; 1: the nudge; 2: the walkthrough too.
    pub hint: u8,
    /// The page on screen.
    pub view: View,
    /// A line for the learner about the last key (cleared by the next).
    pub message: Option<String>,
}

impl State {
    /// The current exercise.
    pub fn exercise(&self) -> &'static Exercise {
        &EXERCISES[self.current]
    }

    /// How many exercises are done, of how many this platform can run.
    pub fn progress(&self) -> (usize, usize) {
        let done = self
            .statuses
            .iter()
            .filter(|s| **s == Some(Status::Done))
            .count();
        let available = self
            .statuses
            .iter()
            .filter(|s| !matches!(s, Some(Status::Unavailable(_))))
            .count();
        (done, available)
    }

    /// The first exercise at or after `from` (in course order, wrapping)
    /// that is neither done nor unavailable here.
    fn next_pending(&self, from: usize) -> Option<usize> {
        (0..EXERCISES.len())
            .map(|i| (from + i) % EXERCISES.len())
            .find(|&i| {
                !matches!(
                    self.statuses[i],
                    Some(Status::Done) | Some(Status::Unavailable(_))
                )
            })
    }
}

/// Runs the watch mode until `q`; `Ok(false)` if the terminal cannot do it
/// (the caller then prints the plain list).
pub fn run() -> Result<bool, String> {
    let Some(mut terminal) = Terminal::open() else {
        return Ok(false);
    };
    let (tx, rx) = mpsc::channel();
    let dir = exercises::root().join("exercises");
    let watcher_tx = tx.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_)) {
                let _ = watcher_tx.send(Msg::Saved(event.paths));
            }
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    spawn_input(tx.clone());

    let mut state = State {
        current: 0,
        statuses: vec![None; EXERCISES.len()],
        run: None,
        running: false,
        checking_all: Some(EXERCISES.len()),
        hint: 0,
        view: View::Exercise,
        message: Some("Checking where you are…".to_owned()),
    };
    let mut worker = Worker::new(tx);
    worker.check_all();
    let mut first_batch = true;
    let mut save_due: Option<Instant> = None;
    loop {
        terminal.draw(&Screen::of(&state));
        let msg = match save_due {
            Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(msg) => msg,
                Err(RecvTimeoutError::Timeout) => {
                    save_due = None;
                    start_run(&mut state, &mut worker);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(true),
            },
            None => match rx.recv() {
                Ok(msg) => msg,
                Err(_) => return Ok(true),
            },
        };
        match msg {
            Msg::InputGone => return Ok(true),
            Msg::Key(None) => {}
            Msg::Key(Some(key)) => {
                if !on_key(&mut state, &mut worker, key)? {
                    return Ok(true);
                }
            }
            Msg::Saved(paths) => {
                let file = exercises::exercise_file(state.exercise().name);
                if paths.iter().any(|p| p.file_name() == file.file_name()) {
                    save_due = Some(Instant::now() + DEBOUNCE);
                }
            }
            Msg::Checked { index, status, run } => {
                state.statuses[index] = Some(status.clone());
                if let Some(left) = state.checking_all.as_mut() {
                    *left = left.saturating_sub(1);
                }
                if index == state.current && state.checking_all.is_none() {
                    state.running = false;
                    if status == Status::Done {
                        state.message = Some("✓ Done! Press n for the next exercise.".to_owned());
                    }
                    state.run = run;
                } else if index == state.current {
                    state.run = run;
                }
            }
            Msg::BatchDone { all } => {
                state.running = false;
                if all && state.checking_all.take().is_some() {
                    if first_batch {
                        state.current = state.next_pending(0).unwrap_or(0);
                        state.run = None;
                        state.message = None;
                        start_run(&mut state, &mut worker);
                    } else {
                        state.message = Some("Checked every exercise.".to_owned());
                    }
                    first_batch = false;
                }
            }
        }
    }
}

/// Re-runs the current exercise's tests.
fn start_run(state: &mut State, worker: &mut Worker) {
    state.running = true;
    worker.check(state.current);
}

/// Handles one key; false means quit.
fn on_key(state: &mut State, worker: &mut Worker, key: KeyEvent) -> Result<bool, String> {
    if key.kind == KeyEventKind::Release {
        return Ok(true);
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return Ok(false);
    }
    state.message = None;
    match state.view {
        View::ConfirmReset => {
            state.view = View::Exercise;
            let file = exercises::shown("exercises", state.exercise().name);
            if key.code == KeyCode::Char('y') {
                exercises::restore(state.exercise())?;
                state.hint = 0;
                state.message = Some(format!("{file} is back to its skeleton."));
                start_run(state, worker);
            } else {
                state.message = Some(format!("Not reset: {file} keeps your edits."));
            }
        }
        View::List { cursor, filter } => on_list_key(state, worker, key.code, cursor, filter),
        View::Exercise => match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Ok(false),
            KeyCode::Char('h') => state.hint = (state.hint + 1).min(2),
            KeyCode::Char('n') => {
                if state.statuses[state.current] == Some(Status::Done) {
                    match state.next_pending(state.current + 1) {
                        Some(next) => go_to(state, worker, next),
                        None => {
                            state.message =
                                Some("Every exercise is done: compare with solutions/.".to_owned())
                        }
                    }
                } else {
                    state.message = Some(
                        "n moves on once this exercise is done (l lists them all).".to_owned(),
                    );
                }
            }
            KeyCode::Char('l') => {
                state.view = View::List {
                    cursor: state.current,
                    filter: Filter::All,
                }
            }
            KeyCode::Char('r') => state.view = View::ConfirmReset,
            KeyCode::Char('c') => {
                state.checking_all = Some(EXERCISES.len());
                worker.check_all();
            }
            _ => {}
        },
    }
    Ok(true)
}

fn on_list_key(
    state: &mut State,
    worker: &mut Worker,
    code: KeyCode,
    cursor: usize,
    filter: Filter,
) {
    let shown: Vec<usize> = (0..EXERCISES.len())
        .filter(|&i| filter.shows(state.statuses[i].as_ref()))
        .collect();
    let at = shown.iter().position(|&i| i == cursor);
    let view = |cursor| View::List { cursor, filter };
    state.view = match code {
        KeyCode::Up | KeyCode::Char('k') => view(
            at.and_then(|a| shown.get(a.checked_sub(1)?))
                .copied()
                .unwrap_or(cursor),
        ),
        KeyCode::Down | KeyCode::Char('j') => {
            view(at.and_then(|a| shown.get(a + 1)).copied().unwrap_or(cursor))
        }
        KeyCode::Char('f') => {
            let filter = filter.next();
            let first = (0..EXERCISES.len()).find(|&i| filter.shows(state.statuses[i].as_ref()));
            View::List {
                cursor: first.unwrap_or(cursor),
                filter,
            }
        }
        KeyCode::Enter if at.is_some() => {
            go_to(state, worker, cursor);
            View::Exercise
        }
        KeyCode::Esc | KeyCode::Char('l') | KeyCode::Char('q') => View::Exercise,
        _ => view(cursor),
    };
}

/// Makes exercise `index` the current one and checks it.
fn go_to(state: &mut State, worker: &mut Worker, index: usize) {
    state.current = index;
    state.hint = 0;
    state.run = None;
    start_run(state, worker);
}

/// Reads the terminal's keys on a thread of its own.
fn spawn_input(tx: Sender<Msg>) {
    std::thread::spawn(move || loop {
        let msg = match crossterm::event::read() {
            Ok(Event::Key(key)) => Msg::Key(Some(key)),
            Ok(Event::Resize(..)) => Msg::Key(None),
            Ok(_) => continue,
            Err(_) => Msg::InputGone,
        };
        let gone = matches!(msg, Msg::InputGone);
        if tx.send(msg).is_err() || gone {
            return;
        }
    });
}

/// Runs checks one batch at a time on its own thread (never two cargo runs
/// at once); a batch asked for while one runs waits its turn.
struct Worker {
    jobs: Sender<(Vec<usize>, bool)>,
}

impl Worker {
    fn new(tx: Sender<Msg>) -> Worker {
        let (jobs, queue): (Sender<(Vec<usize>, bool)>, Receiver<_>) = mpsc::channel();
        std::thread::spawn(move || {
            for (batch, all) in queue {
                for index in batch {
                    let e = &EXERCISES[index];
                    let (status, run) = match exercises::quick_status(e) {
                        Ok(Some(status)) => (status, None),
                        Ok(None) => match exercises::run_tests("exercises", e.name, false) {
                            Ok(run) => (run.status(), Some(run)),
                            Err(why) => (Status::Failing(why), None),
                        },
                        Err(why) => (Status::Failing(why), None),
                    };
                    if tx.send(Msg::Checked { index, status, run }).is_err() {
                        return;
                    }
                }
                if tx.send(Msg::BatchDone { all }).is_err() {
                    return;
                }
            }
        });
        Worker { jobs }
    }

    /// Checks exercise `index`.
    fn check(&mut self, index: usize) {
        let _ = self.jobs.send((vec![index], false));
    }

    /// Checks every exercise, in order.
    fn check_all(&mut self) {
        let _ = self.jobs.send(((0..EXERCISES.len()).collect(), true));
    }
}
