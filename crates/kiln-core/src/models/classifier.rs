//! A small CNN that recognises digits, or the classes of any image data set. Kiln trains it
//! itself to judge its generative models: its class probabilities give conditional accuracy and
//! the Inception Score, its penultimate features the Fréchet distance (the usual practice on
//! MNIST, where Inception-v3 features do not fit 28×28 digits).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Int, Tensor};

use crate::data::dataset::ImageShape;
use crate::data::mnist::NUM_CLASSES;
use crate::family::{Capability, DataShape, Family};
use crate::limits::{MAX_IMAGE_SIDE, MAX_SYMBOLS, MAX_WIDTH, check_sizes};
use crate::models::layers::DOWNSAMPLING;
use crate::train::recipe::{HyperParameters, Recipe, RecipeError};
use crate::train::{DigitBatch, Losses, Objective, WithObjective};

/// Hyper-parameters of the [`Classifier`].
#[derive(Config, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// Side of the square input images; must be divisible by 4 (two 2×2 poolings).
    #[config(default = 28)]
    pub image_size: usize,
    /// Channels of the first conv stage; the second has twice as many.
    #[config(default = 32)]
    pub base_channels: usize,
    /// Width of the penultimate layer: the feature vector the metrics use.
    #[config(default = 128)]
    pub features: usize,
    /// Image channels; `None` (specs written before Kiln read colour pictures): 1.
    #[config(default = "None")]
    pub channels: Option<usize>,
    /// Classes it tells apart; `None` (specs written before Kiln read picture folders): the
    /// ten digits.
    #[config(default = "None")]
    pub num_classes: Option<usize>,
}

impl ClassifierConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.image_size == 0 || !self.image_size.is_multiple_of(DOWNSAMPLING) {
            return Err(format!(
                "image_size {} must be a positive multiple of {DOWNSAMPLING}",
                self.image_size
            ));
        }
        check_sizes(&[
            ("image_size", self.image_size, MAX_IMAGE_SIDE),
            ("channels", self.input_channels(), MAX_WIDTH),
            ("base_channels", self.base_channels, MAX_WIDTH),
            ("features", self.features, MAX_WIDTH),
            ("num_classes", self.classes(), MAX_SYMBOLS),
        ])
    }

    pub fn input_channels(&self) -> usize {
        self.channels.unwrap_or(1)
    }

    pub fn classes(&self) -> usize {
        self.num_classes.unwrap_or(NUM_CLASSES)
    }

    /// # Panics
    /// If the config is invalid (see [`ClassifierConfig::validate`]).
    pub fn init(&self, device: &Device) -> Classifier {
        if let Err(why) = self.validate() {
            panic!("invalid ClassifierConfig: {why}");
        }
        let [c1, c2] = [self.base_channels, 2 * self.base_channels];
        // k3 p1 keeps the side; the poolings halve it.
        let conv = |from, to| {
            Conv2dConfig::new([from, to], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let side = self.image_size / DOWNSAMPLING;
        Classifier {
            conv1: conv(self.input_channels(), c1),
            conv2: conv(c1, c2),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            features: LinearConfig::new(c2 * side * side, self.features).init(device),
            logits: LinearConfig::new(self.features, self.classes()).init(device),
            input: [self.input_channels(), self.image_size],
            num_classes: self.classes(),
        }
    }
}

/// `conv → pool → conv → pool → dense (features) → dense (logits)`, ReLU between.
#[derive(Module, Debug)]
pub struct Classifier {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    features: Linear,
    logits: Linear,
    /// `[channels, side]` of its images.
    input: [usize; 2],
    num_classes: usize,
}

impl Classifier {
    /// The images it reads.
    pub fn image_shape(&self) -> ImageShape {
        let [channels, side] = self.input;
        ImageShape { channels, side }
    }

    /// The classes it tells apart.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The penultimate activations.
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]` in `[0, 1]`
    /// - output: `[batch, features]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images))); // (B, c1, side/2, side/2)
        let x = self.pool.forward(relu(self.conv2.forward(x))); // (B, c2, side/4, side/4)
        relu(self.features.forward(x.flatten::<2>(1, 3)))
    }

    /// # Shapes
    /// - images: `[batch, channels, side, side]`; output: `[batch, classes]`
    pub fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.logits.forward(self.features(images))
    }

    /// The penultimate-layer features and the class probabilities from one pass: what the
    /// metrics judge generated digits by.
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]`; output: `[batch, features]`, `[batch, classes]`
    pub fn features_and_probabilities(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let features = self.features(images);
        let probabilities = softmax(self.logits.forward(features.clone()), 1);
        (features, probabilities)
    }

    /// Mean cross-entropy and error rate of a labelled batch.
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]`; labels: `[batch]`; outputs: `[1]`
    pub fn loss(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> ClassifierLoss {
        let logits = self.logits(images);
        let cross_entropy = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), labels.clone());
        let predicted = logits.argmax(1).squeeze_dim::<1>(1);
        let error_rate = predicted.not_equal(labels).float().mean();
        ClassifierLoss {
            cross_entropy,
            error_rate,
        }
    }
}

/// Per-image averages over a batch.
#[derive(Debug, Clone)]
pub struct ClassifierLoss {
    /// Mean −log p(y|x) in nats; the training objective. Shape `[1]`.
    pub cross_entropy: Tensor<1>,
    /// Fraction of misclassified images (not differentiable). Shape `[1]`.
    pub error_rate: Tensor<1>,
}

impl Family for ClassifierConfig {
    type Loaded = Classifier;

    const RECIPES: &'static [Recipe] = &[Recipe {
        name: "classifier",
        about: "Digit classifier (small CNN) that the metrics use to judge generated digits.",
    }];

    fn configure(
        _recipe: &str,
        _given: &HyperParameters,
        data: DataShape,
    ) -> Result<Self, RecipeError> {
        let (shape, classes) = data.images("classifier")?;
        Ok(ClassifierConfig::new()
            .with_image_size(shape.side)
            .with_channels(Some(shape.channels))
            .with_num_classes(Some(classes)))
    }

    fn validate(&self) -> Result<(), String> {
        ClassifierConfig::validate(self)
    }

    fn image_shape(&self) -> Option<ImageShape> {
        Some(ImageShape {
            channels: self.input_channels(),
            side: self.image_size,
        })
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::Classify]
    }

    fn init(&self, device: &Device) -> Classifier {
        ClassifierConfig::init(self, device)
    }

    fn train<T: WithObjective>(&self, device: &Device, task: T) -> T::Output {
        task.digits(ClassifierConfig::init(self, device))
    }
}

impl Objective for Classifier {
    type Batch = DigitBatch;

    fn losses(&self, batch: &DigitBatch, _seed: u64) -> Losses {
        let loss = self.loss(batch.images.clone(), batch.labels.clone());
        Losses {
            terms: vec![("error_rate", loss.error_rate)],
            total: loss.cross_entropy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{overfits, toy_digits};
    use burn::tensor::TensorData;

    fn small() -> ClassifierConfig {
        ClassifierConfig::new()
            .with_base_channels(4)
            .with_features(16)
    }

    #[test]
    fn shapes_and_probabilities() {
        let device = Device::flex();
        let classifier = small().init(&device);
        let images = toy_digits(3, &device);
        assert_eq!(classifier.features(images.clone()).dims(), [3, 16]);
        let (features, p) = classifier.features_and_probabilities(images);
        assert_eq!(features.dims(), [3, 16]);
        assert_eq!(p.dims(), [3, 10]);
        let row_sums = p.sum_dim(1).into_data().convert::<f32>();
        row_sums.assert_approx_eq::<f32>(
            &TensorData::new(vec![1.0f32; 3], [3, 1]),
            burn::tensor::Tolerance::absolute(1e-5),
        );
    }

    #[test]
    fn invalid_config_names_the_value() {
        let err = small().with_features(0).validate().unwrap_err();
        assert_eq!(err, "features must be positive");
        assert!(small().with_image_size(30).validate().is_err());
    }

    #[test]
    fn learns_a_tiny_labelled_batch() {
        let device = Device::flex().autodiff();
        device.seed(0);
        // The first four toy digits are distinct; give each its own class.
        let images = toy_digits(4, &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![3, 1, 4, 1], [4]), &device);
        let (first, last) = overfits(small().init(&device), 60, |c: &Classifier, _| {
            c.loss(images.clone(), labels.clone()).cross_entropy
        });
        // Ten classes start near ln 10 ≈ 2.3 nats.
        assert!(last < 0.1 * first, "loss went from {first} to {last}");
    }
}
