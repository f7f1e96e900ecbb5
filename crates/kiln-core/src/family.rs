//! What a model family declares in its own module: its spec, how it loads, how it trains and with
//! which defaults, and what it can do. The registry ([`crate::model`]) lists each family once;
//! everything else asks a model what it can do ([`Capability`]), never which kind it is.

use std::fmt::Debug;

use burn::module::Module;
use burn::tensor::Device;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::dataset::ImageShape;
use crate::io::weights::{self, Precision, WeightError};
use crate::text::{Reads, TextBatch, TextModel, TextSpec, Vocabulary};
use crate::train::recipe::{HyperParameter, HyperParameters, Recipe, RecipeError};
use crate::train::{LrSchedule, Objective, WithObjective};

/// What a model does, named as kiln.js names the calls: the page, the widgets and the CLI offer
/// a model where it has the capability, never by its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Draws images from noise.
    Sample,
    /// Draws images of a class it is asked for.
    Conditional,
    /// Draws them step by step, showing each step (diffusion).
    Diffuse,
    /// Walks its latent space between two codes.
    Interpolate,
    /// Restores damaged images.
    Denoise,
    /// Says which class an image is.
    Classify,
    /// Writes text one character at a time.
    Write,
    /// Learns from a handful of labelled images in the page.
    Finetune,
}

/// What a new model learns from, as far as its shape depends on it.
#[derive(Debug, Clone, Copy)]
pub enum DataShape<'a> {
    /// Images of one shape, each of one of `classes` classes.
    Images { shape: ImageShape, classes: usize },
    /// A text over this vocabulary.
    Text(&'a Vocabulary),
}

impl DataShape<'_> {
    /// MNIST's: 28×28 grayscale digits of 10 classes.
    pub const DIGITS: DataShape<'static> = DataShape::Images {
        shape: ImageShape::MNIST,
        classes: 10,
    };

    /// The images' shape and class count, for the image family `model`.
    pub fn images(&self, model: &'static str) -> Result<(ImageShape, usize), RecipeError> {
        match *self {
            DataShape::Images { shape, classes } => Ok((shape, classes)),
            DataShape::Text(_) => Err(RecipeError::WrongData {
                model,
                wants: "images",
                given: "a text",
            }),
        }
    }
}

/// How `kiln train` trains a family unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingDefaults {
    pub epochs: usize,
    /// Images, or windows of text, per step.
    pub batch: usize,
    /// The peak rate, with a schedule.
    pub learning_rate: f64,
    pub schedule: LrSchedule,
    /// The decay of a moving average of the weights that sampling uses, if any.
    pub ema: Option<f64>,
    /// Steps per epoch; `None` for one pass over the training images.
    pub epoch_steps: Option<usize>,
}

impl TrainingDefaults {
    /// What the image models share: 20 passes of 128 images at Adam's usual 10⁻³.
    pub const IMAGES: Self = Self {
        epochs: 20,
        batch: 128,
        learning_rate: 1e-3,
        schedule: LrSchedule::Constant,
        ema: None,
        epoch_steps: None,
    };
}

/// What a text model reads: the characters its tokens stand for, and the characters per window
/// it trains and is judged on.
#[derive(Debug, Clone, Copy)]
pub struct TextShape<'a> {
    pub vocabulary: &'a Vocabulary,
    pub context: usize,
}

/// A loaded model whose weights a weight file (burnpack) holds.
pub trait Stored: Sized {
    /// The same model with the weights in `bytes`.
    fn with_weights(self, bytes: &[u8]) -> Result<Self, WeightError>;

    /// The weights as burnpack bytes, floats stored at `precision`.
    fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>, WeightError>;

    /// The weights as f32 burnpack bytes, read back asynchronously and serialised on `host` (a
    /// CPU device): what a browser on WebGPU must use instead of [`Stored::to_bytes`].
    fn to_bytes_async(&self, host: &Device) -> impl Future<Output = Result<Vec<u8>, WeightError>>;

    /// Its number of parameters. burn initialises parameters lazily, so counting those of a
    /// fresh model allocates nothing.
    fn parameter_count(&self) -> usize;
}

impl<M: Module + Clone> Stored for M {
    fn with_weights(self, bytes: &[u8]) -> Result<Self, WeightError> {
        weights::load(self, bytes)
    }

    fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>, WeightError> {
        weights::to_bytes_at(self.clone(), precision)
    }

    async fn to_bytes_async(&self, host: &Device) -> Result<Vec<u8>, WeightError> {
        weights::to_bytes_async(self.clone(), host, Precision::F32).await
    }

    fn parameter_count(&self) -> usize {
        self.num_params()
    }
}

impl<M: Module + Clone> Stored for TextModel<M> {
    fn with_weights(self, bytes: &[u8]) -> Result<Self, WeightError> {
        Ok(Self {
            model: self.model.with_weights(bytes)?,
            vocabulary: self.vocabulary,
        })
    }

    fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>, WeightError> {
        self.model.to_bytes(precision)
    }

    async fn to_bytes_async(&self, host: &Device) -> Result<Vec<u8>, WeightError> {
        self.model.to_bytes_async(host).await
    }

    fn parameter_count(&self) -> usize {
        self.model.num_params()
    }
}

/// A model family, implemented by its spec (the architecture and hyper-parameters that are
/// stored in manifests and run directories). Its name is the registry's ([`crate::model`]).
pub trait Family: Clone + PartialEq + Debug + Serialize + DeserializeOwned {
    /// What inference loads.
    type Loaded: Stored + Clone + Debug;

    /// The models `kiln train` starts of this family.
    const RECIPES: &'static [Recipe];

    /// What a new run may set, besides the trainer's settings.
    const HYPER_PARAMETERS: &'static [HyperParameter] = &[];

    /// Whether it learns from a text rather than from digits.
    const READS_TEXT: bool = false;

    /// A new spec for `recipe` (one of [`Family::RECIPES`]) shaped by the hyper-parameters
    /// `given` and by the `data` it will learn from.
    fn configure(
        recipe: &str,
        given: &HyperParameters,
        data: DataShape,
    ) -> Result<Self, RecipeError>;

    /// Check the invariants `init` relies on, naming the offending values.
    fn validate(&self) -> Result<(), String>;

    fn capabilities(&self) -> Vec<Capability>;

    /// How `kiln train` trains it unless told otherwise.
    const TRAINING: TrainingDefaults = TrainingDefaults::IMAGES;

    /// A freshly initialised model for inference (the spec is valid).
    fn init(&self, device: &Device) -> Self::Loaded;

    /// The model with the weights in `bytes` (burnpack).
    fn load(&self, bytes: &[u8], device: &Device) -> Result<Self::Loaded, WeightError> {
        self.init(device).with_weights(bytes)
    }

    /// Initialise the trainable model on `device` (an autodiff device) and hand it to `task`
    /// with its concrete type (the spec is valid).
    fn train<T: WithObjective>(&self, device: &Device, task: T) -> T::Output;

    /// What a text model reads; `None` for models of images.
    fn text_shape(&self) -> Option<TextShape<'_>> {
        None
    }

    /// The images an image model reads or draws; `None` for text models.
    fn image_shape(&self) -> Option<ImageShape> {
        None
    }
}

/// The architecture of a model that writes text: what a text family declares, the rest
/// ([`TextSpec`]'s vocabulary, loading, capabilities) being common to all of them.
pub trait TextFamily: Clone + PartialEq + Debug + Serialize + DeserializeOwned {
    type Model: Module + Clone + Debug + Reads + Objective<Batch = TextBatch>;

    /// The model `kiln train` starts of this family.
    const RECIPE: Recipe;

    /// What a new run may set, besides the trainer's settings.
    const HYPER_PARAMETERS: &'static [HyperParameter];

    /// A new config over `vocab_size` characters, shaped by the hyper-parameters `given`.
    fn configure(given: &HyperParameters, vocab_size: usize) -> Result<Self, RecipeError>;

    /// Distinct characters it reads and writes.
    fn vocab_size(&self) -> usize;

    /// Characters per window in training and evaluation.
    fn context(&self) -> usize;

    /// Check the invariants `init` relies on, naming the offending values.
    fn validate(&self) -> Result<(), String>;

    /// How `kiln train` trains it unless told otherwise.
    const TRAINING: TrainingDefaults;

    /// A freshly initialised model (the config is valid).
    fn init(&self, device: &Device) -> Self::Model;
}

impl<C: TextFamily> Family for TextSpec<C> {
    type Loaded = TextModel<C::Model>;

    const RECIPES: &'static [Recipe] = &[C::RECIPE];
    const HYPER_PARAMETERS: &'static [HyperParameter] = C::HYPER_PARAMETERS;
    const READS_TEXT: bool = true;
    const TRAINING: TrainingDefaults = C::TRAINING;

    fn configure(
        _recipe: &str,
        given: &HyperParameters,
        data: DataShape,
    ) -> Result<Self, RecipeError> {
        let DataShape::Text(vocabulary) = data else {
            return Err(RecipeError::WrongData {
                model: C::RECIPE.name,
                wants: "a text",
                given: "images",
            });
        };
        Ok(Self {
            model: C::configure(given, vocabulary.len())?,
            vocabulary: vocabulary.clone(),
        })
    }

    /// The config's invariants, and a vocabulary of the config's size.
    fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        if self.model.vocab_size() != self.vocabulary.len() {
            return Err(format!(
                "vocab_size {} differs from the {} characters of the vocabulary",
                self.model.vocab_size(),
                self.vocabulary.len()
            ));
        }
        Ok(())
    }

    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::Write]
    }

    fn init(&self, device: &Device) -> Self::Loaded {
        TextModel {
            model: self.model.init(device),
            vocabulary: self.vocabulary.clone(),
        }
    }

    fn train<T: WithObjective>(&self, device: &Device, task: T) -> T::Output {
        task.text(self.model.init(device))
    }

    fn text_shape(&self) -> Option<TextShape<'_>> {
        Some(TextShape {
            vocabulary: &self.vocabulary,
            context: self.model.context(),
        })
    }
}
