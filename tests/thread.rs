//! Integration tests of `synclings::thread`: names like Python's
//! `current_thread().name`. (`"MainThread"` is checked by the module's
//! doctest, which runs on a real main thread; test bodies do not.)
#![cfg(not(loom))]

use std::io::ErrorKind;

use synclings::testing::{within, DEADLINE};
use synclings::thread;

/// Joins `handle` under the deadline.
fn join<T: Send + 'static>(handle: thread::JoinHandle<T>) -> T {
    within(DEADLINE, "a spawned thread exits", move || {
        handle.join().unwrap()
    })
}

/// The `N` of a `Thread-N` name.
fn number(name: &str) -> u64 {
    name.strip_prefix("Thread-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name:?} is not Thread-N"))
}

#[test]
fn a_named_thread_knows_its_name() {
    let handle = thread::spawn_named("alex_1", thread::current_name).unwrap();
    assert_eq!(join(handle), "alex_1");
    let handle = thread::Builder::new()
        .name("with-builder")
        .stack_size(256 * 1024)
        .spawn(thread::current_name)
        .unwrap();
    assert_eq!(join(handle), "with-builder");
}

#[test]
fn unnamed_threads_are_numbered_thread_n_in_spawn_order() {
    // Other tests spawn too, so the numbers increase but need not be
    // consecutive.
    let first = number(&join(thread::spawn(thread::current_name).unwrap()));
    let second = number(&join(thread::spawn(thread::current_name).unwrap()));
    let third = number(&join(
        thread::Builder::new().spawn(thread::current_name).unwrap(),
    ));
    assert!(first >= 1, "numbering starts at 1, as in Python");
    assert!(first < second && second < third, "{first} {second} {third}");
}

#[test]
fn threads_started_elsewhere_keep_their_name_or_are_dummies() {
    let named = std::thread::Builder::new()
        .name("std-named".into())
        .spawn(thread::current_name)
        .unwrap();
    assert_eq!(
        within(DEADLINE, "std thread", move || named.join().unwrap()),
        "std-named"
    );
    let unnamed = std::thread::spawn(thread::current_name);
    let name = within(DEADLINE, "std thread", move || unnamed.join().unwrap());
    let number = name
        .strip_prefix("Dummy-")
        .expect("an unnamed foreign thread is Dummy-N");
    assert!(number.parse::<u64>().is_ok(), "{name}");
    // libtest names the thread running a test after the test; not the main thread.
    assert_ne!(thread::current_name(), "MainThread");
}

#[test]
fn a_name_with_a_nul_byte_is_an_error_not_a_panic() {
    let err = thread::spawn_named("bad\0name", || ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn spawned_threads_return_values_and_propagate_panics() {
    assert_eq!(join(thread::spawn(|| 6 * 7).unwrap()), 42);
    let panicking = thread::spawn_named("doomed", || panic!("boom")).unwrap();
    let result = within(DEADLINE, "a panicking thread", move || panicking.join());
    assert!(result.is_err());
}
