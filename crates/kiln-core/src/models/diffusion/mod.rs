//! Denoising diffusion (Ho et al. 2020, "DDPM"; Song et al. 2021, "DDIM"): the noise schedule of
//! the forward process, the samplers that run it backwards behind one [`Scheduler`] trait, and
//! the class-conditional model they sample ([`Diffusion`], a UNet trained to predict noise).
//!
//! Notation: x₀ a clean image scaled to `[-1, 1]`, x_t its noised version at timestep
//! t ∈ {0, …, T−1}, ε ~ N(0, I), β_t the noise added at step t, α_t = 1 − β_t,
//! ᾱ_t = Π_{s ≤ t} α_s. The network predicts ε from (x_t, t).

mod ddim;
mod ddpm;
mod family;
mod model;
mod sampling;
mod schedule;
mod unet;

pub use ddim::DdimScheduler;
pub use ddpm::DdpmScheduler;
pub use model::{Diffusion, DiffusionConfig};
pub use sampling::{
    DEFAULT_GUIDANCE, DEFAULT_STEPS, Denoising, Frame, MAX_GUIDANCE, SamplerKind, SamplingOptions,
};
pub use schedule::{BetaSchedule, NoiseSchedule, ScheduleError};
pub use unet::{Unet, UnetConfig};

use burn::tensor::Tensor;

/// What one reverse step produces.
#[derive(Debug, Clone)]
pub struct StepOutput {
    /// x at the previous (less noisy) timestep. Shape as the input sample.
    pub prev_sample: Tensor<4>,
    /// The step's estimate of x₀, clipped to `[-1, 1]`: what "watch it denoise" shows.
    pub pred_original_sample: Tensor<4>,
}

/// A reverse-process sampler: choose the timesteps, then call [`Scheduler::step`] once for each,
/// from the noisiest. `Send`, so that the threaded browser build can step on a thread of its pool.
pub trait Scheduler: Send {
    /// Use `steps` evenly spaced timesteps out of the schedule's T (1 ≤ steps ≤ T).
    fn set_timesteps(&mut self, steps: usize) -> Result<(), ScheduleError>;

    /// The timesteps `step` walks through, noisiest first (empty before `set_timesteps`).
    fn timesteps(&self) -> &[usize];

    /// Whether [`Scheduler::step`] needs fresh noise at step `index`.
    fn needs_noise(&self, index: usize) -> bool;

    /// Reverse step number `index` (into [`Scheduler::timesteps`]) from `sample` = x_t, given the
    /// network's ε prediction. `noise` is fresh N(0, I) noise of the sample's shape, drawn by the
    /// caller from the seeded CPU RNG when [`Scheduler::needs_noise`] says so.
    ///
    /// # Panics
    /// If `index` is out of range, or noise is needed and missing.
    fn step(
        &self,
        index: usize,
        eps: Tensor<4>,
        sample: Tensor<4>,
        noise: Option<Tensor<4>>,
    ) -> StepOutput;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise;
    use burn::tensor::Device;

    const T: usize = 1000;

    fn schedule() -> NoiseSchedule {
        NoiseSchedule::new(BetaSchedule::Linear, T).unwrap()
    }

    fn full(value: f32) -> Tensor<4> {
        Tensor::full([1, 1, 2, 2], value, &Device::flex())
    }

    fn scalar(t: Tensor<4>) -> f32 {
        t.into_data().as_slice::<f32>().unwrap()[0]
    }

    /// One step of each sampler on constant inputs, against values computed independently in
    /// Python from the papers' equations (10 steps: timesteps 900, 800, …, 0).
    #[test]
    fn single_steps_are_pinned() {
        // (step index, x_t, ε, x̂₀, DDIM η=0, DDIM η=1 with z = 0.3, DDPM with z = 0.3)
        let cases = [
            // t = 900 → 800: x̂₀ = 24.3 is clipped to 1, and DDIM steps with the noise that the
            // clipped x̂₀ implies, so η = 1 lands exactly where DDPM does.
            (0, 0.5, 0.1, 1.0, 0.522_088_4, 0.514_926_4, 0.514_926_4),
            // t = 100 → 0.
            (
                8,
                0.3,
                0.2,
                0.248_632_83,
                0.250_620_4,
                0.251_677_56,
                0.251_677_56,
            ),
        ];
        let mut ddim = DdimScheduler::new(schedule(), 0.0);
        let mut ddim_noisy = DdimScheduler::new(schedule(), 1.0);
        let mut ddpm = DdpmScheduler::new(schedule());
        for scheduler in [&mut ddim as &mut dyn Scheduler, &mut ddim_noisy, &mut ddpm] {
            scheduler.set_timesteps(10).unwrap();
        }
        for (index, x, eps, original, eta0, eta1, ancestral) in cases {
            let z = || Some(full(0.3));
            let out = ddim.step(index, full(eps), full(x), None);
            assert!((scalar(out.pred_original_sample) - original).abs() < 1e-5);
            assert!(
                (scalar(out.prev_sample) - eta0).abs() < 1e-5,
                "ddim η=0 at {index}"
            );
            let out = ddim_noisy.step(index, full(eps), full(x), z());
            assert!(
                (scalar(out.prev_sample) - eta1).abs() < 1e-5,
                "ddim η=1 at {index}"
            );
            let out = ddpm.step(index, full(eps), full(x), z());
            assert!(
                (scalar(out.prev_sample) - ancestral).abs() < 1e-5,
                "ddpm at {index}"
            );
        }
    }

    /// With a network that predicts the true noise, deterministic DDIM walks exactly along the
    /// forward process, and every sampler ends on the clean image.
    #[test]
    fn an_oracle_network_recovers_the_image() {
        let device = Device::flex();
        let shape = [2, 1, 4, 4];
        let s = schedule();
        let original = noise::standard_normal(1, shape, &device).clamp(-1.0, 1.0);
        let start_noise = noise::standard_normal(2, shape, &device);
        let oracle = |x: Tensor<4>, t: usize| {
            let a = s.alpha_bar(Some(t));
            (x - original.clone().mul_scalar(a.sqrt())).div_scalar((1.0 - a).sqrt())
        };
        let mut schedulers: Vec<Box<dyn Scheduler>> = vec![
            Box::new(DdimScheduler::new(s.clone(), 0.0)),
            Box::new(DdimScheduler::new(s.clone(), 1.0)),
            Box::new(DdpmScheduler::new(s.clone())),
        ];
        for (n, scheduler) in schedulers.iter_mut().enumerate() {
            scheduler.set_timesteps(20).unwrap();
            let first = scheduler.timesteps()[0];
            let mut x = s.add_noise(original.clone(), start_noise.clone(), &[first, first]);
            for index in 0..scheduler.timesteps().len() {
                let t = scheduler.timesteps()[index];
                let fresh = scheduler
                    .needs_noise(index)
                    .then(|| noise::standard_normal(100 + index as u64, shape, &device));
                x = scheduler
                    .step(index, oracle(x.clone(), t), x, fresh)
                    .prev_sample;
                if n == 0 && index == 9 {
                    let t_prev = scheduler.timesteps()[10];
                    let expected =
                        s.add_noise(original.clone(), start_noise.clone(), &[t_prev, t_prev]);
                    x.clone()
                        .into_data()
                        .assert_approx_eq::<f32>(&expected.into_data(), Default::default());
                }
            }
            x.into_data()
                .assert_approx_eq::<f32>(&original.clone().into_data(), Default::default());
        }
    }

    #[test]
    fn too_many_steps_is_an_error_naming_the_limit() {
        let mut ddim = DdimScheduler::new(schedule(), 0.0);
        assert!(ddim.timesteps().is_empty());
        let err = ddim.set_timesteps(T + 1).unwrap_err();
        assert_eq!(err, ScheduleError::Steps { got: T + 1, max: T });
        assert!(!ddim.needs_noise(0));
    }
}
