//! Where a call's computation runs in the threaded build (crates/kiln-web-threads).

/// Run `work` on one of Rayon's threads and wait for it; without the `threads` feature, here.
///
/// From a pool thread, burn-flex splits a big kernel across the pool and runs a small one (a
/// softmax or a norm of a few rows) where it stands. Called from outside the pool, each of them
/// would be handed to a sleeping worker and waited for, tens of µs a time in a browser: writing
/// text on two threads was a third slower than on one that way.
pub(crate) fn on_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    #[cfg(feature = "threads")]
    {
        rayon::scope(|_| work())
    }
    #[cfg(not(feature = "threads"))]
    {
        work()
    }
}
