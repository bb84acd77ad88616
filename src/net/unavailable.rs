//! The raw `select(2)` and `poll(2)` loops where they do not exist (every
//! platform but Unix): their models are an `Unsupported` error.

use std::io;

use super::Model;

fn unavailable(model: Model) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the {model} model is a raw {model}(2) loop, which is built on Unix only: \
             use --model selector (its DefaultSelector is the platform's best)"
        ),
    )
}

macro_rules! unavailable_model {
    ($module:ident, $model:expr) => {
        pub(crate) mod $module {
            use std::io;
            use std::net::TcpListener;

            use crate::net::{ServerConfig, ServerStats, Shutdown};

            /// Fails: see the module docs.
            pub(crate) fn serve(
                _listener: TcpListener,
                _config: &ServerConfig,
                _shutdown: &Shutdown,
            ) -> io::Result<ServerStats> {
                Err(super::unavailable($model))
            }
        }
    };
}

unavailable_model!(select_loop, super::Model::Select);
unavailable_model!(poll_loop, super::Model::Poll);
