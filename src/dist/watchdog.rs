//! Timeouts on collective operations. MPI and NCCL wait without limit for a rank that never
//! joins (one that hangs in its data loading, a stalled file system, a stopped process): a
//! [`Watchdog`] thread ends this process when one collective has waited longer than the
//! run's timeout, and the MPI launcher then ends the other ranks. A rank that *fails* ends
//! the run at once ([`super::Collective::abort`]); the watchdog covers the ranks that do not.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the watchdog does when a collective has waited too long: given the rank, the
/// operation and the timeout. Never returns in a real run.
pub type Expiry = Box<dyn Fn(usize, &'static str, Duration) + Send>;

/// A thread that watches one collective operation at a time ([`Watchdog::watch`]).
pub struct Watchdog {
    shared: Arc<Shared>,
    timeout: Duration,
}

/// The state the caller and the watchdog thread share.
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// The operation being waited for and when its time is up.
    armed: Option<(&'static str, Instant)>,
    /// Set when the [`Watchdog`] is dropped: the thread ends.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Watchdog {
    /// A watchdog for `rank` that ends the process (exit status 1, after one line on
    /// stderr) when a collective waits longer than `timeout`.
    pub fn new(rank: usize, timeout: Duration) -> std::io::Result<Self> {
        Self::with_expiry(rank, timeout, Box::new(end_process))
    }

    /// A watchdog that calls `expiry` instead (tests).
    pub fn with_expiry(rank: usize, timeout: Duration, expiry: Expiry) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name("satcolor-watchdog".into())
            .spawn(move || watch_loop(&theirs, rank, timeout, &expiry))?;
        Ok(Self { shared, timeout })
    }

    /// The time one collective may wait.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Watches the collective `what` until the returned guard is dropped.
    pub fn watch(&self, what: &'static str) -> Watch<'_> {
        self.shared.lock().armed = Some((what, Instant::now() + self.timeout));
        self.shared.wake.notify_one();
        Watch { dog: Some(self) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// A collective operation under watch ([`Watchdog::watch`]); dropping it ends the watch.
#[must_use = "the watch ends when the guard is dropped"]
pub struct Watch<'a> {
    dog: Option<&'a Watchdog>,
}

impl Watch<'_> {
    /// A guard that watches nothing (a run without timeout, a single process).
    pub fn none() -> Self {
        Watch { dog: None }
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        if let Some(dog) = self.dog {
            dog.shared.lock().armed = None;
        }
    }
}

/// The watchdog thread: sleeps until an operation is watched, then until its deadline or
/// the end of the watch, whichever comes first.
fn watch_loop(shared: &Shared, rank: usize, timeout: Duration, expiry: &Expiry) {
    let mut state = shared.lock();
    loop {
        if state.closed {
            return;
        }
        state = match state.armed {
            None => shared.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
            Some((what, deadline)) => {
                let now = Instant::now();
                if now >= deadline {
                    state.armed = None;
                    drop(state);
                    expiry(rank, what, timeout);
                    state = shared.lock();
                    continue;
                }
                shared
                    .wake
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
        };
    }
}

/// Says which collective timed out and ends the process at once, from the watchdog thread
/// while the main thread is still blocked in MPI or NCCL (so no exit handler, which could
/// wait on MPI, runs). The MPI launcher sees a rank end without finalizing and ends the
/// others.
fn end_process(rank: usize, what: &'static str, timeout: Duration) {
    crate::console::note(&format!(
        "error: rank {rank}: no reply from the other ranks for {} s in {what}: a rank has hung \
         or been stopped; ending the run (the limit is --collective-timeout)",
        timeout.as_secs_f64()
    ));
    // SAFETY: _exit ends the process without running anything of this one's; it is
    // async-signal-safe and may be called from any thread.
    unsafe { libc::_exit(1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn dog(timeout_ms: u64) -> (Watchdog, mpsc::Receiver<&'static str>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let dog = Watchdog::with_expiry(
            3,
            Duration::from_millis(timeout_ms),
            Box::new(move |rank, what, _| {
                assert_eq!(rank, 3);
                tx.lock().unwrap().send(what).unwrap();
            }),
        )
        .unwrap();
        (dog, rx)
    }

    #[test]
    fn a_collective_waiting_past_the_timeout_expires_once() {
        let (dog, rx) = dog(50);
        let start = Instant::now();
        let _w = dog.watch("MPI reduce");
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("MPI reduce"));
        assert!(start.elapsed() >= Duration::from_millis(50));
        // Once per watch.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }

    #[test]
    fn collectives_that_return_in_time_never_expire() {
        let (dog, rx) = dog(200);
        // Many short collectives over more than twice the timeout.
        for _ in 0..50 {
            let _w = dog.watch("MPI all-reduce");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(rx.recv_timeout(Duration::from_millis(400)).is_err());
        // A later long one still expires.
        let _w = dog.watch("NCCL all-reduce");
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok("NCCL all-reduce")
        );
    }

    #[test]
    fn an_unwatched_guard_and_a_dropped_dog_do_nothing() {
        let (dog, rx) = dog(20);
        drop(Watch::none());
        drop(dog);
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    }
}
