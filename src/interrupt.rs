//! Ctrl-C (SIGINT) and SIGTERM as a request to stop cleanly.
//!
//! [`install`] replaces the default action of both signals (ending the process at once) by
//! setting a flag that long jobs poll with [`check`]: colorizing stops between batches of
//! tiles and removes its temporary output, training writes a checkpoint of the step it is
//! at. A second signal while the first is being handled ends the process at once, with the
//! shell's status for it (130 for SIGINT, 143 for SIGTERM). Library users who never call
//! [`install`] keep the default actions, and [`check`] never fails for them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// The signal received (0: none), and whether one was.
struct Flags {
    signal: Arc<AtomicUsize>,
    seen: Arc<AtomicBool>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// The job stopped because the process was asked to (SIGINT or SIGTERM).
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}{}", signal_name(*.signal), .detail.as_ref().map_or(String::new(), |d| format!(": {d}")))]
pub struct Interrupted {
    /// The signal's number.
    pub signal: i32,
    /// What was saved or cleaned up, for the message.
    pub detail: Option<String>,
}

impl Interrupted {
    /// The exit status a shell reports for the signal: 128 + its number.
    pub fn exit_code(&self) -> i32 {
        128 + self.signal
    }
}

/// `SIGINT`, `SIGTERM` or the number.
fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// Makes SIGINT and SIGTERM set the flag [`check`] reads (once per process; later calls do
/// nothing). A second signal ends the process at once with status 128 + its number.
pub fn install() -> std::io::Result<()> {
    if FLAGS.get().is_some() {
        return Ok(());
    }
    let flags = Flags {
        signal: Arc::new(AtomicUsize::new(0)),
        seen: Arc::new(AtomicBool::new(false)),
    };
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // Registered first, so it sees the flag as the earlier signal left it.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, flags.seen.clone())?;
        signal_hook::flag::register_usize(sig, flags.signal.clone(), sig as usize)?;
        signal_hook::flag::register(sig, flags.seen.clone())?;
    }
    let _ = FLAGS.set(flags);
    Ok(())
}

/// The signal received since [`install`], if any.
pub fn requested() -> Option<i32> {
    let flags = FLAGS.get()?;
    match flags.signal.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s as i32),
    }
}

/// `Err(Interrupted)` once SIGINT or SIGTERM has been received (after [`install`]).
pub fn check() -> Result<(), Interrupted> {
    match requested() {
        None => Ok(()),
        Some(signal) => Err(Interrupted {
            signal,
            detail: None,
        }),
    }
}
