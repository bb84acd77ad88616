//! What this platform can run: the manifest's capabilities, evaluated here.
//!
//! A capability's platforms are a Cargo `cfg(...)` predicate
//! ([`Platforms::cfg`]): the same text turns its feature on in
//! exercises/Cargo.toml and solutions/Cargo.toml (so Cargo builds the
//! exercises that need it only there), and the runner evaluates it for the
//! machine it runs on, so that such an exercise is listed as "needs ..."
//! instead of failing to build. One predicate, no second copy.

use crate::manifest::{Capability, Exercise, Platforms, CAPABILITIES};

/// The platform entry of `capability`.
pub fn platforms(capability: Capability) -> &'static Platforms {
    CAPABILITIES
        .iter()
        .find(|p| p.capability == capability)
        .expect("every Capability has its line in CAPABILITIES")
}

/// The first capability `e` needs that this machine lacks, if any.
pub fn missing(e: &Exercise) -> Option<&'static Platforms> {
    e.needs
        .iter()
        .map(|&c| platforms(c))
        .find(|p| !holds(p.cfg, std::env::consts::OS, std::env::consts::FAMILY))
}

/// "needs Linux (on Windows: use WSL)", for the lists.
pub fn needs_text(p: &Platforms) -> String {
    format!("needs {}", p.names)
}

/// Whether the cfg predicate `expr` (`unix`, `windows`, `target_os = "x"`,
/// `target_family = "x"`, `any(..)`, `all(..)`, `not(..)`) holds on the
/// target `os`/`family` (the values of `std::env::consts`). An expression it
/// cannot read is false (the capability is then missing, never assumed).
pub fn holds(expr: &str, os: &str, family: &str) -> bool {
    let mut parser = Parser {
        rest: expr,
        os,
        family,
    };
    match parser.predicate() {
        Some(value) if parser.rest.trim().is_empty() => value,
        _ => false,
    }
}

struct Parser<'a> {
    rest: &'a str,
    os: &'a str,
    family: &'a str,
}

impl Parser<'_> {
    fn eat(&mut self, token: &str) -> bool {
        let trimmed = self.rest.trim_start();
        match trimmed.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn ident(&mut self) -> Option<&str> {
        let trimmed = self.rest.trim_start();
        let len = trimmed
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(trimmed.len());
        if len == 0 {
            return None;
        }
        let (ident, rest) = trimmed.split_at(len);
        self.rest = rest;
        Some(ident)
    }

    fn string(&mut self) -> Option<String> {
        if !self.eat("\"") {
            return None;
        }
        let end = self.rest.find('"')?;
        let value = self.rest[..end].to_owned();
        self.rest = &self.rest[end + 1..];
        Some(value)
    }

    fn list(&mut self) -> Option<Vec<bool>> {
        if !self.eat("(") {
            return None;
        }
        let mut values = Vec::new();
        loop {
            if self.eat(")") {
                return Some(values);
            }
            values.push(self.predicate()?);
            if !self.eat(",") && !self.rest.trim_start().starts_with(')') {
                return None;
            }
        }
    }

    fn predicate(&mut self) -> Option<bool> {
        let ident = self.ident()?.to_owned();
        match ident.as_str() {
            "any" => Some(self.list()?.into_iter().any(|v| v)),
            "all" => Some(self.list()?.into_iter().all(|v| v)),
            "not" => match self.list()?.as_slice() {
                [value] => Some(!value),
                _ => None,
            },
            "unix" | "windows" => Some(self.family == ident),
            key if self.eat("=") => {
                let value = self.string()?;
                match key {
                    "target_os" => Some(self.os == value),
                    "target_family" => Some(self.family == value),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::holds;

    #[test]
    fn reads_the_predicates_the_manifest_uses() {
        assert!(holds("target_os = \"linux\"", "linux", "unix"));
        assert!(!holds("target_os = \"linux\"", "macos", "unix"));
        assert!(holds("unix", "freebsd", "unix"));
        assert!(!holds("unix", "windows", "windows"));
        assert!(holds("windows", "windows", "windows"));
        assert!(holds("all()", "windows", "windows"));
        assert!(!holds("any()", "linux", "unix"));
        assert!(holds(
            "any(target_os = \"linux\", target_os = \"macos\")",
            "macos",
            "unix"
        ));
        assert!(holds(
            "all(unix, not(target_os = \"macos\"))",
            "linux",
            "unix"
        ));
        assert!(!holds(
            "all(unix, not(target_os = \"macos\"))",
            "macos",
            "unix"
        ));
        assert!(holds("target_family = \"unix\"", "netbsd", "unix"));
    }

    #[test]
    fn an_unreadable_predicate_is_false() {
        assert!(!holds("target_os = linux", "linux", "unix"));
        assert!(!holds("feature = \"x\"", "linux", "unix"));
        assert!(!holds("unix)", "linux", "unix"));
        assert!(!holds("", "linux", "unix"));
    }
}
