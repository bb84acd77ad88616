//! The watch mode's screen: what it shows ([`Screen::of`], plain lines, so
//! that it can be read and tested without a terminal) and the terminal it is
//! drawn on ([`Terminal`], `crossterm`: raw mode and the alternate screen,
//! restored on every way out, a panic included).

use std::io::{IsTerminal, Write};

use crossterm::style::{Attribute, Color, Print, ResetColor, SetAttribute, SetForegroundColor};
use crossterm::{cursor, queue, terminal};

use crate::exercises::{self, Status, TestRun};
use crate::manifest::EXERCISES;
use crate::watch::{State, View};

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// As it is.
    Plain,
    /// Bold: titles.
    Title,
    /// Green: passed.
    Good,
    /// Red: failed.
    Bad,
    /// Grey: compiler and test output, the keys.
    Dim,
}

/// The lines of one screen, top to bottom, and how many rows they may fill.
pub struct Screen {
    /// The lines and their tone.
    pub lines: Vec<(String, Tone)>,
}

/// The keys of each page.
const EXERCISE_KEYS: &str = "h hint · n next · l list · r reset · c check all · q quit";
const LIST_KEYS: &str = "↑/↓ (j/k) move · f filter · Enter jump · l back";

impl Screen {
    /// What `state` looks like on a terminal of `width` × `height`.
    pub fn of(state: &State) -> Screen {
        let (width, height) = terminal::size().unwrap_or((80, 24));
        Screen::sized(
            state,
            usize::from(width.max(20)),
            usize::from(height.max(10)),
        )
    }

    /// [`Screen::of`] for a given size.
    pub fn sized(state: &State, width: usize, height: usize) -> Screen {
        let mut lines = vec![
            (
                "synclings — Python's concurrency, rebuilt in Rust".to_owned(),
                Tone::Title,
            ),
            (progress_bar(state, width), Tone::Plain),
            (String::new(), Tone::Plain),
        ];
        match state.view {
            View::List { cursor, filter } => {
                lines.push((
                    format!("The exercises (showing: {}):", filter.name()),
                    Tone::Title,
                ));
                let rows: Vec<usize> = (0..EXERCISES.len())
                    .filter(|&i| filter.shows(state.statuses[i].as_ref()))
                    .collect();
                let room = height.saturating_sub(lines.len() + 3).max(1);
                let at = rows.iter().position(|&i| i == cursor).unwrap_or(0);
                let first = at
                    .saturating_sub(room / 2)
                    .min(rows.len().saturating_sub(room));
                for &i in rows.iter().skip(first).take(room) {
                    let e = &EXERCISES[i];
                    let status = state.statuses[i]
                        .as_ref()
                        .map_or("not checked yet".to_owned(), Status::describe);
                    let mark = if i == cursor { ">" } else { " " };
                    let tone = match state.statuses[i] {
                        Some(Status::Done) => Tone::Good,
                        Some(Status::Unavailable(_)) => Tone::Dim,
                        _ => Tone::Plain,
                    };
                    lines.push((
                        format!(
                            "{mark} {:>2}. {:<20} {:<28} {}",
                            e.number, e.name, status, e.title
                        ),
                        tone,
                    ));
                }
                if rows.is_empty() {
                    lines.push(("  (none)".to_owned(), Tone::Dim));
                }
                lines.push((String::new(), Tone::Plain));
                lines.push((LIST_KEYS.to_owned(), Tone::Dim));
            }
            View::Exercise | View::ConfirmReset => exercise_page(state, width, height, &mut lines),
        }
        for (line, _) in lines.iter_mut() {
            if line.chars().count() > width {
                *line = line.chars().take(width).collect();
            }
        }
        lines.truncate(height);
        Screen { lines }
    }
}

fn progress_bar(state: &State, width: usize) -> String {
    let (done, available) = state.progress();
    let label = format!(" {done} of {available} done");
    let cells = width.saturating_sub(label.len() + 12).clamp(10, 50);
    let full = (done * cells).checked_div(available).unwrap_or(0);
    format!(
        "Progress [{}{}]{label}",
        "█".repeat(full),
        "░".repeat(cells - full)
    )
}

fn exercise_page(state: &State, width: usize, height: usize, lines: &mut Vec<(String, Tone)>) {
    let e = state.exercise();
    let file = exercises::shown("exercises", e.name);
    lines.push((
        format!(
            "Exercise {} of {}: {} — {}",
            e.number,
            EXERCISES.len(),
            e.name,
            e.title
        ),
        Tone::Title,
    ));
    lines.push((format!("Mirrors: {}", e.mirrors), Tone::Plain));
    lines.push((
        format!("Edit {file} and save it: its tests re-run on every save."),
        Tone::Plain,
    ));
    lines.push((String::new(), Tone::Plain));

    let mut result: Vec<(String, Tone)> = Vec::new();
    let mut output: Vec<String> = Vec::new();
    if let Some(left) = state.checking_all {
        result.push((
            format!("… checking every exercise ({left} to go)"),
            Tone::Dim,
        ));
    } else if state.running {
        result.push((
            format!(
                "… running the tests: cargo test -p exercises --bin {}",
                e.name
            ),
            Tone::Dim,
        ));
    } else {
        match (&state.statuses[state.current], &state.run) {
            (Some(Status::NotStarted), _) => result.push((
                format!("Not started: {file} is still the skeleton. Edit it, then save."),
                Tone::Plain,
            )),
            (Some(Status::Unavailable(p)), _) => result.push((
                format!(
                    "This exercise {}: this platform cannot build it.",
                    crate::platform::needs_text(p)
                ),
                Tone::Dim,
            )),
            (_, Some(run)) => {
                let tone = if run.passed { Tone::Good } else { Tone::Bad };
                result.extend(exercises::verdict(e, run).into_iter().map(|l| (l, tone)));
                if !run.passed {
                    output = excerpt(run);
                }
            }
            (Some(status), None) => result.push((status.describe(), Tone::Plain)),
            (None, None) => {}
        }
    }

    let mut tail: Vec<(String, Tone)> = Vec::new();
    if state.hint >= 1 {
        tail.push((String::new(), Tone::Plain));
        for l in wrap(&format!("Nudge: {}", e.nudge), width) {
            tail.push((l, Tone::Plain));
        }
    }
    if state.hint >= 2 {
        tail.push((String::new(), Tone::Plain));
        for l in wrap(&format!("Walkthrough: {}", e.walkthrough), width) {
            tail.push((l, Tone::Plain));
        }
    }
    tail.push((String::new(), Tone::Plain));
    if state.view == View::ConfirmReset {
        tail.push((
            format!("Reset {file} to its skeleton? Your edits are lost. (y/n)"),
            Tone::Bad,
        ));
    } else if let Some(message) = &state.message {
        tail.push((message.clone(), Tone::Title));
    }
    let keys = if state.hint == 1 {
        EXERCISE_KEYS.replace("h hint", "h walkthrough")
    } else {
        EXERCISE_KEYS.to_owned()
    };
    tail.push((keys, Tone::Dim));

    let room = height.saturating_sub(lines.len() + result.len() + tail.len());
    lines.extend(result);
    lines.extend(output.into_iter().take(room).map(|l| (l, Tone::Dim)));
    lines.extend(tail);
}

/// The part of cargo's output that says what went wrong: the compiler's
/// errors, or the failing tests' panics (without the backtrace notes).
fn excerpt(run: &TestRun) -> Vec<String> {
    let lines: Vec<&str> = run.output.lines().collect();
    let start = if run.compiled {
        lines.iter().position(|l| l.starts_with("---- "))
    } else {
        lines.iter().position(|l| l.starts_with("error"))
    };
    let Some(start) = start else {
        return Vec::new();
    };
    lines[start..]
        .iter()
        .take_while(|l| !(run.compiled && l.trim() == "failures:"))
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .map(|l| format!("  {l}"))
        .collect()
}

/// `text` in lines of at most `width` characters, broken at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The terminal in raw mode on its alternate screen; dropping it gives the
/// learner's terminal back as it was.
pub struct Terminal {
    out: std::io::Stdout,
}

impl Terminal {
    /// The terminal, or `None` where there is none that can do this (piped
    /// or redirected, `TERM=dumb`, raw mode refused): the plain list then.
    pub fn open() -> Option<Terminal> {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if dumb || !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return None;
        }
        terminal::enable_raw_mode().ok()?;
        let mut out = std::io::stdout();
        if queue!(out, terminal::EnterAlternateScreen, cursor::Hide).is_err()
            || out.flush().is_err()
        {
            let _ = terminal::disable_raw_mode();
            return None;
        }
        // A panic prints its message after leaving the alternate screen,
        // where the learner can read it.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore(&mut std::io::stdout());
            previous(info);
        }));
        Some(Terminal { out })
    }

    /// Draws `screen` over the previous one.
    pub fn draw(&mut self, screen: &Screen) {
        let _ = self.try_draw(screen);
    }

    fn try_draw(&mut self, screen: &Screen) -> std::io::Result<()> {
        queue!(self.out, terminal::Clear(terminal::ClearType::All))?;
        for (row, (line, tone)) in screen.lines.iter().enumerate() {
            queue!(self.out, cursor::MoveTo(0, row as u16))?;
            match tone {
                Tone::Plain => {}
                Tone::Title => queue!(self.out, SetAttribute(Attribute::Bold))?,
                Tone::Good => queue!(self.out, SetForegroundColor(Color::Green))?,
                Tone::Bad => queue!(self.out, SetForegroundColor(Color::Red))?,
                Tone::Dim => queue!(self.out, SetForegroundColor(Color::DarkGrey))?,
            }
            queue!(
                self.out,
                Print(line),
                SetAttribute(Attribute::Reset),
                ResetColor
            )?;
        }
        self.out.flush()
    }
}

/// Gives the terminal back: the cursor, the normal screen, cooked mode.
fn restore(out: &mut std::io::Stdout) {
    let _ = queue!(out, cursor::Show, terminal::LeaveAlternateScreen);
    let _ = out.flush();
    let _ = terminal::disable_raw_mode();
}

impl Drop for Terminal {
    fn drop(&mut self) {
        restore(&mut self.out);
    }
}
