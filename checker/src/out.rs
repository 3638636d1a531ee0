//! Printing to stdout that survives a reader who stops reading
//! (`checker list | head`): `print!` panics on a broken pipe, and a
//! learner who pipes a report into `head` or `less` should see no panic.

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout. A closed pipe ends the output quietly (the
/// reader has what it wanted); any other failure is said on stderr.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if err.kind() != ErrorKind::BrokenPipe {
            eprintln!("greenroom: could not write to stdout: {err}");
        }
    }
}

/// `print!`, through [`print`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::print(&format!($($arg)*))
    };
}

/// `println!`, through [`print`].
macro_rules! outln {
    () => {
        $crate::out::print("\n")
    };
    ($($arg:tt)*) => {
        $crate::out::print(&format!("{}\n", format_args!($($arg)*)))
    };
}
