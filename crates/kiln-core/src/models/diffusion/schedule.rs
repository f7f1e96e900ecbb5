//! The forward process q(x_t | x₀): how much noise each timestep adds.

use std::f64::consts::FRAC_PI_2;

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::limits::MAX_TIMESTEPS;

/// β₁ and β_T of the linear schedule (Ho et al. 2020, §4).
const LINEAR_BETA_RANGE: (f64, f64) = (1e-4, 0.02);
/// Offset s of the cosine schedule (Nichol & Dhariwal 2021, eq. 17).
const COSINE_OFFSET: f64 = 0.008;
/// Largest β the cosine schedule may use, to avoid a singularity at t = T (ibid.).
const COSINE_MAX_BETA: f64 = 0.999;

#[derive(Debug, Error, PartialEq)]
pub enum ScheduleError {
    #[error("a noise schedule needs at least 2 timesteps, got {0}")]
    TooFewTimesteps(usize),
    #[error("timesteps {0} is above the limit of {MAX_TIMESTEPS}")]
    TooManyTimesteps(usize),
    #[error("steps must be from 1 to {max} (the timesteps the model was trained with), got {got}")]
    Steps { got: usize, max: usize },
}

/// How β_t grows with t.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BetaSchedule {
    /// β_t from 1e-4 to 0.02 in equal steps (Ho et al. 2020).
    Linear,
    /// ᾱ_t = f(t)/f(0) with f(t) = cos²(((t/T + s)/(1 + s))·π/2) (Nichol & Dhariwal 2021): noise
    /// arrives more evenly, which suits small images.
    Cosine,
}

/// β_t and ᾱ_t for every timestep, in f64 so long products stay exact.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    betas: Vec<f64>,
    alphas_cumprod: Vec<f64>,
}

impl NoiseSchedule {
    pub fn new(kind: BetaSchedule, timesteps: usize) -> Result<Self, ScheduleError> {
        if timesteps < 2 {
            return Err(ScheduleError::TooFewTimesteps(timesteps));
        }
        if timesteps > MAX_TIMESTEPS {
            return Err(ScheduleError::TooManyTimesteps(timesteps));
        }
        let t_max = timesteps as f64;
        let betas: Vec<f64> = match kind {
            BetaSchedule::Linear => {
                let (first, last) = LINEAR_BETA_RANGE;
                (0..timesteps)
                    .map(|t| first + (last - first) * t as f64 / (t_max - 1.0))
                    .collect()
            }
            BetaSchedule::Cosine => {
                let f = |t: f64| {
                    (((t / t_max + COSINE_OFFSET) / (1.0 + COSINE_OFFSET)) * FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..timesteps)
                    .map(|t| (1.0 - f(t as f64 + 1.0) / f(t as f64)).min(COSINE_MAX_BETA))
                    .collect()
            }
        };
        let alphas_cumprod = betas
            .iter()
            .scan(1.0, |product, beta| {
                *product *= 1.0 - beta;
                Some(*product)
            })
            .collect();
        Ok(Self {
            betas,
            alphas_cumprod,
        })
    }

    /// T, the number of training timesteps.
    pub fn len(&self) -> usize {
        self.betas.len()
    }

    /// Always false: a schedule has at least two timesteps.
    pub fn is_empty(&self) -> bool {
        self.betas.is_empty()
    }

    pub fn beta(&self, t: usize) -> f64 {
        self.betas[t]
    }

    /// ᾱ_t; ᾱ before the first step (t = −1, the clean image) is 1.
    pub fn alpha_bar(&self, t: Option<usize>) -> f64 {
        t.map_or(1.0, |t| self.alphas_cumprod[t])
    }

    /// `steps` evenly spaced timesteps, noisiest first: T−T/steps, …, T/steps, 0 (the "leading"
    /// spacing of DDIM's reference code).
    pub fn inference_timesteps(&self, steps: usize) -> Result<Vec<usize>, ScheduleError> {
        if !(1..=self.len()).contains(&steps) {
            return Err(ScheduleError::Steps {
                got: steps,
                max: self.len(),
            });
        }
        let stride = self.len() / steps;
        Ok((0..steps).rev().map(|i| i * stride).collect())
    }

    /// Sample q(x_t | x₀) for each image at its own timestep:
    /// x_t = √ᾱ_t · x₀ + √(1 − ᾱ_t) · ε (Ho et al. 2020, eq. 4).
    ///
    /// # Shapes
    /// - originals, noise, output: `[batch, c, h, w]`; timesteps: `batch` values
    pub fn add_noise(
        &self,
        originals: Tensor<4>,
        noise: Tensor<4>,
        timesteps: &[usize],
    ) -> Tensor<4> {
        let batch = timesteps.len();
        let coefficient = |f: &dyn Fn(f64) -> f64| {
            let values: Vec<f32> = timesteps
                .iter()
                .map(|&t| f(self.alphas_cumprod[t]) as f32)
                .collect();
            Tensor::<4>::from_data(
                TensorData::new(values, [batch, 1, 1, 1]),
                &originals.device(),
            )
        };
        let signal = coefficient(&|a: f64| a.sqrt());
        let spread = coefficient(&|a: f64| (1.0 - a).sqrt());
        originals * signal + noise * spread
    }

    /// x₀ implied by x_t and a predicted ε, clipped to the data range `[-1, 1]`:
    /// x̂₀ = (x_t − √(1 − ᾱ_t) · ε) / √ᾱ_t (Ho et al. 2020, eq. 15).
    pub fn predict_original(&self, t: usize, sample: Tensor<4>, eps: Tensor<4>) -> Tensor<4> {
        let alpha_bar = self.alphas_cumprod[t];
        (sample - eps.mul_scalar((1.0 - alpha_bar).sqrt()))
            .div_scalar(alpha_bar.sqrt())
            .clamp(-1.0, 1.0)
    }
}

/// The timestep after `index` in a descending list, `None` past the last one (the clean image).
pub(super) fn previous_timestep(timesteps: &[usize], index: usize) -> Option<usize> {
    timesteps.get(index + 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance * b.abs().max(1e-30)
    }

    #[test]
    fn linear_schedule_is_pinned() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000).unwrap();
        assert_eq!((s.beta(0), s.beta(999)), (1e-4, 0.02));
        // Values from an independent Python computation of the same definitions.
        assert!(close(s.alpha_bar(Some(0)), 0.9999, 1e-12));
        assert!(close(s.alpha_bar(Some(499)), 7.8587242882e-02, 1e-9));
        assert!(close(s.alpha_bar(Some(999)), 4.0358297654e-05, 1e-9));
        assert_eq!(s.alpha_bar(None), 1.0);
    }

    #[test]
    fn cosine_schedule_is_pinned() {
        let s = NoiseSchedule::new(BetaSchedule::Cosine, 1000).unwrap();
        assert!(close(s.beta(0), 4.1284224822e-05, 1e-9));
        assert_eq!(s.beta(999), 0.999);
        assert!(close(s.alpha_bar(Some(499)), 4.9384359044e-01, 1e-9));
        assert!(close(s.alpha_bar(Some(999)), 2.4287669070e-09, 1e-8));
    }

    #[test]
    fn inference_timesteps_are_checked_and_spaced() {
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000).unwrap();
        assert_eq!(s.inference_timesteps(4).unwrap(), vec![750, 500, 250, 0]);
        assert_eq!(s.inference_timesteps(1000).unwrap().len(), 1000);
        let err = s.inference_timesteps(1001).unwrap_err().to_string();
        assert_eq!(
            err,
            "steps must be from 1 to 1000 (the timesteps the model was trained with), got 1001"
        );
        assert!(s.inference_timesteps(0).is_err());
        assert_eq!(
            NoiseSchedule::new(BetaSchedule::Linear, 1),
            Err(ScheduleError::TooFewTimesteps(1))
        );
        assert_eq!(
            NoiseSchedule::new(BetaSchedule::Linear, usize::MAX),
            Err(ScheduleError::TooManyTimesteps(usize::MAX))
        );
    }

    #[test]
    fn add_noise_follows_equation_4() {
        let device = Device::flex();
        let s = NoiseSchedule::new(BetaSchedule::Linear, 1000).unwrap();
        let x0 = Tensor::<4>::full([2, 1, 2, 2], 0.5, &device);
        let eps = Tensor::<4>::full([2, 1, 2, 2], -1.0, &device);
        let noisy = s.add_noise(x0, eps, &[0, 999]).into_data();
        let values = noisy.as_slice::<f32>().unwrap();
        for (image, t) in [(0, 0), (1, 999)] {
            let a = s.alpha_bar(Some(t));
            let expected = (a.sqrt() * 0.5 - (1.0 - a).sqrt()) as f32;
            assert!((values[image * 4] - expected).abs() < 1e-6, "t {t}");
        }
    }
}
