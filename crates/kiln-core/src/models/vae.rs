//! Convolutional variational autoencoder (Kingma & Welling 2014, "Auto-Encoding Variational Bayes").
//!
//! Notation: x an image, z a latent code, q(z|x) = N(μ, diag σ²) the encoder, p(x|z) a Bernoulli
//! decoder, p(z) = N(0, I) the prior. Training minimises the negative β-ELBO
//! `−E_q[log p(x|z)] + β·KL(q(z|x) ‖ p(z))` (Higgins et al. 2017 for β).
//!
//! With `num_classes` set it is a conditional VAE (Sohn et al. 2015): encoder and decoder both
//! see the one-hot class y, so q(z|x, y) keeps only the style and p(x|z, y) draws the asked-for
//! digit.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::dataset::ImageShape;
use crate::drawing::{Codes, DrawsImages, class_labels};
use crate::family::{Capability, DataShape, Family};
use crate::interpolation::slerp_path;
use crate::limits::{MAX_SYMBOLS, MAX_WIDTH, check_sizes};
use crate::models::layers::{ConvDecoder, ConvEncoder, ConvStackConfig};
use crate::noise;
use crate::train::recipe::{HyperParameter, HyperParameters, Recipe, RecipeError};
use crate::train::{
    DigitBatch, Losses, Objective, PREVIEW_COUNT, PREVIEW_SEED, Preview, WithObjective,
};

/// Hyper-parameters of the [`Vae`]; stored beside the weights so inference can rebuild it.
#[derive(Config, Debug, PartialEq)]
pub struct VaeConfig {
    /// Side of the square input images; must be divisible by 4 (two stride-2 stages).
    #[config(default = 28)]
    pub image_size: usize,
    /// Image channels (1 for grayscale digits).
    #[config(default = 1)]
    pub channels: usize,
    /// Channels of the first conv stage; the second has twice as many.
    #[config(default = 32)]
    pub base_channels: usize,
    /// Width of the fully connected layer between the conv stack and the latent code. Most of
    /// the parameters sit in the two dense layers to and from the conv features; 64 keeps a
    /// trained model's figures at a quarter of the size of 256.
    #[config(default = 64)]
    pub hidden: usize,
    /// Dimension of the latent code z.
    #[config(default = 16)]
    pub latent_dim: usize,
    /// Weight of the KL term; 1 gives the true ELBO.
    #[config(default = 1.0)]
    pub beta: f64,
    /// Number of classes to condition on (a CVAE); `None` for a plain VAE.
    #[config(default = "None")]
    pub num_classes: Option<usize>,
}

impl VaeConfig {
    fn stack(&self) -> ConvStackConfig {
        ConvStackConfig::new(
            self.image_size,
            self.channels,
            self.base_channels,
            self.hidden,
        )
    }

    /// Check the invariants `init` relies on, naming the offending values.
    pub fn validate(&self) -> Result<(), String> {
        self.stack().validate()?;
        check_sizes(&[
            ("latent_dim", self.latent_dim, MAX_WIDTH),
            ("num_classes", self.num_classes.unwrap_or(1), MAX_SYMBOLS),
        ])?;
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(format!("beta {} must be a finite number ≥ 0", self.beta));
        }
        Ok(())
    }

    /// Build a freshly initialised VAE.
    ///
    /// # Panics
    /// If the config is invalid (see [`VaeConfig::validate`]).
    pub fn init(&self, device: &Device) -> Vae {
        if let Err(why) = self.validate() {
            panic!("invalid VaeConfig: {why}");
        }
        let stack = self.stack();
        let classes = self.num_classes.unwrap_or(0);
        let posterior = || LinearConfig::new(self.hidden + classes, self.latent_dim).init(device);
        Vae {
            encoder: stack.init_encoder(device),
            enc_mean: posterior(),
            enc_log_var: posterior(),
            decoder: stack.init_decoder(self.latent_dim + classes, device),
            latent_dim: self.latent_dim,
            num_classes: classes,
            beta: self.beta,
        }
    }
}

/// A convolutional VAE: `x → (μ, log σ²) → z → logits of p(x|z)`.
#[derive(Module, Debug)]
pub struct Vae {
    encoder: ConvEncoder,
    enc_mean: Linear,
    enc_log_var: Linear,
    decoder: ConvDecoder,
    latent_dim: usize,
    /// 0 for a plain VAE.
    num_classes: usize,
    beta: f64,
}

/// Class labels of a batch, shape `[batch]`: required by a conditional VAE, ignored otherwise.
pub type Labels = Option<Tensor<1, Int>>;

/// The parameters of q(z|x).
#[derive(Debug, Clone)]
pub struct Posterior {
    /// μ, shape `[batch, latent]`.
    pub mean: Tensor<2>,
    /// log σ², shape `[batch, latent]`.
    pub log_var: Tensor<2>,
}

/// Everything one training forward pass produces.
#[derive(Debug, Clone)]
pub struct VaeOutput {
    /// Bernoulli logits of the reconstruction, shape `[batch, channels, side, side]`.
    pub recon_logits: Tensor<4>,
    pub posterior: Posterior,
}

/// Two upper bounds on −log p(x) per image (nats), from the same k draws z_i ~ q(z|x).
#[derive(Debug, Clone)]
pub struct LikelihoodBounds {
    /// −ELBO, estimated as −(1/k) Σ log w_i with w_i = p(x, z_i) / q(z_i|x). Shape `[batch]`.
    pub negative_elbo: Tensor<1>,
    /// −log (1/k) Σ w_i, the importance-weighted bound of Burda et al. (2016): never above
    /// `negative_elbo` for the same draws, and tending to −log p(x) as k grows. Shape `[batch]`.
    pub importance_weighted: Tensor<1>,
}

impl LikelihoodBounds {
    /// Both bounds from the log importance weights, shape `[k, batch]`; the log-mean-exp
    /// subtracts each image's largest weight first, so weights of −500 nats do not underflow.
    pub fn from_log_weights(log_weights: Tensor<2>) -> Self {
        let largest = log_weights.clone().max_dim(0); // (1, B)
        let log_mean_weight = (log_weights.clone() - largest.clone())
            .exp()
            .mean_dim(0)
            .log()
            + largest;
        Self {
            negative_elbo: log_weights.mean_dim(0).squeeze_dim(0).neg(),
            importance_weighted: log_mean_weight.squeeze_dim(0).neg(),
        }
    }
}

/// Per-image loss terms, averaged over the batch (nats).
#[derive(Debug, Clone)]
pub struct VaeLoss {
    /// β-weighted objective to minimise: `reconstruction + β·kl`. Shape `[1]`.
    pub total: Tensor<1>,
    /// `−E_q[log p(x|z)]`, the Bernoulli negative log-likelihood. Shape `[1]`.
    pub reconstruction: Tensor<1>,
    /// `KL(q(z|x) ‖ N(0, I))`. Shape `[1]`.
    pub kl: Tensor<1>,
}

impl Vae {
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// The number of classes a CVAE conditions on; `None` for a plain VAE.
    pub fn num_classes(&self) -> Option<usize> {
        (self.num_classes > 0).then_some(self.num_classes)
    }

    /// `x` with the one-hot labels appended, for a CVAE; `x` unchanged otherwise.
    ///
    /// # Panics
    /// If a CVAE gets no labels (the model layer checks requests before they get here).
    ///
    /// # Shapes
    /// - x: `[batch, n]`; output: `[batch, n + num_classes]`
    fn conditioned(&self, x: Tensor<2>, labels: &Labels) -> Tensor<2> {
        if self.num_classes == 0 {
            return x;
        }
        let labels = labels
            .clone()
            .expect("a conditional VAE needs class labels");
        let one_hot = one_hot(labels, self.num_classes);
        Tensor::cat(vec![x, one_hot], 1)
    }

    /// # Shapes
    /// - images: `[batch, channels, side, side]` in `[0, 1]`
    /// - output: `[batch, latent]` twice
    pub fn encode(&self, images: Tensor<4>, labels: &Labels) -> Posterior {
        let x = self.conditioned(self.encoder.forward(images), labels); // (B, hidden [+ classes])
        Posterior {
            mean: self.enc_mean.forward(x.clone()),
            log_var: self.enc_log_var.forward(x),
        }
    }

    /// Bernoulli logits of p(x|z) (or p(x|z, y)).
    ///
    /// # Shapes
    /// - latents: `[batch, latent]`
    /// - output: `[batch, channels, side, side]`
    pub fn decode(&self, latents: Tensor<2>, labels: &Labels) -> Tensor<4> {
        self.decoder.forward(self.conditioned(latents, labels))
    }

    /// Encode, draw z = μ + σ·ε with the given ε, and decode.
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]`; epsilon: `[batch, latent]`
    pub fn forward(&self, images: Tensor<4>, labels: &Labels, epsilon: Tensor<2>) -> VaeOutput {
        let posterior = self.encode(images, labels);
        let latents = reparameterize(&posterior, epsilon);
        VaeOutput {
            recon_logits: self.decode(latents, labels),
            posterior,
        }
    }

    /// The negative β-ELBO of `images`, with ε drawn from the seeded CPU RNG.
    pub fn loss(&self, images: Tensor<4>, labels: &Labels, seed: u64) -> VaeLoss {
        let [batch, ..] = images.dims();
        let epsilon = noise::standard_normal(seed, [batch, self.latent_dim], &images.device());
        let output = self.forward(images.clone(), labels, epsilon);
        let reconstruction = bernoulli_nll(output.recon_logits, images).mean();
        let kl = kl_to_standard_normal(&output.posterior).mean();
        VaeLoss {
            total: reconstruction.clone() + kl.clone().mul_scalar(self.beta),
            reconstruction,
            kl,
        }
    }

    /// Bounds on −log p(x) (−log p(x|y) for a CVAE) of each image from `samples` draws of
    /// q(z|x) seeded by `seed`; see [`LikelihoodBounds`].
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]` in `[0, 1]`; outputs: `[batch]`
    pub fn likelihood_bounds(
        &self,
        images: Tensor<4>,
        labels: &Labels,
        samples: usize,
        seed: u64,
    ) -> LikelihoodBounds {
        let [batch, ..] = images.dims();
        let posterior = self.encode(images.clone(), labels);
        // Row s·batch + b holds draw s of image b.
        let repeated = Posterior {
            mean: posterior.mean.repeat_dim(0, samples),
            log_var: posterior.log_var.repeat_dim(0, samples),
        };
        let epsilon =
            noise::standard_normal(seed, [samples * batch, self.latent_dim], &images.device());
        let latents = reparameterize(&repeated, epsilon.clone());
        let labels = labels.as_ref().map(|l| l.clone().repeat_dim(0, samples));
        let log_likelihood = bernoulli_nll(
            self.decode(latents.clone(), &labels),
            images.repeat_dim(0, samples),
        )
        .neg();
        // log p(z) − log q(z|x) = −½ Σ (z² − ε² − log σ²): the log 2π terms cancel.
        let log_prior_ratio = (latents.powi_scalar(2) - epsilon.powi_scalar(2) - repeated.log_var)
            .sum_dim(1)
            .squeeze_dim(1)
            .mul_scalar(-0.5);
        LikelihoodBounds::from_log_weights(
            (log_likelihood + log_prior_ratio).reshape([samples, batch]),
        )
    }

    /// Labels for `count` generated images of a CVAE: all `class`, or without one image `i`
    /// gets class `i mod num_classes`, so a grid shows every digit. `None` for a plain VAE.
    ///
    /// # Panics
    /// If `class` is not below `num_classes`.
    fn generation_labels(&self, count: usize, class: Option<usize>, device: &Device) -> Labels {
        (self.num_classes > 0).then(|| class_labels(count, class, self.num_classes, device))
    }

    /// Latents drawn from the prior N(0, I), with labels for a CVAE: `class` picks its digit
    /// (see [`Vae::generation_labels`]) and must be `None` for a plain VAE.
    pub fn codes(&self, count: usize, seed: u64, class: Option<usize>, device: &Device) -> Codes {
        Codes {
            latents: noise::standard_normal(seed, [count, self.latent_dim], device),
            labels: self.generation_labels(count, class, device),
        }
    }

    /// `steps` codes on the arc from the code drawn with seed `from` to the one drawn with seed
    /// `to`. A seed's code is that of the first image `sample` draws with it, so the walk starts
    /// and ends on digits the sampler shows. A CVAE keeps one `class` (default 0) along the
    /// walk, so only the style changes.
    pub fn walk(
        &self,
        from: u64,
        to: u64,
        steps: usize,
        class: Option<usize>,
        device: &Device,
    ) -> Codes {
        let code = |seed| noise::standard_normal_values(seed, self.latent_dim);
        let path: Vec<f32> = slerp_path(&code(from), &code(to), steps).concat();
        Codes {
            latents: Tensor::from_data(TensorData::new(path, [steps, self.latent_dim]), device),
            labels: self.generation_labels(steps, Some(class.unwrap_or(0)), device),
        }
    }

    /// Images in `[0, 1]`: the means of p(x|z) for the codes' latents (and labels).
    ///
    /// # Shapes
    /// - output: `[count, channels, side, side]`
    pub fn decode_images(&self, codes: Codes) -> Tensor<4> {
        sigmoid(self.decode(codes.latents, &codes.labels))
    }
}

/// Rows of zeros with a one at each label, built by comparison: burn's `one_hot` reads the labels
/// back synchronously to check their range, which panics on WebGPU.
///
/// # Shapes
/// - labels: `[batch]`; output: `[batch, num_classes]`
fn one_hot(labels: Tensor<1, Int>, num_classes: usize) -> Tensor<2> {
    let [batch] = labels.dims();
    let classes = Tensor::<1, Int>::arange(0..num_classes as i64, &labels.device())
        .reshape([1, num_classes])
        .repeat_dim(0, batch);
    labels
        .reshape([batch, 1])
        .repeat_dim(1, num_classes)
        .equal(classes)
        .float()
}

/// z = μ + σ·ε with σ = exp(½ log σ²): keeps sampling differentiable in μ and σ.
pub fn reparameterize(posterior: &Posterior, epsilon: Tensor<2>) -> Tensor<2> {
    posterior.mean.clone() + posterior.log_var.clone().mul_scalar(0.5).exp() * epsilon
}

/// `−log p(x|z)` per image for Bernoulli logits ℓ, summed over pixels:
/// `Σ max(ℓ,0) − x·ℓ + log(1 + e^{−|ℓ|})`, the overflow-free form of binary cross-entropy.
///
/// # Shapes
/// - logits, targets: `[batch, c, h, w]`; output: `[batch]`
pub fn bernoulli_nll(logits: Tensor<4>, targets: Tensor<4>) -> Tensor<1> {
    let per_pixel =
        logits.clone().clamp_min(0.0) - targets * logits.clone() + logits.abs().neg().exp().log1p();
    per_pixel.flatten::<2>(1, 3).sum_dim(1).squeeze_dim(1)
}

/// `KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²)` per row.
///
/// # Shapes
/// - output: `[batch]`
pub fn kl_to_standard_normal(posterior: &Posterior) -> Tensor<1> {
    let Posterior { mean, log_var } = posterior.clone();
    let terms = log_var.clone().add_scalar(1.0) - mean.powi_scalar(2) - log_var.exp();
    terms.sum_dim(1).squeeze_dim(1).mul_scalar(-0.5)
}

impl Family for VaeConfig {
    type Loaded = Vae;

    const RECIPES: &'static [Recipe] = &[
        Recipe {
            name: "vae",
            about: "Convolutional variational autoencoder.",
        },
        Recipe {
            name: "cvae",
            about: "Class-conditional VAE: the same with the digit class given to encoder and decoder.",
        },
    ];
    const HYPER_PARAMETERS: &'static [HyperParameter] = &[
        HyperParameter {
            name: "beta",
            about: "weight of the KL term [default: 1.0]",
        },
        HyperParameter {
            name: "latent",
            about: "size of the latent code [default: 16]",
        },
        HyperParameter {
            name: "hidden",
            about: "width of the dense layer on either side of the code [default: 64]",
        },
    ];

    fn configure(
        recipe: &str,
        given: &HyperParameters,
        data: DataShape,
    ) -> Result<Self, RecipeError> {
        let (shape, classes) = data.images(if recipe == "cvae" { "cvae" } else { "vae" })?;
        let mut vae = VaeConfig::new()
            .with_image_size(shape.side)
            .with_channels(shape.channels);
        if recipe == "cvae" {
            vae.num_classes = Some(classes);
        }
        given.number("beta", &mut vae.beta)?;
        given.count("latent", &mut vae.latent_dim)?;
        given.count("hidden", &mut vae.hidden)?;
        Ok(vae)
    }

    fn validate(&self) -> Result<(), String> {
        VaeConfig::validate(self)
    }

    fn image_shape(&self) -> Option<ImageShape> {
        Some(ImageShape {
            channels: self.channels,
            side: self.image_size,
        })
    }

    fn capabilities(&self) -> Vec<Capability> {
        use Capability::*;
        match self.num_classes {
            Some(_) => vec![Sample, Conditional, Interpolate, Finetune],
            None => vec![Sample, Interpolate],
        }
    }

    fn init(&self, device: &Device) -> Vae {
        VaeConfig::init(self, device)
    }

    fn train<T: WithObjective>(&self, device: &Device, task: T) -> T::Output {
        task.digits(VaeConfig::init(self, device))
    }
}

impl Objective for Vae {
    type Batch = DigitBatch;

    fn preview(&self, device: &Device) -> Option<Preview> {
        Some(Preview::Images(Box::new(self.draw(
            PREVIEW_COUNT,
            PREVIEW_SEED,
            None,
            device,
        ))))
    }

    fn losses(&self, batch: &DigitBatch, seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), &Some(batch.labels.clone()), seed);
        Losses {
            terms: vec![
                ("recon", loss.reconstruction.clone()),
                ("kl", loss.kl.clone()),
                // −ELBO at β = 1, whatever β training uses: the number VAEs are compared by.
                ("neg_elbo", loss.reconstruction + loss.kl),
            ],
            total: loss.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{overfits, toy_digits};
    use burn::tensor::TensorData;

    fn small() -> VaeConfig {
        VaeConfig::new()
            .with_base_channels(8)
            .with_hidden(32)
            .with_latent_dim(4)
    }

    #[test]
    fn shapes() {
        let device = Device::flex();
        let vae = small().init(&device);
        let images = Tensor::<4>::zeros([3, 1, 28, 28], &device);
        let out = vae.forward(images, &None, Tensor::zeros([3, 4], &device));
        assert_eq!(out.recon_logits.dims(), [3, 1, 28, 28]);
        assert_eq!(out.posterior.mean.dims(), [3, 4]);
        assert_eq!(vae.draw(5, 0, None, &device).dims(), [5, 1, 28, 28]);
    }

    #[test]
    fn invalid_config_names_the_value() {
        let err = VaeConfig::new().with_image_size(30).validate().unwrap_err();
        assert!(err.contains("image_size 30"), "{err}");
        assert!(VaeConfig::new().with_beta(-1.0).validate().is_err());
    }

    #[test]
    fn kl_matches_closed_form() {
        let device = Device::flex();
        // μ = 1, σ² = e: KL = −½ (1 + 1 − 1 − e) per dimension.
        let posterior = Posterior {
            mean: Tensor::ones([1, 2], &device),
            log_var: Tensor::ones([1, 2], &device),
        };
        let kl = kl_to_standard_normal(&posterior).into_scalar::<f32>();
        let expected = 2.0 * -0.5 * (1.0 - std::f32::consts::E);
        assert!((kl - expected).abs() < 1e-5, "{kl} vs {expected}");
    }

    #[test]
    fn bernoulli_nll_matches_definition() {
        let device = Device::flex();
        let logits =
            Tensor::<4>::from_data(TensorData::new(vec![2.0f32, -1.0], [1, 1, 1, 2]), &device);
        let targets =
            Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 1, 1, 2]), &device);
        let nll = bernoulli_nll(logits, targets).into_scalar::<f32>();
        let p = |l: f32| 1.0 / (1.0 + (-l).exp());
        let expected = -(p(2.0).ln() + (1.0 - p(-1.0)).ln());
        assert!((nll - expected).abs() < 1e-5, "{nll} vs {expected}");
    }

    #[test]
    fn samples_are_probabilities_and_seeded() {
        let device = Device::flex();
        let vae = small().init(&device);
        let a = vae.draw(4, 9, None, &device);
        assert!(a.clone().min().into_scalar::<f32>() >= 0.0);
        assert!(a.clone().max().into_scalar::<f32>() <= 1.0);
        a.into_data()
            .assert_eq(&vae.draw(4, 9, None, &device).into_data(), true);
    }

    #[test]
    fn interpolation_starts_and_ends_on_sampled_digits() {
        let device = Device::flex();
        let vae = small().init(&device);
        let walk = vae.decode_images(vae.walk(3, 8, 5, None, &device));
        assert_eq!(walk.dims(), [5, 1, 28, 28]);
        let first = |t: Tensor<4>| t.slice(0..1).into_data();
        let last = walk.clone().slice(4..5).into_data();
        first(walk)
            .assert_approx_eq::<f32>(&first(vae.draw(2, 3, None, &device)), Default::default());
        last.assert_approx_eq::<f32>(&first(vae.draw(1, 8, None, &device)), Default::default());
    }

    #[test]
    fn one_hot_rows() {
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![2, 0], [2]), &Device::flex());
        one_hot(labels, 3).into_data().assert_eq(
            &TensorData::new(vec![0.0f32, 0.0, 1.0, 1.0, 0.0, 0.0], [2, 3]),
            true,
        );
    }

    #[test]
    fn conditional_samples_follow_the_class() {
        let device = Device::flex();
        let cvae = small().with_num_classes(Some(10)).init(&device);
        assert_eq!(cvae.num_classes(), Some(10));
        // Same latents, different classes: the decoder sees the class, so the images differ.
        let three = cvae.draw(2, 5, Some(3), &device).into_data();
        let seven = cvae.draw(2, 5, Some(7), &device).into_data();
        assert_ne!(three, seven);
        // Without a class, image i gets class i mod 10.
        let mixed = cvae.draw(4, 5, None, &device).slice(3..4).into_data();
        let threes = cvae.draw(4, 5, Some(3), &device).slice(3..4).into_data();
        mixed.assert_eq(&threes, true);
    }

    #[test]
    fn bounds_from_known_weights() {
        // Weights 1 and 3: the ELBO averages their logs, the importance-weighted bound takes the
        // log of their mean. Offsets of −1000 nats must not underflow.
        let device = Device::flex();
        let log_weights = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, -1000.0, 3f32.ln(), 3f32.ln() - 1000.0], [2, 2]),
            &device,
        );
        let bounds = LikelihoodBounds::from_log_weights(log_weights);
        bounds.negative_elbo.into_data().assert_approx_eq::<f32>(
            &TensorData::new(vec![-0.5 * 3f32.ln(), 1000.0 - 0.5 * 3f32.ln()], [2]),
            Default::default(),
        );
        bounds
            .importance_weighted
            .into_data()
            .assert_approx_eq::<f32>(
                &TensorData::new(vec![-2f32.ln(), 1000.0 - 2f32.ln()], [2]),
                Default::default(),
            );
    }

    #[test]
    fn importance_weighting_tightens_the_elbo() {
        let device = Device::flex();
        let cvae = small().with_num_classes(Some(10)).init(&device);
        let images = toy_digits(3, &device);
        let labels = Some(Tensor::<1, Int>::from_data(
            TensorData::new(vec![1, 4, 7], [3]),
            &device,
        ));
        let values = |t: Tensor<1>| t.into_data().try_into_vec::<f32>().unwrap();
        // One draw: both bounds are the same number.
        let one = cvae.likelihood_bounds(images.clone(), &labels, 1, 2);
        let (elbo, weighted) = (values(one.negative_elbo), values(one.importance_weighted));
        for (e, w) in elbo.iter().zip(&weighted) {
            assert!((e - w).abs() < 1e-3, "{e} vs {w}");
        }
        // Many draws: never looser, and (untrained) well above zero nats.
        let many = cvae.likelihood_bounds(images, &labels, 50, 2);
        let (elbo, weighted) = (values(many.negative_elbo), values(many.importance_weighted));
        for (e, w) in elbo.iter().zip(&weighted) {
            assert!(w <= e && *w > 100.0, "importance-weighted {w}, −ELBO {e}");
        }
    }

    #[test]
    fn overfits_one_batch() {
        let device = Device::flex().autodiff();
        device.seed(0);
        let images = toy_digits(8, &device);
        let (first, last) = overfits(small().init(&device), 150, |vae: &Vae, step| {
            vae.loss(images.clone(), &None, step).total
        });
        // Each toy digit has ~120 lit pixels: an untrained decoder costs ~543 nats (784·ln 2).
        assert!(last < 0.5 * first, "loss went from {first} to {last}");
    }
}
