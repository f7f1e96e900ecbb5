//! Ancestral sampling of Ho et al. 2020 (Algorithm 2), on any subsequence of the timesteps.

use burn::tensor::Tensor;

use super::schedule::{NoiseSchedule, ScheduleError, previous_timestep};
use super::{Scheduler, StepOutput};

/// DDPM: each step draws x_{t'} from the Gaussian posterior q(x_{t'} | x_t, x̂₀).
#[derive(Debug, Clone)]
pub struct DdpmScheduler {
    schedule: NoiseSchedule,
    timesteps: Vec<usize>,
}

impl DdpmScheduler {
    pub fn new(schedule: NoiseSchedule) -> Self {
        Self {
            schedule,
            timesteps: Vec::new(),
        }
    }
}

impl Scheduler for DdpmScheduler {
    fn set_timesteps(&mut self, steps: usize) -> Result<(), ScheduleError> {
        self.timesteps = self.schedule.inference_timesteps(steps)?;
        Ok(())
    }

    fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    fn needs_noise(&self, index: usize) -> bool {
        previous_timestep(&self.timesteps, index).is_some()
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
        // 1. ᾱ at this and the previous timestep; with skipped steps, the effective
        //    α = ᾱ_t / ᾱ_{t'} and β = 1 − α span the whole stride.
        let alpha_bar = self.schedule.alpha_bar(Some(t));
        let alpha_bar_prev = self.schedule.alpha_bar(prev);
        let alpha = alpha_bar / alpha_bar_prev;
        let beta = 1.0 - alpha;
        // 2. x̂₀ from the predicted noise (eq. 15), clipped.
        let original = self.schedule.predict_original(t, sample.clone(), eps);
        // 3. Posterior mean μ̃(x_t, x̂₀) (eq. 7).
        let mean = original
            .clone()
            .mul_scalar(alpha_bar_prev.sqrt() * beta / (1.0 - alpha_bar))
            + sample.mul_scalar(alpha.sqrt() * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar));
        // 4. Add σ·z with σ² = β̃ = (1 − ᾱ_{t'}) / (1 − ᾱ_t) · β (eq. 7); none at the last step.
        let prev_sample = match prev {
            Some(_) => {
                let variance = (1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * beta;
                let noise = noise.expect("DDPM needs fresh noise before the last step");
                mean + noise.mul_scalar(variance.sqrt())
            }
            None => mean,
        };
        StepOutput {
            prev_sample,
            pred_original_sample: original,
        }
    }
}
