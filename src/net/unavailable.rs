//! The models that are built on Unix only, where they do not exist: the raw
//! `select(2)` and `poll(2)` loops, and the asyncio server (its reactor keys
//! sources by file descriptor). Their models are an `Unsupported` error.

use std::io;

use super::Model;

fn unavailable(model: Model) -> io::Error {
    let what = match model {
        Model::Asyncio => "synclings::asyncio, which is built on Unix only".to_string(),
        _ => format!("a raw {model}(2) loop, which is built on Unix only"),
    };
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "the {model} model is {what}: use --model selector (its DefaultSelector is the \
             platform's best)"
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
unavailable_model!(asyncio_server, super::Model::Asyncio);
