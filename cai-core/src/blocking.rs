//! CPU-heavy work off the async executor, with a bound.
//!
//! Verifying a password with Argon2id (room passwords here, logins in `cai-auth`) takes
//! tens of milliseconds and about 19 MiB of memory. Run on an async task, it stalls
//! every other request that task's worker thread carries; run for every request that
//! asks, a flood of guesses exhausts memory. A [`BlockingPool`] takes such jobs off the
//! executor, bounds how many run at once and how many may wait, and turns the rest
//! away at once with [`BlockingError::Busy`] — which a service answers with "too many
//! requests" — instead of queueing without bound.
//!
//! ## Picking a pool
//!
//! | Host | Pool |
//! |---|---|
//! | a multi-threaded tokio server | `TokioPool` (feature `tokio`): jobs on tokio's blocking threads, at most one per CPU by default, at most 64 waiting |
//! | tests, examples, a single-threaded or embedded host, WebAssembly | [`InlinePool`]: the job runs on the calling task; no bound, no threads |
//! | another executor (async-std, smol, a thread pool of your own) | implement [`BlockingPool`]: hand the job to the executor's blocking facility and await it — a dozen lines |
//!
//! Jobs are plain closures; [`run`] gives back what they return:
//!
//! ```
//! use cai_core::blocking::{self, InlinePool};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cai_core::blocking::BlockingError> {
//! let pool = InlinePool;
//! let sum = blocking::run(&pool, || (1..=10u32).sum::<u32>()).await?;
//! assert_eq!(sum, 55);
//! # Ok(())
//! # }
//! ```
//!
//! ## Argon2 in debug builds
//!
//! Unoptimised, Argon2id is two orders of magnitude slower: at its *minimum* settings it
//! took 3.6 s per run in a consumer's debug build, enough to make tests time out. A
//! crate that depends on cai should optimise it even in debug builds, in its workspace
//! `Cargo.toml`:
//!
//! ```toml
//! [profile.dev.package.argon2]
//! opt-level = 3
//! ```
//!
//! (cai's own workspace optimises every dependency with `[profile.dev.package."*"]
//! opt-level = 3`, which covers it too.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use async_trait::async_trait;

/// A job for a [`BlockingPool`]: runs once, on whatever thread the pool chooses.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs CPU-heavy or blocking jobs away from the async executor.
///
/// Implementations bound the work they accept (or document why they need not), answer
/// [`BlockingError::Busy`] at once rather than queueing without bound, and turn a
/// panicking job into [`BlockingError::Failed`]; they never panic in the caller.
#[async_trait]
pub trait BlockingPool: Send + Sync {
    /// Runs `job` and waits until it has finished. `Ok` means it ran to completion.
    /// If the caller stops waiting (its future is dropped), a job that has started
    /// still runs to the end.
    async fn execute(&self, job: Job) -> Result<(), BlockingError>;
}

/// Runs `job` on `pool` and returns its result.
///
/// The result travels back through a `std::sync::mpsc` channel of capacity one, so the
/// seam needs no async runtime of its own.
pub async fn run<T, F>(pool: &dyn BlockingPool, job: F) -> Result<T, BlockingError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (sender, receiver) = mpsc::sync_channel(1);
    pool.execute(Box::new(move || {
        // The receiver outlives `execute`, and the channel has room for this one value.
        let _ = sender.send(job());
    }))
    .await?;
    receiver.try_recv().map_err(|_| BlockingError::Failed)
}

/// Why a job did not give a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockingError {
    /// The pool is full: as many jobs run and wait as it allows. Retry later ("too
    /// many requests").
    #[error("too many jobs waiting")]
    Busy,
    /// The job panicked.
    #[error("job failed")]
    Failed,
    /// The pool has nothing to run jobs on: no async runtime, or it is shutting down.
    #[error("no executor to run the job")]
    Unavailable,
}

/// Runs each job at once, on the calling task.
///
/// For tests, examples and hosts with a single thread, where there is no other task to
/// stall and nowhere else to run it. The trade-off: while a job runs, the executor
/// thread does nothing else, and nothing bounds how many jobs run at once except the
/// number of tasks calling. A panicking job gives [`BlockingError::Failed`] (unless the
/// host builds with `panic = "abort"`, where nothing can catch it).
#[derive(Debug, Clone, Copy, Default)]
pub struct InlinePool;

#[async_trait]
impl BlockingPool for InlinePool {
    async fn execute(&self, job: Job) -> Result<(), BlockingError> {
        catch_unwind(AssertUnwindSafe(job)).map_err(|_| BlockingError::Failed)
    }
}

#[cfg(feature = "tokio")]
pub use self::tokio_pool::{PoolLoad, TokioPool};

#[cfg(feature = "tokio")]
mod tokio_pool {
    use std::num::NonZeroUsize;
    use std::sync::Arc;

    use async_trait::async_trait;
    use tokio::runtime::Handle;
    use tokio::sync::{Semaphore, TryAcquireError};

    use super::{BlockingError, BlockingPool, Job};

    /// Runs jobs on a tokio runtime's blocking threads (`spawn_blocking`), at most
    /// `max_running` at once and at most `max_waiting` more waiting for a turn; beyond
    /// that [`execute`](BlockingPool::execute) answers [`BlockingError::Busy`]
    /// at once. Waiting jobs start in arrival order. A job whose caller stopped waiting
    /// keeps its place in the bound until it has finished, so callers that give up
    /// cannot push more work past it. Clones share the bound.
    ///
    /// ```
    /// use cai_core::blocking::{self, TokioPool};
    ///
    /// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
    /// # async fn main() -> Result<(), cai_core::blocking::BlockingError> {
    /// let pool = TokioPool::current()?; // one job per CPU, 64 waiting
    /// let hash = blocking::run(&pool, || "expensive work".len()).await?;
    /// assert_eq!(hash, 14);
    /// # Ok(())
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    #[derive(Debug, Clone)]
    pub struct TokioPool {
        handle: Handle,
        /// One permit per job that may run.
        running: Arc<Semaphore>,
        /// One permit per job that may run or wait.
        admitted: Arc<Semaphore>,
        max_running: usize,
        max_admitted: usize,
    }

    /// How busy a [`TokioPool`] is: a snapshot, for metrics and tests.
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct PoolLoad {
        /// Jobs running (or handed to a blocking thread and about to).
        pub running: usize,
        /// Jobs waiting for a turn.
        pub waiting: usize,
    }

    impl TokioPool {
        /// The default bound on waiting jobs.
        pub const DEFAULT_MAX_WAITING: usize = 64;

        /// A pool on `handle`'s runtime with the default bounds: as many running jobs
        /// as the machine has CPUs (at least one), [`DEFAULT_MAX_WAITING`](Self::DEFAULT_MAX_WAITING)
        /// waiting.
        pub fn new(handle: Handle) -> Self {
            let cpus = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
            Self::with_limits(handle, cpus, Self::DEFAULT_MAX_WAITING)
        }

        /// A pool on the runtime this is called from, with the default bounds;
        /// [`BlockingError::Unavailable`] outside a tokio runtime.
        pub fn current() -> Result<Self, BlockingError> {
            Handle::try_current()
                .map(Self::new)
                .map_err(|_| BlockingError::Unavailable)
        }

        /// A pool on `handle`'s runtime running at most `max_running` jobs at once,
        /// with at most `max_waiting` more waiting (0: none wait, a full pool answers
        /// `Busy` at once). Bounds beyond tokio's semaphore limit are clamped to it.
        pub fn with_limits(handle: Handle, max_running: NonZeroUsize, max_waiting: usize) -> Self {
            let max_running = max_running.get().min(Semaphore::MAX_PERMITS);
            let max_admitted = max_running
                .saturating_add(max_waiting)
                .min(Semaphore::MAX_PERMITS);
            Self {
                handle,
                running: Arc::new(Semaphore::new(max_running)),
                admitted: Arc::new(Semaphore::new(max_admitted)),
                max_running,
                max_admitted,
            }
        }

        /// How many jobs may run at once.
        pub fn max_running(&self) -> usize {
            self.max_running
        }

        /// How many jobs may wait for a turn.
        pub fn max_waiting(&self) -> usize {
            self.max_admitted - self.max_running
        }

        /// How many jobs run and wait now.
        pub fn load(&self) -> PoolLoad {
            let running = self
                .max_running
                .saturating_sub(self.running.available_permits());
            let admitted = self
                .max_admitted
                .saturating_sub(self.admitted.available_permits());
            PoolLoad {
                running,
                waiting: admitted.saturating_sub(running),
            }
        }
    }

    #[async_trait]
    impl BlockingPool for TokioPool {
        async fn execute(&self, job: Job) -> Result<(), BlockingError> {
            let admitted = Arc::clone(&self.admitted)
                .try_acquire_owned()
                .map_err(|e| match e {
                    TryAcquireError::NoPermits => BlockingError::Busy,
                    TryAcquireError::Closed => BlockingError::Unavailable,
                })?;
            let running = Arc::clone(&self.running)
                .acquire_owned()
                .await
                .map_err(|_| BlockingError::Unavailable)?;
            let task = self.handle.spawn_blocking(move || {
                // Held until the job ends, even if the caller stopped waiting.
                let _permits = (admitted, running);
                job();
            });
            task.await.map_err(|e| {
                if e.is_panic() {
                    BlockingError::Failed
                } else {
                    BlockingError::Unavailable
                }
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn inline_pool_returns_results_and_turns_panics_into_errors() {
        let pool = InlinePool;
        assert_eq!(run(&pool, || 6 * 7).await, Ok(42));
        let owned = String::from("abc");
        assert_eq!(run(&pool, move || owned.len()).await, Ok(3));
        let failed = run(&pool, || -> u32 { panic!("job panics on purpose") }).await;
        assert_eq!(failed, Err(BlockingError::Failed));
        assert_eq!(run(&pool, || "still usable").await, Ok("still usable"));
    }

    #[tokio::test]
    async fn a_pool_that_drops_the_job_gives_failed_not_a_panic() {
        struct Dropping;
        #[async_trait]
        impl BlockingPool for Dropping {
            async fn execute(&self, job: Job) -> Result<(), BlockingError> {
                drop(job);
                Ok(())
            }
        }
        assert_eq!(run(&Dropping, || 1).await, Err(BlockingError::Failed));
    }

    #[cfg(feature = "tokio")]
    mod tokio_pool {
        use std::num::NonZeroUsize;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::{Arc, Condvar, Mutex};
        use std::time::Duration;

        use tokio::runtime::Handle;

        use super::super::*;

        /// Jobs wait at the gate until the test opens it.
        #[derive(Default)]
        struct Gate {
            open: Mutex<bool>,
            opened: Condvar,
        }

        impl Gate {
            fn wait(&self) {
                let mut open = self.open.lock().unwrap();
                while !*open {
                    open = self.opened.wait(open).unwrap();
                }
            }

            fn open(&self) {
                *self.open.lock().unwrap() = true;
                self.opened.notify_all();
            }
        }

        async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
            let reached = tokio::time::timeout(Duration::from_secs(10), async {
                while !condition() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            assert!(reached.is_ok(), "not reached: {what}");
        }

        fn limits(running: usize, waiting: usize) -> TokioPool {
            TokioPool::with_limits(
                Handle::current(),
                NonZeroUsize::new(running).unwrap(),
                waiting,
            )
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn results_come_back() {
            let pool = TokioPool::current().unwrap();
            assert!(pool.max_running() >= 1);
            assert_eq!(pool.max_waiting(), TokioPool::DEFAULT_MAX_WAITING);
            let results = futures_join((0..20u64).map(|i| {
                let pool = pool.clone();
                async move { run(&pool, move || i * i).await.unwrap() }
            }))
            .await;
            assert_eq!(results, (0..20u64).map(|i| i * i).collect::<Vec<_>>());
            assert_eq!(
                pool.load(),
                PoolLoad {
                    running: 0,
                    waiting: 0
                }
            );
        }

        /// Awaits futures spawned as tasks, in order.
        async fn futures_join<T: Send + 'static>(
            futures: impl Iterator<Item = impl Future<Output = T> + Send + 'static>,
        ) -> Vec<T> {
            let handles: Vec<_> = futures.map(tokio::spawn).collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn at_most_max_running_jobs_run_at_once() {
            let pool = limits(2, 16);
            let gate = Arc::new(Gate::default());
            let running = Arc::new(AtomicUsize::new(0));
            let peak = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..6usize)
                .map(|i| {
                    let (pool, gate) = (pool.clone(), Arc::clone(&gate));
                    let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
                    tokio::spawn(async move {
                        run(&pool, move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            gate.wait();
                            running.fetch_sub(1, Ordering::SeqCst);
                            i
                        })
                        .await
                    })
                })
                .collect();
            eventually("two running, four waiting", || {
                running.load(Ordering::SeqCst) == 2
                    && pool.load()
                        == PoolLoad {
                            running: 2,
                            waiting: 4,
                        }
            })
            .await;
            assert_eq!(peak.load(Ordering::SeqCst), 2);
            gate.open();
            let mut results = Vec::new();
            for t in tasks {
                results.push(t.await.unwrap().unwrap());
            }
            results.sort_unstable();
            assert_eq!(results, [0, 1, 2, 3, 4, 5]);
            assert_eq!(peak.load(Ordering::SeqCst), 2);
            assert_eq!(
                pool.load(),
                PoolLoad {
                    running: 0,
                    waiting: 0
                }
            );
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn busy_at_once_past_the_wait_bound() {
            let pool = limits(1, 1);
            let gate = Arc::new(Gate::default());
            let spawn_gated = |pool: &TokioPool| {
                let (pool, gate) = (pool.clone(), Arc::clone(&gate));
                tokio::spawn(async move { run(&pool, move || gate.wait()).await })
            };
            let first = spawn_gated(&pool);
            eventually("one running", || pool.load().running == 1).await;
            let second = spawn_gated(&pool);
            eventually("one waiting", || pool.load().waiting == 1).await;

            assert_eq!(run(&pool, || 3).await, Err(BlockingError::Busy));

            gate.open();
            first.await.unwrap().unwrap();
            second.await.unwrap().unwrap();
            assert_eq!(run(&pool, || 3).await, Ok(3));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_job_whose_caller_gave_up_still_counts_until_it_ends() {
            let pool = limits(1, 0);
            let gate = Arc::new(Gate::default());
            let caller = {
                let (pool, gate) = (pool.clone(), Arc::clone(&gate));
                tokio::spawn(async move { run(&pool, move || gate.wait()).await })
            };
            eventually("one running", || pool.load().running == 1).await;
            caller.abort();
            assert!(caller.await.unwrap_err().is_cancelled());
            assert_eq!(pool.load().running, 1);
            assert_eq!(run(&pool, || ()).await, Err(BlockingError::Busy));
            gate.open();
            eventually("none running", || pool.load().running == 0).await;
            assert_eq!(run(&pool, || 5).await, Ok(5));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_panicking_job_is_an_error_and_frees_its_place() {
            let pool = limits(1, 0);
            let failed = run(&pool, || -> u32 { panic!("job panics on purpose") }).await;
            assert_eq!(failed, Err(BlockingError::Failed));
            assert_eq!(
                pool.load(),
                PoolLoad {
                    running: 0,
                    waiting: 0
                }
            );
            assert_eq!(run(&pool, || 1).await, Ok(1));
        }

        #[test]
        fn current_outside_a_runtime_is_unavailable() {
            assert!(matches!(
                TokioPool::current(),
                Err(BlockingError::Unavailable)
            ));
        }

        #[test]
        fn huge_limits_are_clamped_not_a_panic() {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let pool =
                TokioPool::with_limits(runtime.handle().clone(), NonZeroUsize::MAX, usize::MAX);
            assert_eq!(pool.max_running(), tokio::sync::Semaphore::MAX_PERMITS);
            assert_eq!(pool.max_waiting(), 0);
            assert_eq!(
                pool.load(),
                PoolLoad {
                    running: 0,
                    waiting: 0
                }
            );
        }
    }
}
