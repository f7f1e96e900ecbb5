//! Progress bars for long jobs.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` steps that shows a message (the running loss) and the ETA.
pub fn bar(len: u64, prefix: String) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({elapsed} elapsed, ETA {eta})",
    )
    .expect("template is valid")
    .progress_chars("=> ");
    ProgressBar::new(len).with_style(style).with_prefix(prefix)
}
