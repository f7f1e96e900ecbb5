//! The class-conditional DDPM: a UNet that predicts the noise in x_t, trained with the simple
//! ε-loss (Ho et al. 2020, Algorithm 1) and label dropout so that one network is both the
//! conditional and the unconditional model of classifier-free guidance (Ho & Salimans 2022).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use rand::RngExt;

use super::schedule::{BetaSchedule, NoiseSchedule};
use super::unet::{Unet, UnetConfig};
use crate::noise;

/// Separates the timestep and dropout draws of a training seed from its noise draws.
const TRAINING_CHOICES_STREAM: u64 = 0x7157_e95e;

/// Hyper-parameters of a [`Diffusion`] model.
#[derive(Config, Debug, PartialEq)]
pub struct DiffusionConfig {
    /// T, the number of noise levels of the forward process.
    #[config(default = 1000)]
    pub timesteps: usize,
    /// How the noise grows with t.
    #[config(default = "BetaSchedule::Linear")]
    pub beta_schedule: BetaSchedule,
    /// The noise-prediction network.
    #[config(default = "UnetConfig::new()")]
    pub unet: UnetConfig,
    /// Chance that a training image's class is hidden, so the network also learns p(x).
    #[config(default = 0.1)]
    pub label_dropout: f64,
}

impl DiffusionConfig {
    pub fn validate(&self) -> Result<(), String> {
        NoiseSchedule::new(self.beta_schedule, self.timesteps).map_err(|e| e.to_string())?;
        if !(0.0..1.0).contains(&self.label_dropout) {
            return Err(format!(
                "label_dropout {} must be from 0 to below 1",
                self.label_dropout
            ));
        }
        self.unet.validate()
    }

    /// # Panics
    /// If the config is invalid (see [`DiffusionConfig::validate`]).
    pub fn init(&self, device: &Device) -> Diffusion {
        if let Err(why) = self.validate() {
            panic!("invalid DiffusionConfig: {why}");
        }
        Diffusion {
            unet: self.unet.init(device),
            schedule: NoiseSchedule::new(self.beta_schedule, self.timesteps)
                .expect("validated above"),
            label_dropout: self.label_dropout,
        }
    }
}

/// The network and the forward process it was trained to reverse.
#[derive(Module, Debug)]
pub struct Diffusion {
    pub unet: Unet,
    /// Derived from the config, not learned: not part of the weights.
    #[module(skip)]
    schedule: NoiseSchedule,
    label_dropout: f64,
}

impl Diffusion {
    pub fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    /// The ε-prediction loss of a labelled batch: noise each image at a random timestep, hide
    /// some labels, and take the mean squared error of the predicted noise. `seed` fixes the
    /// timesteps, the hidden labels and the noise.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]` in `[0, 1]`; labels: `[batch]`
    /// - output: `[1]`
    pub fn loss(&self, images: Tensor<4>, labels: Tensor<1, Int>, seed: u64) -> Tensor<1> {
        let shape = images.dims();
        let device = images.device();
        let mut rng = noise::rng(seed ^ TRAINING_CHOICES_STREAM);
        let timesteps: Vec<usize> = (0..shape[0])
            .map(|_| rng.random_range(0..self.schedule.len()))
            .collect();
        let hidden: Vec<bool> = (0..shape[0])
            .map(|_| rng.random::<f64>() < self.label_dropout)
            .collect();
        let hidden = Tensor::<1, Bool>::from_data(TensorData::new(hidden, [shape[0]]), &device);
        let labels = labels.mask_fill(hidden, self.unet.null_class() as i64);

        let eps = noise::standard_normal(seed, shape, &device);
        let noisy = self
            .schedule
            .add_noise(to_model_range(images), eps.clone(), &timesteps);
        let predicted = self.unet.forward(noisy, &timesteps, labels);
        (predicted - eps).powi_scalar(2).mean()
    }

    /// The noise in `noisy` at timestep `t` as guided prediction
    /// ε̃ = ε(x, ∅) + w · (ε(x, y) − ε(x, ∅)): w = 1 is the plain conditional model, larger w
    /// trades variety for digits that look more like their class.
    ///
    /// # Shapes
    /// - noisy, output: `[batch, 1, 28, 28]`; labels: `[batch]`
    pub fn guided_noise(
        &self,
        noisy: Tensor<4>,
        t: usize,
        labels: Tensor<1, Int>,
        guidance: f64,
    ) -> Tensor<4> {
        let [batch, ..] = noisy.dims();
        if guidance == 1.0 {
            return self.unet.forward(noisy, &vec![t; batch], labels);
        }
        // One pass reading each image twice: with its label, and with "no class".
        let null = Tensor::<1, Int>::full([batch], self.unet.null_class() as i64, &noisy.device());
        let both = self.unet.forward(
            noisy,
            &vec![t; 2 * batch],
            Tensor::cat(vec![labels, null], 0),
        );
        let conditional = both.clone().narrow(0, 0, batch);
        let unconditional = both.narrow(0, batch, batch);
        unconditional.clone() + (conditional - unconditional).mul_scalar(guidance)
    }
}

/// Intensities in `[0, 1]` → the `[-1, 1]` the forward process is defined on.
pub fn to_model_range(images: Tensor<4>) -> Tensor<4> {
    images.mul_scalar(2.0).sub_scalar(1.0)
}

/// The model's `[-1, 1]` → intensities in `[0, 1]`, clipped (x_t strays outside while noisy).
pub fn to_intensities(x: Tensor<4>) -> Tensor<4> {
    x.add_scalar(1.0).div_scalar(2.0).clamp(0.0, 1.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_util::{overfits, toy_digits};

    /// A network small enough for unit tests.
    pub(crate) fn tiny() -> DiffusionConfig {
        DiffusionConfig::new().with_unet(UnetConfig::new().with_base_channels(8))
    }

    fn labels(values: Vec<i32>, device: &Device) -> Tensor<1, Int> {
        let len = values.len();
        Tensor::from_data(TensorData::new(values, [len]), device)
    }

    #[test]
    fn the_unet_keeps_the_image_shape() {
        let device = Device::flex();
        for attention in [true, false] {
            let config = tiny().with_unet(tiny().unet.with_attention(attention));
            let model = config.init(&device);
            let x = Tensor::<4>::zeros([3, 1, 28, 28], &device);
            let eps = model
                .unet
                .forward(x, &[0, 500, 999], labels(vec![0, 9, 10], &device));
            assert_eq!(eps.dims(), [3, 1, 28, 28]);
        }
    }

    #[test]
    fn invalid_configs_name_the_value() {
        assert_eq!(
            tiny()
                .with_unet(UnetConfig::new().with_base_channels(12))
                .validate()
                .unwrap_err(),
            "base_channels 12 must be a multiple of 8"
        );
        assert_eq!(
            tiny().with_timesteps(1).validate().unwrap_err(),
            "a noise schedule needs at least 2 timesteps, got 1"
        );
        assert!(tiny().with_label_dropout(1.0).validate().is_err());
    }

    #[test]
    fn guidance_mixes_the_conditional_and_unconditional_predictions() {
        let device = Device::flex();
        let model = tiny().init(&device);
        let x = crate::noise::standard_normal(1, [2, 1, 28, 28], &device);
        let digits = labels(vec![3, 7], &device);
        let null = labels(vec![10, 10], &device);
        let conditional = model.unet.forward(x.clone(), &[400, 400], digits.clone());
        let unconditional = model.unet.forward(x.clone(), &[400, 400], null);
        let tolerance = burn::tensor::Tolerance::absolute(1e-5);
        let guided = |w| model.guided_noise(x.clone(), 400, digits.clone(), w);
        guided(1.0)
            .into_data()
            .assert_approx_eq::<f32>(&conditional.clone().into_data(), tolerance);
        guided(0.0)
            .into_data()
            .assert_approx_eq::<f32>(&unconditional.clone().into_data(), tolerance);
        let expected = unconditional.clone() + (conditional - unconditional).mul_scalar(3.0);
        guided(3.0)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), tolerance);
    }

    #[test]
    fn the_noise_loss_overfits_a_tiny_batch() {
        let device = Device::flex().autodiff();
        device.seed(0);
        let model = tiny().init(&device);
        let images = toy_digits(4, &device);
        let classes = labels(vec![0, 1, 2, 3], &device);
        // The same timesteps and noise at every step, so the loss can only fall by learning.
        let (first, last) = overfits(model, 60, |m: &Diffusion, _| {
            m.loss(images.clone(), classes.clone(), 5)
        });
        assert!(last < 0.3 * first, "loss went from {first} to {last}");
    }
}
