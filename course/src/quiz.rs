//! `cargo run -- quiz`: the seed exam's 34 questions, answered
//! (`course/quiz.rs` holds them), with what to run or read for each, and
//! the corrections where the exam's own answer is wrong or dated.
//!
//! Progress is saved: a question counts as seen once its answer was shown
//! (`.synclings/quiz` under the course root, out of git), and `quiz` offers
//! the next one not seen.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::demo;
use crate::exercises::root;

mod questions {
    include!("../quiz.rs");
}
pub use questions::{Question, QUESTIONS};

/// Where the progress is kept, under the course root.
fn progress_file(root: &Path) -> PathBuf {
    root.join(".synclings").join("quiz")
}

/// The numbers of the questions seen so far.
pub fn seen(root: &Path) -> BTreeSet<u32> {
    std::fs::read_to_string(progress_file(root))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Records question `number` as seen.
pub fn mark_seen(root: &Path, number: u32) -> Result<(), String> {
    let mut all = seen(root);
    if !all.insert(number) {
        return Ok(());
    }
    let file = progress_file(root);
    let dir = file.parent().expect("the progress file is in a directory");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text: Vec<String> = all.iter().map(u32::to_string).collect();
    std::fs::write(&file, text.join("\n") + "\n")
        .map_err(|e| format!("cannot save the quiz progress in {}: {e}", file.display()))
}

fn find(number: &str) -> Result<&'static Question, String> {
    number
        .parse::<u32>()
        .ok()
        .and_then(|n| QUESTIONS.iter().find(|q| q.number == n))
        .ok_or_else(|| {
            format!(
                "no question {number:?}: the exam's questions are 1 to {}",
                QUESTIONS.len()
            )
        })
}

/// `cargo run -- quiz [N | all | reset | demo NAME]`.
pub fn run(args: &[&str]) -> Result<bool, String> {
    let root = root();
    match args {
        [] => overview(&root),
        ["all"] => {
            for q in QUESTIONS {
                print!("{}", full(q));
            }
            Ok(true)
        }
        ["reset"] => {
            let file = progress_file(&root);
            if file.exists() {
                std::fs::remove_file(&file)
                    .map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
            }
            println!("Quiz progress forgotten: every question is unseen again.");
            Ok(true)
        }
        ["demo", name] => demo::run(name),
        ["demo"] => demo::run(""),
        [number] => {
            let q = find(number)?;
            print!("{}", full(q));
            mark_seen(&root, q.number)?;
            let seen = seen(&root);
            println!("({} of {} questions seen.)", seen.len(), QUESTIONS.len());
            Ok(true)
        }
        _ => Err("usage: cargo run -- quiz [N | all | reset | demo NAME]".to_owned()),
    }
}

fn overview(root: &Path) -> Result<bool, String> {
    let seen = seen(root);
    println!(
        "The exam, answered: {} questions ({} seen). Think of your answer, then show the exam's with `cargo run -- quiz N`.\n",
        QUESTIONS.len(),
        seen.len()
    );
    for q in QUESTIONS {
        let mark = if seen.contains(&q.number) { "✓" } else { " " };
        let fix = if q.correction.is_some() {
            "  (the exam's answer is corrected)"
        } else {
            ""
        };
        println!("  {mark} {:>2}. {}{fix}", q.number, q.asked);
    }
    match QUESTIONS.iter().find(|q| !seen.contains(&q.number)) {
        Some(q) => println!(
            "\nNext: question {}: {}\n  {}\n  Your answer first; then: cargo run -- quiz {}",
            q.number, q.asked, q.exam, q.number
        ),
        None => println!("\nEvery question seen. `cargo run -- quiz all` prints them all; `quiz reset` starts over."),
    }
    println!("Things to run: cargo run -- quiz demo (syscalls, blocked, interrupts).");
    Ok(true)
}

/// Question `q` with its answer, what shows it, and the correction.
pub fn full(q: &Question) -> String {
    let mut out = format!(
        "\nQuestion {} of {}: {}\n  exam:    {}\n\nAnswer: {}\n",
        q.number,
        QUESTIONS.len(),
        q.asked,
        q.exam,
        q.answer
    );
    if let Some(live) = live(q.number) {
        out.push_str(&format!("Computed here: {live}\n"));
    }
    out.push_str(&format!("See: {}\n", q.see));
    if let Some(fix) = q.correction {
        out.push_str(&format!("The exam's answer, corrected: {fix}\n"));
    }
    out
}

/// What the runner computes on the spot for a question.
fn live(number: u32) -> Option<String> {
    match number {
        26 => Some(match u8::from_str_radix("10001001", 2) {
            Ok(n) => format!("u8::from_str_radix(\"10001001\", 2) = {n}"),
            Err(e) => format!("u8::from_str_radix failed: {e}"),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_question_of_the_exam_is_answered() {
        // The seed exam has 34 questions; each is here once, in its order.
        assert_eq!(QUESTIONS.len(), 34, "34/34 questions");
        for (i, q) in QUESTIONS.iter().enumerate() {
            assert_eq!(
                q.number as usize,
                i + 1,
                "question {} is out of order",
                q.number
            );
            for (what, text) in [
                ("exam", q.exam),
                ("asked", q.asked),
                ("answer", q.answer),
                ("see", q.see),
            ] {
                assert!(
                    text.trim().len() >= 10,
                    "question {}: `{what}` is missing",
                    q.number
                );
            }
        }
        let distinct: BTreeSet<&str> = QUESTIONS.iter().map(|q| q.exam).collect();
        assert_eq!(
            distinct.len(),
            34,
            "two entries quote the same exam question"
        );
    }

    #[test]
    fn the_exams_known_mistakes_are_corrected() {
        let q26 = full(&QUESTIONS[25]);
        assert!(q26.contains("= 137"), "{q26}");
        assert!(QUESTIONS[25].correction.is_some_and(|c| c.contains("137")));
        assert!(QUESTIONS[24]
            .correction
            .is_some_and(|c| c.contains("ValueError")));
        assert!(QUESTIONS[14].see.contains("One readiness wait"));
    }

    #[test]
    fn progress_is_saved_and_forgotten_on_reset() {
        let root = std::env::temp_dir().join(format!("synclings-quiz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert!(seen(&root).is_empty());
        mark_seen(&root, 26).unwrap();
        mark_seen(&root, 3).unwrap();
        mark_seen(&root, 26).unwrap();
        assert_eq!(seen(&root).into_iter().collect::<Vec<_>>(), [3, 26]);
        std::fs::remove_dir_all(&root).unwrap();
        assert!(seen(&root).is_empty());
    }
}
