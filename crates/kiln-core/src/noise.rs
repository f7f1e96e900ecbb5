//! Seeded randomness drawn on the CPU, so that one seed means the same numbers on every backend.
//!
//! Device RNGs differ between flex, wgpu and WebGPU; drawing here and then moving the tensor to
//! the device makes `sample(seed = 7)` give the same digits natively and in any browser.

use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng, rngs::Xoshiro256PlusPlus};
use rand_distr::StandardNormal;

/// A portable, seedable generator: xoshiro256++ has a fixed algorithm, unlike `StdRng`.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// Draws from N(0, I) with the given shape, placed on `device`.
pub fn standard_normal<const D: usize>(seed: u64, shape: [usize; D], device: &Device) -> Tensor<D> {
    let values = standard_normal_values(seed, shape.iter().product());
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// `len` draws from N(0, 1): the values [`standard_normal`] puts in a tensor.
pub fn standard_normal_values(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = rng(seed);
    (0..len).map(|_| rng.sample(StandardNormal)).collect()
}

/// `len` draws from U[0, 1).
pub fn uniform_values(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = rng(seed);
    (0..len).map(|_| rng.random()).collect()
}

/// The indices `0..len` in an order fixed by `seed`.
pub fn permutation(len: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_noise() {
        let device = Device::flex();
        let a = standard_normal(3, [4, 5], &device).into_data();
        let b = standard_normal(3, [4, 5], &device).into_data();
        let c = standard_normal(4, [4, 5], &device).into_data();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn noise_is_pinned() {
        // Pins generator and distribution: a change here changes every published sample.
        let values = standard_normal(0, [3], &Device::flex())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let expected = [-0.292_803_3_f32, -0.713_120_6, -0.105_321_16];
        for (v, e) in values.iter().zip(expected) {
            assert!((v - e).abs() < 1e-6, "{values:?}");
        }
    }

    #[test]
    fn permutation_is_a_seeded_shuffle() {
        let a = permutation(100, &mut rng(1));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, permutation(100, &mut rng(1)));
        assert_ne!(a, permutation(100, &mut rng(2)));
    }
}
