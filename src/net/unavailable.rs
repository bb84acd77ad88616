//! What a model that this platform lacks answers: the raw `select(2)` and
//! `poll(2)` loops, the asyncio server and the pre-forked server need Unix,
//! signal-driven IO and io_uring need Linux. The model table (`net/mod.rs`)
//! puts this error in their place.

use std::io;

use super::Model;

/// `Unsupported`, naming the model, what it needs, and what to run instead.
pub(crate) fn error(model: Model) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the {model} model needs {}, which this platform is not: use --model selector \
             (its DefaultSelector is the platform's best)",
            model.needs()
        ),
    )
}
