//! Damage done to digits for the denoising autoencoder to undo: additive Gaussian noise and
//! random erasing (Zhong et al. 2017), drawn from the seeded CPU RNG so one seed damages an image
//! the same way on every backend.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::noise;

/// Smallest and largest side of an erased rectangle, in pixels.
const ERASE_SIDE: std::ops::RangeInclusive<usize> = 4..=12;

/// How to damage each image of a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Corruption {
    /// Gaussian noise of this standard deviation on every image: what the page's slider does.
    Fixed { noise_std: f64 },
    /// A standard deviation drawn uniformly from `[0, max_noise_std]` per image, and with
    /// probability `erase_prob` a random rectangle set to black: what training sees.
    Random { max_noise_std: f64, erase_prob: f64 },
}

impl Corruption {
    /// `images` damaged as described, clamped back to `[0, 1]`.
    ///
    /// # Shapes
    /// - images, output: `[batch, channels, height, width]`
    pub fn apply(self, images: Tensor<4>, seed: u64) -> Tensor<4> {
        let shape = images.dims();
        let [batch, channels, height, width] = shape;
        let pixels = channels * height * width;
        let mut rng = noise::rng(seed);
        let mut keep = vec![1.0f32; batch * pixels];
        let mut added = vec![0.0f32; batch * pixels];
        for (image_keep, image_added) in keep.chunks_mut(pixels).zip(added.chunks_mut(pixels)) {
            let (std, erase) = match self {
                Corruption::Fixed { noise_std } => (noise_std, false),
                Corruption::Random {
                    max_noise_std,
                    erase_prob,
                } => (
                    rng.random_range(0.0..=max_noise_std),
                    rng.random_bool(erase_prob.clamp(0.0, 1.0)),
                ),
            };
            for value in image_added.iter_mut() {
                *value = std as f32 * rng.sample::<f32, _>(StandardNormal);
            }
            if erase {
                erase_rectangle(image_keep, [channels, height, width], &mut rng);
            }
        }
        let device = images.device();
        let tensor =
            |values, device: &Device| Tensor::from_data(TensorData::new(values, shape), device);
        (images * tensor(keep, &device) + tensor(added, &device)).clamp(0.0, 1.0)
    }
}

/// Zero a random rectangle (of every channel) in one image's keep-mask.
fn erase_rectangle(keep: &mut [f32], [channels, height, width]: [usize; 3], rng: &mut impl Rng) {
    let rect_h = rng.random_range(ERASE_SIDE).min(height);
    let rect_w = rng.random_range(ERASE_SIDE).min(width);
    let top = rng.random_range(0..=height - rect_h);
    let left = rng.random_range(0..=width - rect_w);
    for c in 0..channels {
        for row in top..top + rect_h {
            let start = (c * height + row) * width + left;
            keep[start..start + rect_w].fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(device: &Device) -> Tensor<4> {
        Tensor::full([4, 1, 28, 28], 0.5, device)
    }

    #[test]
    fn zero_noise_changes_nothing() {
        let device = Device::flex();
        let out = Corruption::Fixed { noise_std: 0.0 }.apply(grey(&device), 1);
        out.into_data().assert_eq(&grey(&device).into_data(), true);
    }

    #[test]
    fn noise_is_seeded_and_stays_in_range() {
        let device = Device::flex();
        let noisy = |seed| Corruption::Fixed { noise_std: 0.3 }.apply(grey(&device), seed);
        let a = noisy(5);
        a.clone().into_data().assert_eq(&noisy(5).into_data(), true);
        assert_ne!(a.clone().into_data(), noisy(6).into_data());
        assert!(a.clone().min().into_scalar::<f32>() >= 0.0);
        assert!(a.clone().max().into_scalar::<f32>() <= 1.0);
        // Clamping aside, the noise has the requested spread around 0.5.
        let std = (a - 0.5).powi_scalar(2).mean().sqrt().into_scalar::<f32>();
        assert!((0.22..0.32).contains(&std), "{std}");
    }

    #[test]
    fn erasing_blacks_out_rectangles() {
        let device = Device::flex();
        let always_erase = Corruption::Random {
            max_noise_std: 0.0,
            erase_prob: 1.0,
        };
        let out = always_erase.apply(grey(&device), 3).into_data();
        let values = out.as_slice::<f32>().unwrap();
        for image in values.chunks(784) {
            let erased = image.iter().filter(|&&v| v == 0.0).count();
            let smallest = ERASE_SIDE.start() * ERASE_SIDE.start();
            let largest = ERASE_SIDE.end() * ERASE_SIDE.end();
            assert!((smallest..=largest).contains(&erased), "{erased}");
            assert!(image.iter().all(|&v| v == 0.0 || v == 0.5));
        }
    }
}
