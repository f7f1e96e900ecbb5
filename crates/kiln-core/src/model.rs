//! The registry: every model family Kiln ships, listed once, behind one type, so that the CLI
//! and the browser load, train and use any of them the same way. Each family declares itself in
//! its own module ([`Family`]); what a loaded model can do is asked of it ([`Capable`]), so an
//! operation a model lacks is one generic error.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::capable::Capable;
use crate::data::corruption::Corruption;
use crate::data::dataset::ImageShape;
use crate::drawing::{Drawing, DrawsImages};
use crate::family::{Capability, DataShape, Family, Stored, TextShape, TrainingDefaults};
use crate::io::weights::{self, Precision, WeightError};
use crate::limits::MAX_PARAMETERS;
use crate::models;
use crate::models::diffusion::{Denoising, ScheduleError};
use crate::per_image::{OnePass, Runner};
use crate::request::{
    DenoiseRequest, Images, InterpolateRequest, RequestError, SampleRequest, TextRequest,
    check_class,
};
use crate::text::{Generation, GenerationError, VocabularyError, Writing};
use crate::train::WithObjective;
use crate::train::recipe::{HyperParameter, HyperParameters, Recipe, RecipeError};

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("invalid {kind} config: {why}")]
    Config { kind: &'static str, why: String },
    #[error(transparent)]
    Weights(#[from] WeightError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Generation(#[from] GenerationError),
    #[error(transparent)]
    Vocabulary(#[from] VocabularyError),
    #[error("{kind} models cannot {operation}; {hint}")]
    Unsupported {
        kind: &'static str,
        operation: &'static str,
        hint: &'static str,
    },
    #[error("this {kind} model reads {reads} images, and was given {given} ones")]
    ImageShape {
        kind: &'static str,
        reads: ImageShape,
        given: ImageShape,
    },
}

/// The burnpack metadata key of a self-describing weight file's spec (JSON).
const SPEC_METADATA: &str = "kiln.spec";

/// [`ModelSpec`] and [`Model`] from one list of families: each one's variant, its name (in
/// manifests, run directories, the CLI and kiln.js) and its spec type.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident = $kind:literal: $spec:ty,)*) => {
        /// An architecture and its hyper-parameters, as stored in the manifest and in run
        /// directories.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "config")]
        pub enum ModelSpec {
            $($(#[$doc])* #[serde(rename = $kind)] $variant($spec),)*
        }

        /// A loaded model of any family (boxed: their sizes differ widely).
        #[derive(Debug, Clone)]
        pub enum Model {
            $($(#[$doc])* $variant(Box<<$spec as Family>::Loaded>),)*
        }

        /// Every family's name, in the registry's order.
        pub const KINDS: &[&str] = &[$($kind),*];

        impl ModelSpec {
            /// Every model `kiln train` starts, family by family.
            pub fn trainable() -> Vec<Trainable> {
                let mut all = Vec::new();
                $(all.extend(<$spec as Family>::RECIPES.iter().map(|&recipe| Trainable {
                    recipe,
                    hyper_parameters: <$spec as Family>::HYPER_PARAMETERS,
                    reads_text: <$spec as Family>::READS_TEXT,
                    training: <$spec as Family>::TRAINING,
                    configure: |recipe, given, data| {
                        <$spec as Family>::configure(recipe, given, data).map(ModelSpec::$variant)
                    },
                }));)*
                all
            }

            pub fn kind(&self) -> &'static str {
                match self {
                    $(ModelSpec::$variant(_) => $kind,)*
                }
            }

            /// What models of this spec can do.
            pub fn capabilities(&self) -> Vec<Capability> {
                match self {
                    $(ModelSpec::$variant(spec) => spec.capabilities(),)*
                }
            }

            /// How `kiln train` trains this family unless told otherwise.
            pub fn training_defaults(&self) -> TrainingDefaults {
                match self {
                    $(ModelSpec::$variant(_) => <$spec as Family>::TRAINING,)*
                }
            }

            /// What a text model reads; `None` for models of images.
            pub fn text_shape(&self) -> Option<TextShape<'_>> {
                match self {
                    $(ModelSpec::$variant(spec) => spec.text_shape(),)*
                }
            }

            /// The images it reads or draws; `None` for a text model.
            pub fn image_shape(&self) -> Option<ImageShape> {
                match self {
                    $(ModelSpec::$variant(spec) => Family::image_shape(spec),)*
                }
            }

            fn check(&self) -> Result<(), String> {
                match self {
                    $(ModelSpec::$variant(spec) => Family::validate(spec),)*
                }
            }

            fn init_checked(&self, device: &Device) -> Model {
                match self {
                    $(ModelSpec::$variant(spec) => {
                        Model::$variant(Box::new(Family::init(spec, device)))
                    })*
                }
            }

            fn load_checked(&self, bytes: &[u8], device: &Device) -> Result<Model, WeightError> {
                Ok(match self {
                    $(ModelSpec::$variant(spec) => {
                        Model::$variant(Box::new(spec.load(bytes, device)?))
                    })*
                })
            }

            fn train_checked<T: WithObjective>(&self, device: &Device, task: T) -> T::Output {
                match self {
                    $(ModelSpec::$variant(spec) => spec.train(device, task),)*
                }
            }
        }

        impl Model {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Model::$variant(_) => $kind,)*
                }
            }

            /// What it can be asked to do.
            pub fn capable(&self) -> &dyn Capable {
                match self {
                    $(Model::$variant(model) => model.as_ref(),)*
                }
            }

            /// Its number of parameters.
            pub fn parameter_count(&self) -> usize {
                match self {
                    $(Model::$variant(model) => model.parameter_count(),)*
                }
            }

            /// The weights as burnpack bytes, floats stored at `precision`.
            pub fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>, WeightError> {
                match self {
                    $(Model::$variant(model) => model.to_bytes(precision),)*
                }
            }

            /// The weights as f32 burnpack bytes, read back asynchronously and serialised on
            /// `host` (a CPU device): what a browser on WebGPU must use instead of
            /// [`Model::to_bytes`].
            pub async fn to_bytes_async(&self, host: &Device) -> Result<Vec<u8>, WeightError> {
                match self {
                    $(Model::$variant(model) => model.to_bytes_async(host).await,)*
                }
            }
        }
    };
}

registry! {
    /// The convolutional VAE, conditional or not.
    Vae = "vae": models::vae::VaeConfig,
    /// The denoising autoencoder.
    Autoencoder = "ae": models::autoencoder::AutoencoderConfig,
    /// The digit classifier that judges the others.
    Classifier = "classifier": models::classifier::ClassifierConfig,
    /// The class-conditional DCGAN (once loaded, its generator: all that sampling needs).
    Gan = "gan": models::gan::GanConfig,
    /// The class-conditional diffusion model.
    Ddpm = "ddpm": models::diffusion::DiffusionConfig,
    /// The character-level Transformer.
    Gpt = "gpt": models::gpt::GptSpec,
    /// The character-level hidden Markov model.
    Hmm = "hmm": models::hmm::HmmSpec,
}

/// A model `kiln train` can start, and what it takes.
#[derive(Debug, Clone, Copy)]
pub struct Trainable {
    pub recipe: Recipe,
    pub hyper_parameters: &'static [HyperParameter],
    /// Whether it learns from a text rather than from digits.
    pub reads_text: bool,
    pub training: TrainingDefaults,
    configure: fn(&str, &HyperParameters, DataShape) -> Result<ModelSpec, RecipeError>,
}

impl Trainable {
    /// A new spec shaped by the hyper-parameters `given` (each one of
    /// [`Trainable::hyper_parameters`]) and by the `data` it will learn from.
    pub fn configure(
        &self,
        given: &HyperParameters,
        data: DataShape,
    ) -> Result<ModelSpec, RecipeError> {
        (self.configure)(self.recipe.name, given, data)
    }
}

impl ModelSpec {
    /// `weights` (burnpack) carrying this spec in their metadata, so that the file alone says
    /// what it holds: what `kiln export` and the page's Download write.
    pub fn embed_in(&self, weights: &[u8]) -> Result<Vec<u8>, ModelError> {
        let json = serde_json::to_string(self).expect("a spec serialises");
        Ok(weights::with_metadata(weights, SPEC_METADATA, &json)?)
    }

    /// The spec a weight file carries in its metadata ([`ModelSpec::embed_in`]), if any.
    pub fn embedded_in(weights: &[u8]) -> Result<Option<Self>, ModelError> {
        let Some(json) = weights::metadata(weights, SPEC_METADATA)? else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| ModelError::Weights(WeightError::Format(format!("its kiln.spec: {e}"))))
    }

    /// Check the config, naming what is wrong: each size against its limit, then the number of
    /// parameters it makes (counted on a lazily initialised model, so nothing of that size is
    /// allocated) against [`MAX_PARAMETERS`].
    pub fn validate(&self) -> Result<(), ModelError> {
        let invalid = |why| ModelError::Config {
            kind: self.kind(),
            why,
        };
        self.check().map_err(invalid)?;
        let parameters = self.init_checked(&Device::flex()).parameter_count();
        if parameters > MAX_PARAMETERS {
            return Err(invalid(format!(
                "its {parameters} parameters are above the limit of {MAX_PARAMETERS}"
            )));
        }
        Ok(())
    }

    /// A freshly initialised model of this architecture.
    pub fn init(&self, device: &Device) -> Result<Model, ModelError> {
        self.validate()?;
        Ok(self.init_checked(device))
    }

    /// Initialise this architecture on `device` (an autodiff device, to train it) and hand it
    /// to `task` with its concrete type, which the shared training code is generic over.
    pub fn init_objective<T: WithObjective>(
        &self,
        device: &Device,
        task: T,
    ) -> Result<T::Output, ModelError> {
        self.validate()?;
        Ok(self.train_checked(device, task))
    }

    /// This architecture with the weights in `bytes` (burnpack).
    pub fn load(&self, bytes: &[u8], device: &Device) -> Result<Model, ModelError> {
        self.validate()?;
        Ok(self.load_checked(bytes, device)?)
    }
}

/// What `denoise` returns: the damaged input and the model's restoration.
#[derive(Debug, Clone)]
pub struct Denoised {
    /// Shape `[count, 1, 28, 28]`.
    pub damaged: Tensor<4>,
    /// Shape `[count, 1, 28, 28]`.
    pub restored: Tensor<4>,
}

impl Model {
    /// The number of classes a class-conditional generative model draws; `None` otherwise.
    pub fn num_classes(&self) -> Option<usize> {
        let capable = self.capable();
        match (capable.drawer(), capable.diffusion()) {
            (Some(drawer), _) => drawer.num_classes(),
            (None, Some(diffusion)) => Some(diffusion.unet.num_classes()),
            (None, None) => None,
        }
    }

    /// Draw images in `[0, 1]`.
    ///
    /// # Shapes
    /// - output: `[count, 1, 28, 28]`
    pub fn sample(&self, request: SampleRequest, device: &Device) -> Result<Tensor<4>, ModelError> {
        self.sample_with(request, device, &OnePass)
    }

    /// [`Model::sample`], with the work that treats each image on its own (decoding, or each
    /// reverse step's noise prediction) run by `runner`: in one pass, or a run per thread.
    pub fn sample_with(
        &self,
        request: SampleRequest,
        device: &Device,
        runner: &impl Runner,
    ) -> Result<Tensor<4>, ModelError> {
        let capable = self.capable();
        if capable.diffusion().is_some() {
            return Ok(self.denoising(request, device)?.finish_with(runner));
        }
        if !request.diffusion.is_empty() {
            return Err(self.unsupported(
                "take a sampler, steps or guidance",
                "those choose how a diffusion model such as ddpm denoises",
            ));
        }
        let Some(drawer) = capable.drawer() else {
            return Err(self.unsupported(
                "draw digits",
                "draw them with a generative model such as vae",
            ));
        };
        check_class(self.kind(), drawer.num_classes(), request.class)?;
        let codes = drawer.codes(request.count, request.seed, request.class, device);
        Ok(runner.run(Drawing::new(drawer.to_boxed(), codes)))
    }

    /// Start a diffusion model's reverse process, to run one step at a time.
    pub fn denoising(
        &self,
        request: SampleRequest,
        device: &Device,
    ) -> Result<Denoising, ModelError> {
        let Some(diffusion) = self.capable().diffusion() else {
            return Err(
                self.unsupported("denoise step by step", "use a diffusion model such as ddpm")
            );
        };
        check_class(self.kind(), self.num_classes(), request.class)?;
        Ok(Denoising::new(
            diffusion.clone(),
            request.count,
            request.seed,
            request.class,
            request.diffusion.options(),
            device,
        )?)
    }

    /// Start writing text after the request's prompt, one character per step.
    pub fn writing(&self, request: &TextRequest) -> Result<Writing, ModelError> {
        let Some(writer) = self.capable().writer() else {
            return Err(self.unsupported("write text", "use a text model such as gpt"));
        };
        let prompt = writer.vocabulary().encode(&request.prompt)?;
        let generation = Generation::new(writer.reader(), &prompt, request.choice, request.seed)?;
        Ok(Writing::new(
            writer.vocabulary().clone(),
            generation,
            request.max_tokens,
        ))
    }

    /// Decode a walk between the latent codes of two seeds, in `[0, 1]`.
    ///
    /// # Shapes
    /// - output: `[steps, 1, 28, 28]`
    pub fn interpolate(
        &self,
        request: InterpolateRequest,
        device: &Device,
    ) -> Result<Tensor<4>, ModelError> {
        self.interpolate_with(request, device, &OnePass)
    }

    /// [`Model::interpolate`], with the frames decoded by `runner` (as in
    /// [`Model::sample_with`]).
    pub fn interpolate_with(
        &self,
        request: InterpolateRequest,
        device: &Device,
        runner: &impl Runner,
    ) -> Result<Tensor<4>, ModelError> {
        let Some(vae) = self.capable().vae() else {
            return Err(self.unsupported("interpolate", "walk the latent space of a vae"));
        };
        check_class(self.kind(), vae.num_classes(), request.class)?;
        let walk = vae.walk(
            request.from,
            request.to,
            request.steps,
            request.class,
            device,
        );
        Ok(runner.run(Drawing::new(vae.to_boxed(), walk)))
    }

    /// Add Gaussian noise to the request's images and restore them.
    pub fn denoise(
        &self,
        request: &DenoiseRequest,
        device: &Device,
    ) -> Result<Denoised, ModelError> {
        let Some(ae) = self.capable().restorer() else {
            return Err(self.unsupported("denoise", "use a denoising autoencoder such as ae"));
        };
        self.check_shape(ae.image_shape(), &request.images)?;
        let clean = request.images.to_tensor(device);
        let damaged = Corruption::Fixed {
            noise_std: request.noise_std,
        }
        .apply(clean, request.seed);
        Ok(Denoised {
            restored: ae.denoise(damaged.clone()),
            damaged,
        })
    }

    /// How likely each image is to be of each class (classifiers).
    ///
    /// # Shapes
    /// - output: `[count, classes]`, each row summing to 1
    pub fn classify(&self, images: &Images, device: &Device) -> Result<Tensor<2>, ModelError> {
        let Some(classifier) = self.capable().recogniser() else {
            return Err(self.unsupported("classify", "use a classifier such as classifier"));
        };
        self.check_shape(classifier.image_shape(), images)?;
        Ok(softmax(classifier.logits(images.to_tensor(device)), 1))
    }

    fn check_shape(&self, reads: ImageShape, images: &Images) -> Result<(), ModelError> {
        if images.shape() == reads {
            return Ok(());
        }
        Err(ModelError::ImageShape {
            kind: self.kind(),
            reads,
            given: images.shape(),
        })
    }

    fn unsupported(&self, operation: &'static str, hint: &'static str) -> ModelError {
        ModelError::Unsupported {
            kind: self.kind(),
            operation,
            hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::IMAGE_PIXELS;
    use crate::models::autoencoder::AutoencoderConfig;
    use crate::models::classifier::ClassifierConfig;
    use crate::models::diffusion::{DiffusionConfig, SamplerKind, UnetConfig};
    use crate::models::gpt::{GptConfig, GptSpec};
    use crate::models::hmm::HmmConfig;
    use crate::models::vae::VaeConfig;
    use crate::per_image::PerImage;
    use crate::request::{DiffusionRequest, class_from_f64};
    use crate::text::{TokenChoice, Vocabulary};
    use crate::train::{DigitBatch, Objective};

    #[test]
    fn every_recipe_starts_a_valid_model_of_its_family() {
        let vocabulary = Vocabulary::from_text("to be or not").unwrap();
        let trainable = ModelSpec::trainable();
        let names: Vec<&str> = trainable.iter().map(|t| t.recipe.name).collect();
        assert_eq!(
            names,
            [
                "vae",
                "cvae",
                "ae",
                "classifier",
                "gan",
                "ddpm",
                "gpt",
                "hmm"
            ]
        );
        let text = DataShape::Text(&vocabulary);
        for model in &trainable {
            let given = HyperParameters::default();
            let (data, other) = if model.reads_text {
                (text, DataShape::DIGITS)
            } else {
                (DataShape::DIGITS, text)
            };
            let spec = model.configure(&given, data).unwrap();
            spec.validate().unwrap();
            assert_eq!(spec.text_shape().is_some(), model.reads_text);
            let name = model.recipe.name;
            let conditional = spec.capabilities().contains(&Capability::Conditional);
            if name == "cvae" {
                assert!(spec.kind() == "vae" && conditional, "cvae made {spec:?}");
            } else {
                assert_eq!(spec.kind(), name);
            }
            let error = model.configure(&given, other).unwrap_err();
            assert!(
                matches!(error, RecipeError::WrongData { model: wrong, .. } if wrong == name),
                "{error}"
            );
        }
    }

    /// Every image model trains (one loss: all of its layers) and draws at 28, 32 and 64 pixels,
    /// in grayscale and in colour, with as many classes as its data.
    #[test]
    fn image_models_take_the_shape_and_classes_of_their_data() {
        struct LossOf(Tensor<4>, Tensor<1, burn::tensor::Int>);
        impl WithObjective for LossOf {
            type Output = f32;
            fn digits<M: Objective<Batch = DigitBatch>>(self, model: M) -> f32 {
                let batch = DigitBatch {
                    images: self.0,
                    labels: self.1,
                };
                model.losses(&batch, 0).total.into_scalar::<f32>()
            }
            fn text<M: Objective<Batch = crate::text::TextBatch>>(self, _: M) -> f32 {
                unreachable!("an image model")
            }
        }
        let device = Device::flex();
        for model in ModelSpec::trainable().iter().filter(|m| !m.reads_text) {
            // Narrow layers where the family lets them be set, to keep the test quick.
            let given = HyperParameters::new(
                model
                    .hyper_parameters
                    .iter()
                    .filter(|p| ["base-channels", "hidden"].contains(&p.name))
                    .map(|p| (p.name.to_string(), "8".to_string())),
            );
            for (side, channels) in [(28, 1), (28, 3), (32, 1), (32, 3), (64, 1), (64, 3)] {
                let shape = ImageShape { channels, side };
                let data = DataShape::Images { shape, classes: 3 };
                let spec = model.configure(&given, data).unwrap();
                spec.validate().unwrap();
                assert_eq!(spec.image_shape(), Some(shape));
                let images = Tensor::<4>::full([2, channels, side, side], 0.5, &device);
                let labels =
                    Tensor::from_data(burn::tensor::TensorData::new(vec![0i32, 2], [2]), &device);
                let name = model.recipe.name;
                let loss = spec.init_objective(&device.clone().autodiff(), LossOf(images, labels));
                assert!(loss.unwrap().is_finite(), "{name} at {shape}");
                let loaded = spec.init(&device).unwrap();
                if spec.capabilities().contains(&Capability::Sample) {
                    let mut request = SampleRequest::new(3, 1).unwrap();
                    if spec.capabilities().contains(&Capability::Conditional) {
                        request = request.with_class(Some(2));
                    }
                    let drawn = loaded.sample(request, &device).unwrap();
                    assert_eq!(drawn.dims(), [3, channels, side, side], "{name} at {shape}");
                }
            }
        }
    }

    /// Run a run of images at a time, as the browser's threads do.
    struct InRuns(usize);

    impl Runner for InRuns {
        fn run<W: PerImage>(&self, work: W) -> Tensor<4> {
            let count = work.count();
            let runs = work.split(self.0);
            let lengths: Vec<usize> = runs.iter().map(W::count).collect();
            assert!(lengths.len() <= self.0.max(1) && !lengths.contains(&0));
            assert_eq!(lengths.iter().sum::<usize>(), count);
            assert!(lengths.iter().max().unwrap() - lengths.iter().min().unwrap() <= 1);
            Tensor::cat(runs.into_iter().map(W::run).collect(), 0)
        }
    }

    fn assert_same(a: Tensor<4>, b: Tensor<4>, what: &str) {
        assert_eq!(a.dims(), b.dims(), "{what}");
        a.into_data()
            .assert_approx_eq::<f32>(&b.into_data(), burn::tensor::Tolerance::absolute(1e-5));
    }

    /// Drawn a run of images at a time (a run per thread in the browser), a batch, a latent walk
    /// or a guided diffusion is the one drawn in one pass.
    #[test]
    fn images_drawn_in_runs_are_the_one_pass_images() {
        let device = Device::flex();
        let none = HyperParameters::new(std::iter::empty());
        let mut drawers = 0;
        for model in ModelSpec::trainable() {
            let Ok(spec) = model.configure(&none, DataShape::DIGITS) else {
                continue;
            };
            let loaded = spec.init(&device).unwrap();
            if loaded.capable().drawer().is_none() {
                continue;
            }
            drawers += 1;
            let name = model.recipe.name;
            let request = SampleRequest::new(7, 3).unwrap();
            let whole = loaded.sample(request, &device).unwrap();
            for parts in [0, 1, 2, 3, 7, 9] {
                let split = loaded.sample_with(request, &device, &InRuns(parts));
                assert_same(split.unwrap(), whole.clone(), &format!("{name} in {parts}"));
            }
            if spec.capabilities().contains(&Capability::Interpolate) {
                let walk = InterpolateRequest::new(3, 8, 5).unwrap();
                let whole = loaded.interpolate(walk, &device).unwrap();
                let split = loaded.interpolate_with(walk, &device, &InRuns(2));
                assert_same(split.unwrap(), whole, &format!("{name}'s walk"));
            }
        }
        assert_eq!(drawers, 3, "vae, cvae and gan");

        let tiny = DiffusionConfig::new().with_unet(UnetConfig::new().with_base_channels(8));
        let ddpm = ModelSpec::Ddpm(tiny).init(&device).unwrap();
        for sampler in [SamplerKind::Ddim, SamplerKind::Ddpm] {
            let guided = DiffusionRequest::new(Some(sampler), Some(3), Some(2.0)).unwrap();
            let request = SampleRequest::new(5, 2).unwrap().with_diffusion(guided);
            let whole = ddpm.sample(request, &device).unwrap();
            let split = ddpm.sample_with(request, &device, &InRuns(2));
            assert_same(split.unwrap(), whole, &format!("ddpm with {sampler}"));
        }
    }

    #[test]
    fn sizes_from_a_file_are_refused_before_anything_of_their_size_is_allocated() {
        let device = Device::flex();
        let wide = ModelSpec::Vae(VaeConfig::new().with_hidden(1_000_000_000));
        let error = wide.load(&[], &device).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid vae config: hidden 1000000000 is above the limit of 16384"
        );
        // Each size within its limit, but 825 G parameters together: counted, not allocated.
        let vocabulary = Vocabulary::from_text("abc").unwrap();
        let deep = ModelSpec::Gpt(GptSpec {
            model: GptConfig::new(3)
                .with_layers(256)
                .with_heads(128)
                .with_width(16_384),
            vocabulary,
        });
        let error = deep.init(&device).unwrap_err().to_string();
        assert!(
            error.ends_with("parameters are above the limit of 100000000"),
            "{error}"
        );
        let shipped = ModelSpec::Vae(VaeConfig::new().with_num_classes(Some(10)).with_hidden(256));
        assert!(shipped.init(&device).unwrap().parameter_count() < MAX_PARAMETERS / 50);
    }

    #[test]
    fn a_recipe_takes_its_hyper_parameters() {
        let trainable = ModelSpec::trainable();
        let recipe = |name: &str| *trainable.iter().find(|t| t.recipe.name == name).unwrap();
        let given = |pairs: &[(&str, &str)]| {
            HyperParameters::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        };
        let vocabulary = Vocabulary::from_text("abc").unwrap();
        let hmm = recipe("hmm")
            .configure(
                &given(&[("states", "8"), ("context", "32")]),
                DataShape::Text(&vocabulary),
            )
            .unwrap();
        let ModelSpec::Hmm(hmm) = hmm else {
            panic!("hmm made {hmm:?}")
        };
        assert_eq!(hmm.model, HmmConfig::new(3).with_states(8).with_context(32));
        let cvae = recipe("cvae")
            .configure(
                &given(&[("latent", "4"), ("beta", "0.5")]),
                DataShape::DIGITS,
            )
            .unwrap();
        assert_eq!(
            cvae,
            ModelSpec::Vae(
                VaeConfig::new()
                    .with_num_classes(Some(10))
                    .with_latent_dim(4)
                    .with_beta(0.5)
            )
        );
        let error = recipe("ae")
            .configure(&given(&[("hidden", "0")]), DataShape::DIGITS)
            .unwrap_err();
        assert!(matches!(error, RecipeError::Invalid { .. }), "{error}");
    }

    #[test]
    fn a_weight_file_can_carry_its_spec() {
        let device = Device::flex();
        let spec = ModelSpec::Vae(VaeConfig::new().with_base_channels(4).with_latent_dim(2));
        let bytes = spec
            .init(&device)
            .unwrap()
            .to_bytes(Precision::F32)
            .unwrap();
        assert_eq!(ModelSpec::embedded_in(&bytes).unwrap(), None);
        let described = spec.embed_in(&bytes).unwrap();
        let found = ModelSpec::embedded_in(&described).unwrap().unwrap();
        assert_eq!(found, spec);
        assert!(found.load(&described, &device).is_ok());
    }

    #[test]
    fn invalid_config_is_an_error_not_a_panic() {
        let spec = ModelSpec::Vae(VaeConfig::new().with_latent_dim(0));
        let err = spec.init(&Device::flex()).unwrap_err().to_string();
        assert_eq!(err, "invalid vae config: latent_dim must be positive");
    }

    #[test]
    fn operations_a_model_lacks_are_errors() {
        let device = Device::flex();
        let ae = ModelSpec::Autoencoder(AutoencoderConfig::new())
            .init(&device)
            .unwrap();
        let err = ae
            .sample(SampleRequest::new(1, 0).unwrap(), &device)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("ae models cannot draw digits"),
            "{err}"
        );
        let vae = ModelSpec::Vae(VaeConfig::new()).init(&device).unwrap();
        let digits = ImageShape::MNIST;
        let request = DenoiseRequest::new(vec![0.0; IMAGE_PIXELS], digits, 0.5, 1).unwrap();
        assert!(vae.denoise(&request, &device).is_err());
        assert_eq!(
            ae.denoise(&request, &device).unwrap().restored.dims(),
            [1, 1, 28, 28]
        );
        assert!(ae.classify(&request.images, &device).is_err());
        let classifier = ModelSpec::Classifier(ClassifierConfig::new())
            .init(&device)
            .unwrap();
        let probabilities = classifier.classify(&request.images, &device).unwrap();
        let total = probabilities.sum().into_scalar::<f32>();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
        // Images of another shape are refused, not fed to layers they do not fit.
        let rgb = ImageShape {
            channels: 3,
            side: 28,
        };
        let colour = Images::new(vec![0.0; 3 * IMAGE_PIXELS], rgb).unwrap();
        let err = classifier
            .classify(&colour, &device)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "this classifier model reads 28×28 grayscale images, and was given 28×28 RGB ones"
        );
        let request = DenoiseRequest::new(vec![0.0; 3 * IMAGE_PIXELS], rgb, 0.5, 1).unwrap();
        assert!(ae.denoise(&request, &device).is_err());
    }

    #[test]
    fn classes_are_checked_against_the_model() {
        let device = Device::flex();
        let request = SampleRequest::new(2, 0).unwrap();
        let vae = ModelSpec::Vae(VaeConfig::new()).init(&device).unwrap();
        let err = vae
            .sample(request.with_class(Some(3)), &device)
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("this vae is not class-conditional"),
            "{err}"
        );
        let cvae = ModelSpec::Vae(VaeConfig::new().with_num_classes(Some(10)))
            .init(&device)
            .unwrap();
        assert!(cvae.sample(request.with_class(Some(9)), &device).is_ok());
        assert!(cvae.sample(request, &device).is_ok());
        let err = cvae
            .sample(request.with_class(Some(10)), &device)
            .unwrap_err();
        assert_eq!(err.to_string(), "class must be from 0 to 9, got 10");
        assert!(class_from_f64(Some(2.5)).is_err());
        assert!(class_from_f64(Some(-1.0)).is_err());
        assert_eq!(class_from_f64(Some(7.0)).unwrap(), Some(7));
    }

    #[test]
    fn diffusion_options_reach_only_diffusion_models() {
        let device = Device::flex();
        let options = DiffusionRequest::new(Some(SamplerKind::Ddpm), Some(2), None).unwrap();
        let request = SampleRequest::new(2, 0).unwrap().with_diffusion(options);
        let vae = ModelSpec::Vae(VaeConfig::new()).init(&device).unwrap();
        let err = vae.sample(request, &device).unwrap_err().to_string();
        assert!(err.starts_with("vae models cannot take a sampler"), "{err}");
        assert!(vae.denoising(request, &device).is_err());

        let tiny = DiffusionConfig::new().with_unet(UnetConfig::new().with_base_channels(8));
        let ddpm = ModelSpec::Ddpm(tiny).init(&device).unwrap();
        assert_eq!(
            ddpm.sample(request, &device).unwrap().dims(),
            [2, 1, 28, 28]
        );
        let err = ddpm
            .sample(request.with_class(Some(10)), &device)
            .unwrap_err();
        assert_eq!(err.to_string(), "class must be from 0 to 9, got 10");
        let too_many = DiffusionRequest::new(None, Some(1001), None).unwrap();
        let err = ddpm
            .sample(request.with_diffusion(too_many), &device)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "steps must be from 1 to 1000 (the timesteps the model was trained with), got 1001"
        );
    }

    #[test]
    fn writing_streams_characters_up_to_its_length_and_checks_what_it_is_given() {
        let device = Device::flex();
        let vocabulary = Vocabulary::from_text("abc\n").unwrap();
        let spec = ModelSpec::Gpt(GptSpec {
            model: GptConfig::new(vocabulary.len())
                .with_context(16)
                .with_layers(1)
                .with_heads(2)
                .with_width(8),
            vocabulary: vocabulary.clone(),
        });
        let model = spec.init(&device).unwrap();
        let request = TextRequest::new("ab".into(), 5, TokenChoice::default(), 9).unwrap();
        let mut writing = model.writing(&request).unwrap();
        let mut text = String::new();
        while let Some(c) = writing.next_char(&device).unwrap() {
            text.push(c);
        }
        assert_eq!(text.chars().count(), 5);
        assert!(text.chars().all(|c| "abc\n".contains(c)), "{text:?}");
        // The same request writes the same text.
        let mut again = model.writing(&request).unwrap();
        let repeat: String = std::iter::from_fn(|| again.next_char(&device).unwrap()).collect();
        assert_eq!(repeat, text);

        let mut writing = model.writing(&request).unwrap();
        assert_eq!(
            writing.choose(&[0.0; 3]),
            Err(GenerationError::Logits {
                expected: 4,
                found: 3
            })
        );
        let unknown = TextRequest::new("abz".into(), 5, TokenChoice::default(), 0).unwrap();
        let err = model.writing(&unknown).unwrap_err().to_string();
        assert!(err.contains("'z'"), "{err}");
        let empty = TextRequest::new(String::new(), 5, TokenChoice::default(), 0).unwrap();
        assert!(matches!(
            model.writing(&empty),
            Err(ModelError::Generation(GenerationError::EmptyPrompt))
        ));
        assert!(TextRequest::from_f64("a".into(), 0.5, 0.8, None, None, 0.0).is_err());
        assert!(TextRequest::from_f64("a".into(), 5.0, f64::NAN, None, None, 0.0).is_err());
        assert!(TextRequest::from_f64("a".into(), 5.0, 0.8, Some(2.5), None, 0.0).is_err());
        assert!(TextRequest::from_f64("a".into(), 5.0, 0.8, None, Some(1.5), 0.0).is_err());
        assert!(TextRequest::from_f64("a".into(), 5.0, 0.8, Some(3.0), Some(0.9), 7.0).is_ok());
        let vae = ModelSpec::Vae(VaeConfig::new()).init(&device).unwrap();
        assert!(matches!(vae, Model::Vae(_)));
        let err = vae.writing(&request).unwrap_err().to_string();
        assert!(err.starts_with("vae models cannot write text"), "{err}");

        let mismatched = ModelSpec::Gpt(GptSpec {
            model: GptConfig::new(5),
            vocabulary,
        });
        let err = mismatched.validate().unwrap_err().to_string();
        assert!(
            err.contains("vocab_size 5 differs from the 4 characters"),
            "{err}"
        );
    }
}
