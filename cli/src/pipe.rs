//! Standard output for a reader that may stop reading (`esimhooks stats | head`): a closed pipe ends the command
//! quietly with success, as Unix tools do, instead of an error message or a panic.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether a write found standard output's reader gone: whatever the command says next, it succeeded.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// `result` unchanged; a broken pipe among its errors is noted for [`closed`].
pub fn noted<T>(result: std::io::Result<T>) -> std::io::Result<T> {
    if result.as_ref().is_err_and(|e| e.kind() == ErrorKind::BrokenPipe) {
        CLOSED.store(true, Ordering::Relaxed);
    }
    result
}

/// Standard output, locked, noting a closed pipe.
pub struct Stdout(std::io::StdoutLock<'static>);

pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        noted(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        noted(self.0.flush())
    }
}

/// `println!` panics when standard output's reader is gone, and std offers no other signal there: that panic
/// ends the process quietly with success too. Every other panic is reported as before.
pub fn quiet_on_closed_pipe_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload_as_str().is_some_and(is_closed_stdout_panic) {
            std::process::exit(0);
        }
        report(info)
    }));
}

/// std's message for a failed `println!` (`failed printing to stdout: Broken pipe (os error 32)`).
fn is_closed_stdout_panic(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.to_ascii_lowercase().contains("broken pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_noted_and_other_errors_are_not() {
        let other: std::io::Result<()> = Err(ErrorKind::PermissionDenied.into());
        assert!(noted(other).is_err());
        assert!(!closed());
        let broken: std::io::Result<()> = Err(ErrorKind::BrokenPipe.into());
        assert!(noted(broken).is_err());
        assert!(closed());
    }

    #[test]
    fn only_a_closed_stdout_panic_is_quiet() {
        assert!(is_closed_stdout_panic(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_stdout_panic(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_stdout_panic("index out of bounds"));
    }
}
