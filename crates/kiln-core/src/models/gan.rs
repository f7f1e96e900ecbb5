//! Class-conditional DCGAN (Radford et al. 2016; Mirza & Osindero 2014 for the condition).
//!
//! The generator G(z, y) maps noise z ~ N(0, I) and a digit class y to an image through
//! transposed convolutions; the discriminator D(x, y) scores how real an image looks for its
//! class, with a projection of the class embedding onto its features (Miyato & Koyama 2018).
//! Training uses the non-saturating loss with one-sided label smoothing (Salimans et al. 2016).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::{leaky_relu, relu, sigmoid, softplus};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::dataset::ImageShape;
use crate::drawing::{Codes, DrawsImages, class_labels};
use crate::family::{Capability, DataShape, Family, TrainingDefaults};
use crate::io::weights::{self, WeightError};
use crate::limits::{MAX_IMAGE_SIDE, MAX_SYMBOLS, MAX_WIDTH, check_sizes};
use crate::models::layers::{DOWNSAMPLING, doubling_deconv, halving_conv, multiple_of};
use crate::models::transposed_conv;
use crate::noise;
use crate::train::recipe::{HyperParameters, Recipe, RecipeError};
use crate::train::{
    DigitBatch, Losses, Objective, PREVIEW_COUNT, PREVIEW_SEED, Preview, WithObjective,
};

/// Slope of the discriminator's leaky ReLUs (DCGAN's choice).
const LEAKY_SLOPE: f64 = 0.2;
/// Groups of the generator's group norms (stateless, unlike batch norm, so sampling is the same
/// function on every backend).
const NORM_GROUPS: usize = 8;

/// Where a [`Gan`]'s weight file keeps the generator's tensors (its field name), so that
/// sampling loads them from the whole GAN's file as from the generator's own.
pub const GENERATOR_FIELD: &str = "generator";

/// Hyper-parameters of the [`Gan`].
#[derive(Config, Debug, PartialEq)]
pub struct GanConfig {
    /// Dimension of the noise z.
    #[config(default = 64)]
    pub latent_dim: usize,
    /// Channels of the half-size stage; the quarter-size stage (7×7 for 28×28 images) has twice
    /// as many. A multiple of 8.
    #[config(default = 32)]
    pub base_channels: usize,
    /// Size of the class embedding given to the generator.
    #[config(default = 16)]
    pub class_embedding: usize,
    /// Width of the discriminator's last hidden layer.
    #[config(default = 256)]
    pub hidden: usize,
    /// Classes it draws.
    #[config(default = 10)]
    pub num_classes: usize,
    /// The images it draws; `None` (specs written before Kiln read picture folders): 28×28
    /// grayscale.
    #[config(default = "None")]
    pub image: Option<ImageShape>,
    /// Target for real images in the discriminator loss (one-sided label smoothing); 1 disables it.
    #[config(default = 0.9)]
    pub real_label: f64,
}

impl GanConfig {
    pub fn validate(&self) -> Result<(), String> {
        check_sizes(&[
            ("latent_dim", self.latent_dim, MAX_WIDTH),
            ("base_channels", self.base_channels, MAX_WIDTH),
            ("class_embedding", self.class_embedding, MAX_WIDTH),
            ("hidden", self.hidden, MAX_WIDTH),
            ("num_classes", self.num_classes, MAX_SYMBOLS),
            ("image side", self.image_shape().side, MAX_IMAGE_SIDE),
            ("image channels", self.image_shape().channels, MAX_WIDTH),
        ])?;
        multiple_of("base_channels", self.base_channels, NORM_GROUPS)?;
        multiple_of("image side", self.image_shape().side, DOWNSAMPLING)?;
        if !(0.5..=1.0).contains(&self.real_label) {
            return Err(format!(
                "real_label {} must be from 0.5 to 1",
                self.real_label
            ));
        }
        Ok(())
    }

    /// The generator and the discriminator that trains it.
    ///
    /// # Panics
    /// If the config is invalid (see [`GanConfig::validate`]).
    pub fn init(&self, device: &Device) -> Gan {
        let [c1, c2] = [self.base_channels, 2 * self.base_channels];
        Gan {
            generator: self.init_generator(device),
            discriminator: Discriminator {
                conv1: halving_conv(self.image_shape().channels, c1, device),
                conv2: halving_conv(c1, c2, device),
                hidden: LinearConfig::new(self.feature_len(), self.hidden).init(device),
                score: LinearConfig::new(self.hidden, 1).init(device),
                class_projection: EmbeddingConfig::new(self.num_classes, self.hidden).init(device),
            },
            real_label: self.real_label,
        }
    }

    /// The generator alone: all that sampling needs.
    ///
    /// # Panics
    /// If the config is invalid (see [`GanConfig::validate`]).
    pub fn init_generator(&self, device: &Device) -> Generator {
        if let Err(why) = self.validate() {
            panic!("invalid GanConfig: {why}");
        }
        let [c1, c2] = [self.base_channels, 2 * self.base_channels];
        Generator {
            class_embedding: EmbeddingConfig::new(self.num_classes, self.class_embedding)
                .init(device),
            project: LinearConfig::new(self.latent_dim + self.class_embedding, self.feature_len())
                .init(device),
            norm0: GroupNormConfig::new(NORM_GROUPS, c2).init(device),
            deconv1: doubling_deconv(c2, c1, device),
            norm1: GroupNormConfig::new(NORM_GROUPS, c1).init(device),
            deconv2: doubling_deconv(c1, self.image_shape().channels, device),
            latent_dim: self.latent_dim,
            num_classes: self.num_classes,
            feature_channels: c2,
            feature_side: self.feature_side(),
        }
    }

    pub fn image_shape(&self) -> ImageShape {
        self.image.unwrap_or(ImageShape::MNIST)
    }

    /// Side of the generator's first feature map, doubled twice to the image's.
    fn feature_side(&self) -> usize {
        self.image_shape().side / DOWNSAMPLING
    }

    /// Values in the first feature map between the generator's projection and its first
    /// deconv (and between the discriminator's convs and its dense layer).
    fn feature_len(&self) -> usize {
        2 * self.base_channels * self.feature_side().pow(2)
    }
}

/// G(z, y): noise and class → image.
#[derive(Module, Debug)]
pub struct Generator {
    class_embedding: Embedding,
    project: Linear,
    norm0: GroupNorm,
    deconv1: ConvTranspose2d,
    norm1: GroupNorm,
    deconv2: ConvTranspose2d,
    latent_dim: usize,
    num_classes: usize,
    feature_channels: usize,
    feature_side: usize,
}

impl Generator {
    /// Images in `[0, 1]`.
    ///
    /// # Shapes
    /// - latents: `[batch, latent]`; labels: `[batch]`
    /// - output: `[batch, channels, side, side]`
    pub fn forward(&self, latents: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<4> {
        let [batch, _] = latents.dims();
        let embedded = self
            .class_embedding
            .forward(labels.reshape([batch, 1]))
            .flatten::<2>(1, 2); // (B, class_embedding)
        let x = self
            .project
            .forward(Tensor::cat(vec![latents, embedded], 1)); // (B, c2·s·s)
        let s = self.feature_side;
        let x = x.reshape([batch, self.feature_channels, s, s]); // (B, c2, side/4, side/4)
        let x = relu(self.norm0.forward(x));
        let x = transposed_conv::forward(&self.deconv1, x); // (B, c1, side/2, side/2)
        let x = relu(self.norm1.forward(x));
        sigmoid(transposed_conv::forward(&self.deconv2, x)) // (B, channels, side, side)
    }

    /// The codes of `count` images with latents from `seed`: all of `class`, or image i of class
    /// i mod num_classes.
    ///
    /// # Panics
    /// If `class` is not below `num_classes` (the model layer checks requests first).
    pub fn codes(&self, count: usize, seed: u64, class: Option<usize>, device: &Device) -> Codes {
        Codes {
            latents: noise::standard_normal(seed, [count, self.latent_dim], device),
            labels: Some(class_labels(count, class, self.num_classes, device)),
        }
    }

    /// Images in `[0, 1]` from [`Generator::codes`].
    ///
    /// # Panics
    /// If the codes have no labels: every image a generator draws has a class.
    pub fn decode_images(&self, codes: Codes) -> Tensor<4> {
        let labels = codes
            .labels
            .expect("a generator draws every image of a class");
        self.forward(codes.latents, labels)
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }
}

/// D(x, y): a realness logit for an image of a claimed class.
#[derive(Module, Debug)]
pub struct Discriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    hidden: Linear,
    score: Linear,
    class_projection: Embedding,
}

impl Discriminator {
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]` in `[0, 1]`; labels: `[batch]`
    /// - output: `[batch]` logits
    pub fn forward(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        let [batch, ..] = images.dims();
        let x = leaky_relu(self.conv1.forward(images), LEAKY_SLOPE); // (B, c1, 14, 14)
        let x = leaky_relu(self.conv2.forward(x), LEAKY_SLOPE); // (B, c2, 7, 7)
        let h = leaky_relu(self.hidden.forward(x.flatten::<2>(1, 3)), LEAKY_SLOPE); // (B, hidden)
        let class = self
            .class_projection
            .forward(labels.reshape([batch, 1]))
            .flatten::<2>(1, 2); // (B, hidden)
        let projection = (h.clone() * class).sum_dim(1); // (B, 1)
        (self.score.forward(h) + projection).squeeze_dim(1)
    }
}

/// Generator and discriminator, trained and stored together.
#[derive(Module, Debug)]
pub struct Gan {
    pub generator: Generator,
    pub discriminator: Discriminator,
    real_label: f64,
}

/// The two losses of one batch (per image, nats).
#[derive(Debug, Clone)]
pub struct GanLoss {
    /// Discriminator: −log D on real images (target `real_label`) − log(1 − D) on generated ones.
    /// Shape `[1]`.
    pub discriminator: Tensor<1>,
    /// Generator, non-saturating: −log D(G(z, y), y). Shape `[1]`.
    pub generator: Tensor<1>,
}

impl Gan {
    /// Mean binary cross-entropy of `logits` against a constant `target`, in the overflow-free
    /// form `softplus(ℓ) − target·ℓ`.
    fn bce(logits: Tensor<1>, target: f64) -> Tensor<1> {
        (softplus(logits.clone(), 1.0) - logits.mul_scalar(target)).mean()
    }

    /// Discriminator loss on real `images` and on `fakes` for `fake_labels`; the fakes are
    /// detached, so only the discriminator learns from it.
    pub fn discriminator_loss(
        &self,
        images: Tensor<4>,
        labels: Tensor<1, Int>,
        fakes: Tensor<4>,
        fake_labels: Tensor<1, Int>,
    ) -> Tensor<1> {
        let real = self.discriminator.forward(images, labels);
        let fake = self.discriminator.forward(fakes.detach(), fake_labels);
        Self::bce(real, self.real_label) + Self::bce(fake, 0.0)
    }

    /// Non-saturating generator loss on `fakes` generated for `fake_labels`.
    pub fn generator_loss(&self, fakes: Tensor<4>, fake_labels: Tensor<1, Int>) -> Tensor<1> {
        Self::bce(self.discriminator.forward(fakes, fake_labels), 1.0)
    }

    /// Noise and random classes for a batch of `batch` fakes, from `seed`.
    ///
    /// # Shapes
    /// - output: `[batch, latent]` and `[batch]`
    pub fn fake_inputs(
        &self,
        batch: usize,
        seed: u64,
        device: &Device,
    ) -> (Tensor<2>, Tensor<1, Int>) {
        use rand::RngExt;
        let latents = noise::standard_normal(seed, [batch, self.generator.latent_dim], device);
        let mut rng = noise::rng(seed ^ LABEL_STREAM);
        let labels: Vec<i32> = (0..batch)
            .map(|_| rng.random_range(0..self.generator.num_classes) as i32)
            .collect();
        (
            latents,
            Tensor::from_data(TensorData::new(labels, [batch]), device),
        )
    }

    /// Both losses of a labelled batch, without updating anything (for evaluation).
    pub fn loss(&self, images: Tensor<4>, labels: Tensor<1, Int>, seed: u64) -> GanLoss {
        let [batch, ..] = images.dims();
        let (latents, fake_labels) = self.fake_inputs(batch, seed, &images.device());
        let fakes = self.generator.forward(latents, fake_labels.clone());
        GanLoss {
            discriminator: self.discriminator_loss(
                images,
                labels,
                fakes.clone(),
                fake_labels.clone(),
            ),
            generator: self.generator_loss(fakes, fake_labels),
        }
    }
}

/// Separates the label draws from the latent draws of the same seed.
const LABEL_STREAM: u64 = 0x5eed_1abe1;

/// A GAN's weight file holds its generator alone: all that sampling needs.
impl Family for GanConfig {
    type Loaded = Generator;

    const RECIPES: &'static [Recipe] = &[Recipe {
        name: "gan",
        about: "Class-conditional DCGAN (generator and discriminator trained in turn).",
    }];

    fn configure(
        _recipe: &str,
        _given: &HyperParameters,
        data: DataShape,
    ) -> Result<Self, RecipeError> {
        let (shape, classes) = data.images("gan")?;
        Ok(GanConfig::new()
            .with_image(Some(shape))
            .with_num_classes(classes))
    }

    fn validate(&self) -> Result<(), String> {
        GanConfig::validate(self)
    }

    fn image_shape(&self) -> Option<ImageShape> {
        Some(GanConfig::image_shape(self))
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::Sample, Capability::Conditional]
    }

    /// DCGAN's learning rate (Radford et al. 2016).
    const TRAINING: TrainingDefaults = TrainingDefaults {
        learning_rate: 2e-4,
        ..TrainingDefaults::IMAGES
    };

    fn init(&self, device: &Device) -> Generator {
        self.init_generator(device)
    }

    fn load(&self, bytes: &[u8], device: &Device) -> Result<Generator, WeightError> {
        weights::load_within(self.init_generator(device), bytes, GENERATOR_FIELD)
    }

    fn train<T: WithObjective>(&self, device: &Device, task: T) -> T::Output {
        task.digits(GanConfig::init(self, device))
    }
}

impl Objective for Gan {
    type Batch = DigitBatch;

    /// Both losses on a held-out batch; `total` is their sum, for the loss tables only.
    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), batch.labels.clone(), seed);
        Losses {
            total: loss.discriminator.clone() + loss.generator.clone(),
            terms: vec![("d_loss", loss.discriminator), ("g_loss", loss.generator)],
        }
    }

    fn preview(&self, device: &Device) -> Option<Preview> {
        Some(Preview::Images(Box::new(self.generator.draw(
            PREVIEW_COUNT,
            PREVIEW_SEED,
            None,
            device,
        ))))
    }

    /// Adam with β₁ = 0.5, as DCGAN: less momentum keeps the two players from overshooting.
    fn adam() -> AdamConfig {
        AdamConfig::new().with_beta_1(0.5)
    }

    /// A discriminator step on real and generated digits, then a generator step against the
    /// updated discriminator, each moving only its own player's parameters.
    fn train_step(
        self,
        batch: &DigitBatch,
        seed: u64,
        optimizer: &mut ModuleOptimizer,
        learning_rate: f64,
    ) -> (Self, Losses) {
        let [size, ..] = batch.images.dims();
        let (latents, fake_labels) = self.fake_inputs(size, seed, &batch.images.device());
        let fakes = self.generator.forward(latents.clone(), fake_labels.clone());
        let d_loss = self.discriminator_loss(
            batch.images.clone(),
            batch.labels.clone(),
            fakes,
            fake_labels.clone(),
        );
        let grads = GradientsParams::from_grads(d_loss.backward(), &self.discriminator);
        let gan = optimizer.step(learning_rate, self, grads);

        let fakes = gan.generator.forward(latents, fake_labels.clone());
        let g_loss = gan.generator_loss(fakes, fake_labels);
        let grads = GradientsParams::from_grads(g_loss.backward(), &gan.generator);
        let gan = optimizer.step(learning_rate, gan, grads);
        let losses = Losses {
            total: d_loss.clone() + g_loss.clone(),
            terms: vec![("d_loss", d_loss), ("g_loss", g_loss)],
        };
        (gan, losses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::toy_digits;

    fn small() -> GanConfig {
        GanConfig::new()
            .with_latent_dim(8)
            .with_base_channels(8)
            .with_hidden(16)
    }

    #[test]
    fn shapes_and_range() {
        let device = Device::flex();
        let gan = small().init(&device);
        let images = gan.generator.draw(4, 1, Some(3), &device);
        assert_eq!(images.dims(), [4, 1, 28, 28]);
        assert!(images.clone().min().into_scalar::<f32>() >= 0.0);
        assert!(images.clone().max().into_scalar::<f32>() <= 1.0);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0, 1, 2, 3], [4]), &device);
        assert_eq!(gan.discriminator.forward(images, labels).dims(), [4]);
    }

    #[test]
    fn invalid_config_names_the_value() {
        assert_eq!(
            small().with_base_channels(12).validate().unwrap_err(),
            "base_channels 12 must be a multiple of 8"
        );
        assert!(small().with_real_label(1.5).validate().is_err());
    }

    #[test]
    fn the_discriminator_learns_to_tell_toy_digits_from_fakes() {
        use crate::train::gradient_step;
        use burn::optim::AdamConfig;
        let device = Device::flex().autodiff();
        device.seed(0);
        let mut gan = small().init(&device);
        let images = toy_digits(8, &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1; 8], [8]), &device);
        let mut optimizer = AdamConfig::new().init();
        let loss = |gan: &Gan| {
            let (latents, fake_labels) = gan.fake_inputs(8, 5, &device);
            let fakes = gan.generator.forward(latents, fake_labels.clone());
            gan.discriminator_loss(images.clone(), labels.clone(), fakes, fake_labels)
        };
        let first = loss(&gan).into_scalar::<f32>();
        for _ in 0..40 {
            let l = loss(&gan);
            gan = gradient_step(&mut optimizer, 2e-3, gan, l);
        }
        let last = loss(&gan).into_scalar::<f32>();
        assert!(
            last < 0.5 * first,
            "discriminator loss went from {first} to {last}"
        );
    }
}
