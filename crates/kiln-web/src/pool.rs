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

/// Without the `threads` feature there is one thread: the whole batch in one pass.
#[cfg(not(feature = "threads"))]
pub(crate) use kiln_core::per_image::OnePass as Pool;
#[cfg(feature = "threads")]
pub(crate) use threaded::Pool;

#[cfg(feature = "threads")]
mod threaded {
    use burn::tensor::Tensor;
    use kiln_core::per_image::{PerImage, Runner};
    use rayon::prelude::*;

    /// Runs work that treats each image on its own a run of images per thread of the pool.
    ///
    /// burn-flex splits a kernel over the pool only when it is big: at 16 digits no layer of the
    /// VAE or the GAN is, and the second thread would idle. Diffusion, whose big convolutions it
    /// does split, still drew 16 digits 1.4× as fast this way (BENCHMARKS.md). The images are
    /// independent anyway (their norms are per image), so the pixels are the one-pass ones.
    pub(crate) struct Pool;

    impl Runner for Pool {
        fn run<W: PerImage>(&self, work: W) -> Tensor<4> {
            let runs: Vec<Tensor<4>> = work
                .split(rayon::current_num_threads())
                .into_par_iter()
                .map(W::run)
                .collect();
            Tensor::cat(runs, 0)
        }
    }
}
