//! Denoising diffusion implicit models (Song et al. 2021): the same trained network, sampled in
//! far fewer steps; η = 0 is deterministic, η = 1 matches DDPM's variance.

use burn::tensor::Tensor;

use super::schedule::{NoiseSchedule, ScheduleError, previous_timestep};
use super::{Scheduler, StepOutput};

/// DDIM with stochasticity η ∈ [0, 1].
#[derive(Debug, Clone)]
pub struct DdimScheduler {
    schedule: NoiseSchedule,
    eta: f64,
    timesteps: Vec<usize>,
}

impl DdimScheduler {
    /// # Panics
    /// If `eta` is outside `[0, 1]` (callers check user input first).
    pub fn new(schedule: NoiseSchedule, eta: f64) -> Self {
        assert!((0.0..=1.0).contains(&eta), "eta {eta} outside [0, 1]");
        Self {
            schedule,
            eta,
            timesteps: Vec::new(),
        }
    }

    /// σ_t(η) = η · √((1 − ᾱ_{t'}) / (1 − ᾱ_t)) · √(1 − ᾱ_t / ᾱ_{t'}) (eq. 16).
    fn sigma(&self, alpha_bar: f64, alpha_bar_prev: f64) -> f64 {
        self.eta
            * ((1.0 - alpha_bar_prev) / (1.0 - alpha_bar)).sqrt()
            * (1.0 - alpha_bar / alpha_bar_prev).sqrt()
    }
}

impl Scheduler for DdimScheduler {
    fn set_timesteps(&mut self, steps: usize) -> Result<(), ScheduleError> {
        self.timesteps = self.schedule.inference_timesteps(steps)?;
        Ok(())
    }

    fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    fn needs_noise(&self, index: usize) -> bool {
        self.eta > 0.0 && previous_timestep(&self.timesteps, index).is_some()
    }

    fn step(
        &self,
        index: usize,
        eps: Tensor<4>,
        sample: Tensor<4>,
        noise: Option<Tensor<4>>,
    ) -> StepOutput {
        let t = self.timesteps[index];
        let prev = previous_timestep(&self.timesteps, index);
        // 1. ᾱ at this and the previous timestep (1 past the last: the clean image).
        let alpha_bar = self.schedule.alpha_bar(Some(t));
        let alpha_bar_prev = self.schedule.alpha_bar(prev);
        // 2. x̂₀ from the predicted noise, clipped ("predicted x₀" in eq. 12), and the noise
        //    that the clipped x̂₀ implies. Stepping with the raw ε instead would pair a clipped x̂₀
        //    with noise that no longer matches it: under strong guidance, where ε overshoots,
        //    x_t then drifts off the data manifold and samples dissolve into blotches.
        let original = self.schedule.predict_original(t, sample.clone(), eps);
        let eps = (sample - original.clone().mul_scalar(alpha_bar.sqrt()))
            .div_scalar((1.0 - alpha_bar).sqrt());
        // 3. σ_t (eq. 16), zero at the last step.
        let sigma = match prev {
            Some(_) => self.sigma(alpha_bar, alpha_bar_prev),
            None => 0.0,
        };
        // 4. x_{t'} = √ᾱ_{t'} x̂₀ + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z (eq. 12).
        let mut prev_sample = original.clone().mul_scalar(alpha_bar_prev.sqrt())
            + eps.mul_scalar((1.0 - alpha_bar_prev - sigma * sigma).max(0.0).sqrt());
        if sigma > 0.0 {
            let noise = noise.expect("DDIM with eta > 0 needs fresh noise before the last step");
            prev_sample = prev_sample + noise.mul_scalar(sigma);
        }
        StepOutput {
            prev_sample,
            pred_original_sample: original,
        }
    }
}
