//! Command-line plumbing shared by `echo-server`, `echo-client` and
//! `echo-bench` (each includes this file with `#[path]`): `--flag value` and
//! `--flag=value`, and one way to report a bad command line.

use std::process::ExitCode;

/// The next argument as a flag and, for `--flag=value`, its inline value.
pub fn next_flag(args: &mut impl Iterator<Item = String>) -> Option<(String, Option<String>)> {
    let arg = args.next()?;
    Some(match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
        _ => (arg, None),
    })
}

/// The value of `flag`: its inline value, else the next argument; an error
/// saying that `flag` expects `what` if there is none.
pub fn value(
    flag: &str,
    inline: &Option<String>,
    args: &mut impl Iterator<Item = String>,
    what: &str,
) -> Result<String, String> {
    inline
        .clone()
        .or_else(|| args.next())
        .ok_or_else(|| format!("{flag} expects {what}"))
}

/// What `parse` made of the command line: the options, or the exit code
/// after printing the help (`Ok(None)`, exit 0) or the error (exit 2).
pub fn options<T>(
    name: &str,
    usage: &str,
    parsed: Result<Option<T>, String>,
) -> Result<T, ExitCode> {
    match parsed {
        Ok(Some(options)) => Ok(options),
        Ok(None) => {
            print!("{usage}");
            Err(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("{name}: error: {message}");
            eprintln!("run `{name} --help` for the options");
            Err(ExitCode::from(2))
        }
    }
}

/// The argument as it was given (`--flag=value` or `flag`), for messages.
pub fn as_given(flag: &str, inline: &Option<String>) -> String {
    match inline {
        Some(value) => format!("{flag}={value}"),
        None => flag.to_owned(),
    }
}
