//! Denoising autoencoder (Vincent et al. 2008): trained to restore clean digits from copies
//! damaged by Gaussian noise and random erasing, through a small code that forces it to learn what
//! digits look like rather than to copy pixels.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};

use crate::data::corruption::Corruption;
use crate::data::dataset::ImageShape;
use crate::family::{Capability, DataShape, Family};
use crate::limits::{MAX_WIDTH, check_sizes};
use crate::models::layers::{ConvDecoder, ConvEncoder, ConvStackConfig};
use crate::models::vae::bernoulli_nll;
use crate::train::recipe::{HyperParameter, HyperParameters, Recipe, RecipeError};
use crate::train::{DigitBatch, Losses, Objective, WithObjective};

/// Hyper-parameters of the [`DenoisingAutoencoder`] and of the damage it learns to undo.
#[derive(Config, Debug, PartialEq)]
pub struct AutoencoderConfig {
    /// Side of the square input images; must be divisible by 4 (two stride-2 stages).
    #[config(default = 28)]
    pub image_size: usize,
    /// Image channels (1 for grayscale digits).
    #[config(default = 1)]
    pub channels: usize,
    /// Channels of the first conv stage; the second has twice as many.
    #[config(default = 32)]
    pub base_channels: usize,
    /// Width of the dense layers on either side of the code (see the VAE's `hidden`).
    #[config(default = 64)]
    pub hidden: usize,
    /// Size of the bottleneck code.
    #[config(default = 32)]
    pub code_dim: usize,
    /// Training noise: each image gets Gaussian noise with a standard deviation drawn from
    /// `[0, max_noise_std]` (pixel intensities are in `[0, 1]`).
    #[config(default = 0.6)]
    pub max_noise_std: f64,
    /// Training erasing: the probability that a random rectangle of an image is blacked out.
    #[config(default = 0.5)]
    pub erase_prob: f64,
}

impl AutoencoderConfig {
    fn stack(&self) -> ConvStackConfig {
        ConvStackConfig::new(
            self.image_size,
            self.channels,
            self.base_channels,
            self.hidden,
        )
    }

    pub fn validate(&self) -> Result<(), String> {
        self.stack().validate()?;
        check_sizes(&[("code_dim", self.code_dim, MAX_WIDTH)])?;
        if !(self.max_noise_std.is_finite() && self.max_noise_std >= 0.0) {
            return Err(format!(
                "max_noise_std {} must be a finite number ≥ 0",
                self.max_noise_std
            ));
        }
        if !(0.0..=1.0).contains(&self.erase_prob) {
            return Err(format!(
                "erase_prob {} must be from 0 to 1",
                self.erase_prob
            ));
        }
        Ok(())
    }

    /// The damage training applies.
    pub fn training_corruption(&self) -> Corruption {
        Corruption::Random {
            max_noise_std: self.max_noise_std,
            erase_prob: self.erase_prob,
        }
    }

    /// # Panics
    /// If the config is invalid (see [`AutoencoderConfig::validate`]).
    pub fn init(&self, device: &Device) -> DenoisingAutoencoder {
        if let Err(why) = self.validate() {
            panic!("invalid AutoencoderConfig: {why}");
        }
        let stack = self.stack();
        DenoisingAutoencoder {
            encoder: stack.init_encoder(device),
            code: LinearConfig::new(self.hidden, self.code_dim).init(device),
            decoder: stack.init_decoder(self.code_dim, device),
            corruption: self.training_corruption(),
            input: [self.channels, self.image_size],
        }
    }
}

/// `damaged x → code → logits of the clean x`.
#[derive(Module, Debug)]
pub struct DenoisingAutoencoder {
    encoder: ConvEncoder,
    code: Linear,
    decoder: ConvDecoder,
    #[module(skip)]
    corruption: Corruption,
    /// `[channels, side]` of its images.
    input: [usize; 2],
}

/// Per-image loss terms of a batch.
#[derive(Debug, Clone)]
pub struct AutoencoderLoss {
    /// Bernoulli negative log-likelihood of the clean image (nats per image); the objective.
    /// Shape `[1]`.
    pub reconstruction: Tensor<1>,
    /// Mean squared error per pixel between the restored and the clean image. Shape `[1]`.
    pub mse: Tensor<1>,
}

impl DenoisingAutoencoder {
    /// The images it restores.
    pub fn image_shape(&self) -> ImageShape {
        let [channels, side] = self.input;
        ImageShape { channels, side }
    }

    /// Bernoulli logits of the clean images.
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]` in `[0, 1]` (damaged or not)
    /// - output: `[batch, channels, side, side]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let code = relu(self.code.forward(self.encoder.forward(images))); // (B, code)
        self.decoder.forward(code)
    }

    /// The restored images, in `[0, 1]`.
    ///
    /// # Shapes
    /// - images, output: `[batch, channels, side, side]`
    pub fn denoise(&self, images: Tensor<4>) -> Tensor<4> {
        sigmoid(self.forward(images))
    }

    /// Damage `images` with the training corruption (seeded), then score the restoration.
    pub fn loss(&self, images: Tensor<4>, seed: u64) -> AutoencoderLoss {
        let damaged = self.corruption.apply(images.clone(), seed);
        let logits = self.forward(damaged);
        let mse = (sigmoid(logits.clone()) - images.clone())
            .powi_scalar(2)
            .mean();
        AutoencoderLoss {
            reconstruction: bernoulli_nll(logits, images).mean(),
            mse,
        }
    }
}

impl Family for AutoencoderConfig {
    type Loaded = DenoisingAutoencoder;

    const RECIPES: &'static [Recipe] = &[Recipe {
        name: "ae",
        about: "Denoising convolutional autoencoder (Gaussian noise and random erasing).",
    }];
    const HYPER_PARAMETERS: &'static [HyperParameter] = &[HyperParameter {
        name: "hidden",
        about: "width of the dense layer on either side of the code [default: 64]",
    }];

    fn configure(
        _recipe: &str,
        given: &HyperParameters,
        data: DataShape,
    ) -> Result<Self, RecipeError> {
        let (shape, _) = data.images("ae")?;
        let mut ae = AutoencoderConfig::new()
            .with_image_size(shape.side)
            .with_channels(shape.channels);
        given.count("hidden", &mut ae.hidden)?;
        Ok(ae)
    }

    fn validate(&self) -> Result<(), String> {
        AutoencoderConfig::validate(self)
    }

    fn image_shape(&self) -> Option<ImageShape> {
        Some(ImageShape {
            channels: self.channels,
            side: self.image_size,
        })
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::Denoise]
    }

    fn init(&self, device: &Device) -> DenoisingAutoencoder {
        AutoencoderConfig::init(self, device)
    }

    fn train<T: WithObjective>(&self, device: &Device, task: T) -> T::Output {
        task.digits(AutoencoderConfig::init(self, device))
    }
}

impl Objective for DenoisingAutoencoder {
    type Batch = DigitBatch;

    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), seed);
        Losses {
            terms: vec![("mse", loss.mse)],
            total: loss.reconstruction,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{overfits, toy_digits};

    fn small() -> AutoencoderConfig {
        AutoencoderConfig::new()
            .with_base_channels(8)
            .with_hidden(32)
            .with_code_dim(8)
    }

    #[test]
    fn shapes_and_range() {
        let device = Device::flex();
        let ae = small().init(&device);
        let out = ae.denoise(toy_digits(3, &device));
        assert_eq!(out.dims(), [3, 1, 28, 28]);
        assert!(out.clone().min().into_scalar::<f32>() >= 0.0);
        assert!(out.max().into_scalar::<f32>() <= 1.0);
    }

    #[test]
    fn invalid_config_names_the_value() {
        assert_eq!(
            small().with_code_dim(0).validate().unwrap_err(),
            "code_dim must be positive"
        );
        assert!(small().with_erase_prob(1.5).validate().is_err());
        assert!(small().with_max_noise_std(f64::NAN).validate().is_err());
    }

    #[test]
    fn learns_to_restore_damaged_toy_digits() {
        let device = Device::flex().autodiff();
        device.seed(0);
        let images = toy_digits(8, &device);
        let (first, last) = overfits(
            small().init(&device),
            150,
            |ae: &DenoisingAutoencoder, step| ae.loss(images.clone(), step).reconstruction,
        );
        assert!(last < 0.5 * first, "loss went from {first} to {last}");
    }
}
