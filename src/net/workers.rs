//! Pre-forked worker processes on one listening socket, supervised: what the
//! prefork model ([`super::prefork`]) and
//! [`ForkingTcpServer`](super::socketserver::ForkingTcpServer) share.
//!
//! - **Started with [`ipc::Process`]** (a fresh run of the same binary: the
//!   "spawn" method; `fork` alone is unsafe in a threaded program). The
//!   caller's `spawn` function gets the worker's two [`Handles`] (its
//!   control connection and the listener) and starts the process with its
//!   own entry and arguments.
//! - **One listener**: the parent keeps it bound (the port never changes,
//!   even while a worker is replaced) and passes a duplicate to each worker,
//!   inside a [`Connection`] (the handle `ipc` passes descriptors in).
//! - **Ready, then supervised**: [`Supervisor::start`] returns once every
//!   worker said it is serving (a worker that cannot start is an error, not
//!   an endless restart). Afterwards a worker says nothing until told to
//!   stop: its control connection turning readable means it died; it is
//!   replaced and counted.
//! - **Stop**: on the shutdown the parent sends `Stop` to every worker and
//!   collects each one's answer (its counts); a worker that does not answer
//!   within [`STOP_LIMIT`] is killed. A worker whose parent dies sees its
//!   control connection close and stops too.

use std::io;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Shutdown;
use crate::ipc::{self, Connection, Process};
use crate::selector::{DefaultSelector, Interest};

/// How long the parent waits for a worker to say it is ready, and for its
/// counts at the shutdown, before killing it.
pub(crate) const STOP_LIMIT: Duration = Duration::from_secs(10);

/// What the parent says on a worker's control connection.
#[derive(Serialize, Deserialize, Debug)]
enum Control {
    Stop,
}

/// What a worker says first on its control connection.
#[derive(Serialize, Deserialize, Debug)]
struct Ready;

/// A worker's ends: its control connection and the listener (its descriptor
/// rides in a `Connection`; [`WorkerSide::start`] takes it back out).
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct Handles {
    pub(crate) control: Connection,
    pub(crate) listener: Connection,
}

/// Starts one worker process from its handles.
pub(crate) type Spawn<'a> = Box<dyn Fn(Handles) -> io::Result<Process> + Send + 'a>;

/// A running worker and the parent's end of its control connection.
struct Worker {
    process: Process,
    control: Connection,
}

/// The parent's side: the workers, started and ready.
pub(crate) struct Supervisor<'a> {
    listener: TcpListener,
    spawn: Spawn<'a>,
    workers: Vec<Worker>,
    replaced: Arc<AtomicU64>,
}

impl<'a> Supervisor<'a> {
    /// Starts `count` workers on `listener` and waits until each is ready;
    /// `replaced` counts the workers replaced from then on.
    pub(crate) fn start(
        listener: TcpListener,
        count: usize,
        spawn: Spawn<'a>,
        replaced: Arc<AtomicU64>,
    ) -> io::Result<Supervisor<'a>> {
        let mut sup = Supervisor {
            listener,
            spawn,
            workers: Vec::with_capacity(count),
            replaced,
        };
        for _ in 0..count {
            let w = sup.start_one()?;
            sup.workers.push(w);
        }
        Ok(sup)
    }

    /// One worker, started and ready (or an error naming why not).
    fn start_one(&self) -> io::Result<Worker> {
        let (control, theirs) = ipc::pipe(true)?;
        let carrier = Connection::from(UnixStream::from(
            self.listener.as_fd().try_clone_to_owned()?,
        ));
        let mut process = (self.spawn)(Handles {
            control: theirs,
            listener: carrier,
        })?;
        let mut w = Worker { process, control };
        let ready = match w.control.poll(Some(STOP_LIMIT)) {
            Ok(true) => w.control.recv::<Ready>().is_ok(),
            _ => false,
        };
        if ready {
            return Ok(w);
        }
        let _ = w.process.kill();
        process = w.process;
        let status = process.join()?;
        Err(io::Error::other(format!(
            "a worker process did not start ({status}): is its entry the right one, \
             and listed in the table given to ipc::init?"
        )))
    }

    /// Replaces dead workers until `shutdown` is requested, then stops
    /// every worker and returns what each answered (a default for one that
    /// died first).
    pub(crate) fn run<S: DeserializeOwned + Default>(
        mut self,
        shutdown: &Shutdown,
    ) -> io::Result<Vec<S>> {
        let mut sel = DefaultSelector::<usize>::new()?;
        shutdown.notify_on_request(sel.notifier());
        for (i, w) in self.workers.iter().enumerate() {
            sel.register(&w.control, Interest::READ, i)?;
        }
        let mut ready = Vec::new();
        let mut failed = None;
        'serve: while !shutdown.is_requested() {
            sel.select_into(None, &mut ready)?;
            for &(fd, _) in &ready {
                let Ok(key) = sel.get_key(&fd) else { continue };
                let i = key.data;
                if shutdown.is_requested() {
                    break;
                }
                // Before the shutdown a worker says nothing: readable means dead.
                let _ = sel.unregister(&self.workers[i].control);
                let _ = self.workers[i].process.kill();
                let _ = self.workers[i].process.join();
                match self.start_one() {
                    Ok(w) => self.workers[i] = w,
                    Err(e) => {
                        failed = Some(e);
                        break 'serve;
                    }
                }
                self.replaced.fetch_add(1, Relaxed);
                sel.register(&self.workers[i].control, Interest::READ, i)?;
            }
        }
        for w in &self.workers {
            let _ = sel.unregister(&w.control);
        }
        for w in &mut self.workers {
            let _ = w.control.send(&Control::Stop);
        }
        let answers = self.workers.iter_mut().map(collect).collect();
        match failed {
            Some(e) => Err(e),
            None => Ok(answers),
        }
    }
}

/// A stopping worker's answer (the default if it died first), and its exit.
fn collect<S: DeserializeOwned + Default>(w: &mut Worker) -> S {
    let answer = match w.control.poll(Some(STOP_LIMIT)) {
        Ok(true) => w.control.recv::<S>().unwrap_or_default(),
        _ => S::default(),
    };
    let deadline = Instant::now() + STOP_LIMIT;
    if !matches!(
        w.process
            .join_timeout(deadline.saturating_duration_since(Instant::now())),
        Ok(Some(_))
    ) {
        let _ = w.process.kill();
        let _ = w.process.join();
    }
    answer
}

/// The worker's side of the control connection.
pub(crate) struct WorkerSide {
    control: Connection,
}

impl WorkerSide {
    /// Takes the listener out of `handles`, requests `shutdown` when the
    /// parent says stop (or goes away), and tells the parent it is ready.
    pub(crate) fn start(
        handles: Handles,
        shutdown: &Shutdown,
    ) -> io::Result<(WorkerSide, TcpListener)> {
        let Handles {
            mut control,
            listener,
        } = handles;
        // A duplicate of the descriptor; the carrier closes with `listener`.
        let listener = TcpListener::from(listener.as_fd().try_clone_to_owned()?);
        let mut listen = control.try_clone()?;
        let stop = shutdown.clone();
        std::thread::Builder::new()
            .name("worker-control".into())
            .spawn(move || {
                // Stop, or the parent's end closed (the parent died): stop.
                let _ = listen.recv::<Control>();
                stop.request();
            })?;
        control
            .send(&Ready)
            .map_err(|e| io::Error::other(format!("telling the parent it is ready: {e}")))?;
        Ok((WorkerSide { control }, listener))
    }

    /// Sends the worker's counts to the parent (its answer to `Stop`).
    pub(crate) fn finish<S: Serialize>(mut self, answer: &S) {
        let _ = self.control.send(answer);
    }
}
