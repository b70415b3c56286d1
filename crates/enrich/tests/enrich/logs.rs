//! What the enricher logs, captured for the whole test binary (tests run in parallel, so a
//! test looks for lines only it can cause).

use std::io::Write;
use std::sync::{Mutex, Once};

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Captured;

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per test binary).
pub fn capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(|| Captured)
            .init();
    });
}

/// Everything logged since [`capture`].
pub fn captured() -> String {
    String::from_utf8_lossy(&LINES.lock().unwrap()).into_owned()
}
