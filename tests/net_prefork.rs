//! The prefork model (`Model::Prefork`: worker processes on one listener)
//! through the same scenarios as every other model (`net_cases/`, shared
//! with `net_servers.rs`).
//!
//! `harness = false`: the workers are re-runs of this test binary, so `main`
//! calls `ipc::init(net::ENTRIES)` first (Unix only: `synclings::ipc` does
//! not exist elsewhere).

#[cfg(all(unix, not(loom)))]
#[path = "net_cases/mod.rs"]
#[macro_use]
mod net_cases;

/// The scenarios of [`for_each_case!`] as the runner's list, each on the
/// prefork model.
#[cfg(all(unix, not(loom)))]
macro_rules! prefork_tests {
    ($model:expr; $($(#[$meta:meta])* $name:ident: $case:ident,)*) => {
        const TESTS: &[synclings::testing::Test] = &[$(
            $(#[$meta])*
            (stringify!($name), {
                fn $name() {
                    if net_cases::runs_here($model) {
                        net_cases::$case($model);
                    }
                }
                $name
            }),
        )*];
    };
}

#[cfg(all(unix, not(loom)))]
for_each_case!(prefork_tests, synclings::net::Model::Prefork);

#[cfg(all(unix, not(loom)))]
fn main() -> std::process::ExitCode {
    synclings::ipc::init(synclings::net::ENTRIES);
    synclings::testing::run_tests(TESTS)
}

#[cfg(any(not(unix), loom))]
fn main() {
    // Under `--cfg loom` it is built by clippy only: servers are no loom model.
    println!("skipped: the prefork model needs Unix (synclings::ipc), and no --cfg loom");
}
