//! Where mutations run: on threads of their own, at a lower scheduling priority than the
//! request workers, behind a bound on how many may be in flight.
//!
//! A read answers a person waiting at a page; a mutation is a clerk's registration,
//! which the clerk's client retries with its `commandId` when refused (a retry is safe:
//! the first outcome is returned, nothing is written twice). While the city registers
//! at once, mutations alone could keep both cores busy, and reads queued behind them on
//! the same workers (reads' p99 several times their quiet figure). So a mutation's
//! execution (validation, resolvers, the command path, waiting for its durable append)
//! runs on this runtime, whose threads the operating system runs after the request
//! workers when both want a core; the HTTP around it and the token's check stay with the
//! request workers. A mutation whose text the server knows is read from its body on
//! and answered here too (see `Server::mutate` in `http.rs`). When the limit of mutations in flight
//! ([`crate::Limits::mutations_in_flight`]) are already running or waiting, the next
//! is refused at once with `UNAVAILABLE` and `Retry-After` rather than queued.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How much lower than the request workers the mutation threads run (nice 5: under
/// contention they get about a third of a request worker's share of a core; on an
/// idle core they run at full speed).
const NICENESS: i32 = 5;

/// The mutations' runtime and its admission.
pub(crate) struct Writes {
    /// `None` only while the server is dropped (see [`Drop`]).
    runtime: Option<tokio::runtime::Runtime>,
    admission: Arc<Semaphore>,
}

/// A mutation admitted: it holds its place until it finishes or is dropped.
pub(crate) struct Admitted<'a> {
    writes: &'a Writes,
    permit: OwnedSemaphorePermit,
}

/// Aborts the mutation's task when the request is dropped (its deadline passed or its
/// client left), as dropping its future did when it ran on a request worker.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Writes {
    /// Threads for mutations, at most `in_flight` of them running or waiting at once.
    pub(crate) fn new(in_flight: usize) -> std::io::Result<Self> {
        // Half the cores, at least one: the request workers keep one each.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("taizhang-writes")
            .on_thread_start(|| crate::set_niceness(NICENESS))
            .enable_all()
            .build()?;
        Ok(Self { runtime: Some(runtime), admission: Arc::new(Semaphore::new(in_flight)) })
    }

    /// A place for one more mutation, or `None` when the limit is in flight.
    pub(crate) fn admit(&self) -> Option<Admitted<'_>> {
        let permit = self.admission.clone().try_acquire_owned().ok()?;
        Some(Admitted { writes: self, permit })
    }

    /// Runs the mutation `work` here if it finds a place: `None` when it does not, or
    /// when the server stopped before it ran (answer [`saturated`]).
    pub(crate) async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Option<T> {
        self.admit()?.run(work).await
    }
}

/// The refusal of a mutation that found no place (`UNAVAILABLE`; over HTTP with 503
/// and `Retry-After`).
pub(crate) fn saturated() -> async_graphql::Error {
    let message = "the server is saturated with changes; send the same request again (with the same commandId) \
                   in a second";
    crate::error::coded(crate::error::Code::Unavailable, message)
}

impl Admitted<'_> {
    /// Runs `work` on the mutations' threads and waits for its output: `None` when the
    /// server stopped before it ran.
    pub(crate) async fn run<T: Send + 'static>(self, work: impl Future<Output = T> + Send + 'static) -> Option<T> {
        let Admitted { writes, permit } = self;
        let runtime = writes.runtime.as_ref().expect("the runtime lives as long as the server");
        let task = runtime.spawn(async move {
            let done = work.await;
            drop(permit);
            done
        });
        let _abort = AbortOnDrop(task.abort_handle());
        match task.await {
            Ok(done) => Some(done),
            // A panic goes on where it would have on a request worker.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime was let go (`_abort` runs only after this returns).
            Err(_) => None,
        }
    }
}

impl Drop for Writes {
    /// A runtime may not be dropped where blocking is not allowed (the last handle of
    /// the server may go on a request worker): its threads are let go instead.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn places_are_bounded_given_back_and_work_runs_on_the_lower_threads() {
        let writes = Writes::new(2).unwrap();
        let (first, second) = (writes.admit().unwrap(), writes.admit().unwrap());
        assert!(writes.admit().is_none(), "a third place of two");

        let ran_on = first
            .run(async {
                let tid = rustix::thread::gettid();
                (std::thread::current().name().map(str::to_owned), rustix::process::getpriority_process(Some(tid)))
            })
            .await
            .unwrap();
        assert_eq!(ran_on.0.as_deref(), Some("taizhang-writes"));
        assert_eq!(ran_on.1.unwrap(), NICENESS);
        let third = writes.admit().expect("a finished mutation gives its place back");

        // A request dropped while its mutation runs (its deadline, or its client gone):
        // the mutation's task is aborted with it, and its place given back.
        let (held, dropped) = tokio::sync::oneshot::channel::<()>();
        let stuck = second.run(async move {
            let _held = held;
            std::future::pending::<()>().await
        });
        assert!(tokio::time::timeout(Duration::from_millis(50), stuck).await.is_err());
        assert!(dropped.await.is_err(), "the task was aborted, dropping what it held");
        // Its place goes with the rest of the task, a moment later on its thread.
        let mut given_back = false;
        for _ in 0..100 {
            given_back = writes.admit().is_some();
            if given_back {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(given_back, "the aborted mutation's place was not given back");
        drop(third);
    }
}
