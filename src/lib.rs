//! # synclings
//!
//! Python's concurrency primitives rebuilt in Rust.

#![warn(missing_docs)]

pub mod sync;
pub mod testing;
