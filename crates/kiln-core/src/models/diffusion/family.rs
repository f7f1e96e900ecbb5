//! The diffusion model as a family: what it can do, how it trains and what it shows of it.

use burn::tensor::Device;

use super::model::{Diffusion, DiffusionConfig};
use super::sampling::{DEFAULT_STEPS, Denoising, SamplingOptions};
use super::unet::UnetConfig;
use crate::data::dataset::ImageShape;
use crate::family::{Capability, DataShape, Family, TrainingDefaults};
use crate::train::recipe::{HyperParameter, HyperParameters, Recipe, RecipeError};
use crate::train::{
    DigitBatch, Losses, Objective, PREVIEW_COUNT, PREVIEW_SEED, Preview, WithObjective,
};

impl Family for DiffusionConfig {
    type Loaded = Diffusion;

    const RECIPES: &'static [Recipe] = &[Recipe {
        name: "ddpm",
        about: "Class-conditional diffusion model (DDPM with a UNet and classifier-free guidance).",
    }];
    const HYPER_PARAMETERS: &'static [HyperParameter] = &[HyperParameter {
        name: "base-channels",
        about: "channels of the UNet's full-size stage, a multiple of 8 (the deeper stages have \
                2× and 4× as many) [default: 16]",
    }];

    fn configure(
        _recipe: &str,
        given: &HyperParameters,
        data: DataShape,
    ) -> Result<Self, RecipeError> {
        let (shape, classes) = data.images("ddpm")?;
        let mut ddpm = DiffusionConfig::new().with_unet(
            UnetConfig::new()
                .with_image(Some(shape))
                .with_num_classes(classes),
        );
        given.count("base-channels", &mut ddpm.unet.base_channels)?;
        Ok(ddpm)
    }

    fn validate(&self) -> Result<(), String> {
        DiffusionConfig::validate(self)
    }

    fn image_shape(&self) -> Option<ImageShape> {
        Some(self.unet.image_shape())
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::Sample,
            Capability::Conditional,
            Capability::Diffuse,
        ]
    }

    /// Half the usual rate (the noise-prediction loss is noisy), and sampling from a moving
    /// average of the weights: Ho et al. 2020 use 0.9999 over 800k steps; a few thousand steps
    /// on MNIST want a shorter memory.
    const TRAINING: TrainingDefaults = TrainingDefaults {
        learning_rate: 5e-4,
        ema: Some(0.999),
        ..TrainingDefaults::IMAGES
    };

    fn init(&self, device: &Device) -> Diffusion {
        DiffusionConfig::init(self, device)
    }

    fn train<T: WithObjective>(&self, device: &Device, task: T) -> T::Output {
        task.digits(DiffusionConfig::init(self, device))
    }
}

impl Objective for Diffusion {
    type Batch = DigitBatch;

    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let mse = self.loss(batch.images.clone(), batch.labels.clone(), seed);
        Losses {
            terms: vec![("mse", mse.clone())],
            total: mse,
        }
    }

    /// The default sampler (what the page shows first).
    fn preview(&self, device: &Device) -> Option<Preview> {
        let options = SamplingOptions {
            steps: DEFAULT_STEPS.min(self.schedule().len()),
            ..SamplingOptions::default()
        };
        let run = Denoising::new(
            self.clone(),
            PREVIEW_COUNT,
            PREVIEW_SEED,
            None,
            options,
            device,
        )
        .expect("steps within the schedule");
        Some(Preview::Images(Box::new(run.finish())))
    }
}
