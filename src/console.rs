//! The process's console: reports on stdout and notes on stderr, written without the
//! panics of `print!` and `eprintln!` when a stream is closed or full (see docs/failures.md).

/// Writes `text` to stdout and flushes it. Unlike `print!`, which panics, a failed write
/// (a closed pipe, a full disk) is returned as a [`StdoutError`]: the command line ends
/// quietly on a closed pipe and exits 1 with a message on any other failure.
pub fn print(text: &str) -> Result<(), StdoutError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(StdoutError)
}

/// Writes `text` and a newline to stderr, for progress and warnings. A stderr that cannot
/// be written (a closed pipe: `satcolor train … 2>&1 | head`) is ignored: the work goes on,
/// where `eprintln!` would panic.
pub fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Writing a report to stdout failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to stdout: {0}")]
pub struct StdoutError(pub std::io::Error);

impl StdoutError {
    /// Whether the reader of stdout went away (`satcolor info | head -1`), which ends a
    /// command quietly, as it does the coreutils.
    pub fn is_broken_pipe(&self) -> bool {
        self.0.kind() == std::io::ErrorKind::BrokenPipe
    }
}
