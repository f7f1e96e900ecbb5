//! Work on a batch that treats each image on its own (decoding drawn codes, predicting a
//! reverse step's noise), so that it can run a run of images at a time, one run per thread, and
//! still give the pixels of one pass.

use burn::tensor::Tensor;

/// Work on a batch of images, none of which depends on another.
pub trait PerImage: Sized + Send {
    /// The images in the batch.
    fn count(&self) -> usize;

    /// The same work for images `start..start + len` alone.
    fn narrow(&self, start: usize, len: usize) -> Self;

    /// # Shapes
    /// - output: `[count, channels, side, side]`
    fn run(self) -> Tensor<4>;

    /// The work in up to `parts` runs of consecutive images, as even as can be and never empty
    /// (one run for `parts` ≤ 1): concatenated in order, their outputs are the whole batch's.
    fn split(self, parts: usize) -> Vec<Self> {
        let count = self.count();
        let parts = parts.clamp(1, count.max(1));
        if parts == 1 {
            return vec![self];
        }
        let (base, extra) = (count / parts, count % parts);
        let mut start = 0;
        (0..parts)
            .map(|part| {
                let len = base + usize::from(part < extra);
                let run = self.narrow(start, len);
                start += len;
                run
            })
            .collect()
    }
}

/// Runs per-image work: [`OnePass`], or a run of images per thread (kiln-web's threaded pool).
pub trait Runner {
    fn run<W: PerImage>(&self, work: W) -> Tensor<4>;
}

/// The whole batch at once, on the calling thread.
pub struct OnePass;

impl Runner for OnePass {
    fn run<W: PerImage>(&self, work: W) -> Tensor<4> {
        work.run()
    }
}
