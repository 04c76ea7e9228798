//! Printing that a reader going away cannot turn into a panic.
//!
//! `run`, `resume`, `launch` and `submit` keep SIGPIPE ignored (a closed connection is an
//! error to handle there, not the end of the process), so a closed standard output or error
//! (`couler run wf.yaml 2>&1 | head -3`) makes every write fail with `EPIPE`, and `println!`
//! panics on that. These commands print through [`say!`] and [`tell!`] instead: what cannot be
//! written is dropped and the run goes on to its end, recorded as usual. Commands that take
//! SIGPIPE's default action end quietly at the first such write, as other Unix tools do.

use std::fmt;
use std::io::Write;

/// Like `println!`, dropping what a closed standard output cannot take.
macro_rules! say {
    () => { $crate::say::out(format_args!("")) };
    ($($t:tt)*) => { $crate::say::out(format_args!($($t)*)) };
}

/// Like `eprintln!`, dropping what a closed standard error cannot take.
macro_rules! tell {
    ($($t:tt)*) => { $crate::say::err(format_args!($($t)*)) };
}

pub(crate) use {say, tell};

/// Writes one line to standard output; a failed write is dropped.
pub fn out(line: fmt::Arguments) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Writes one line to standard error; a failed write is dropped.
pub fn err(line: fmt::Arguments) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes `text` as it is to standard error; a failed write is dropped.
pub fn err_raw(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
