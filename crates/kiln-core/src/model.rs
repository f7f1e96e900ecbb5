//! The models Kiln ships, behind one type, so the CLI and the browser load and sample any of
//! them the same way.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::autoencoder::{AutoencoderConfig, DenoisingAutoencoder};
use crate::classifier::{Classifier, ClassifierConfig};
use crate::corruption::Corruption;
use crate::diffusion::{Denoising, Diffusion, DiffusionConfig, ScheduleError};
use crate::gan::{GENERATOR_FIELD, GanConfig, Generator};
use crate::gpt::{Gpt, GptSpec};
use crate::hmm::{Hmm, HmmSpec};
use crate::request::{
    DenoiseRequest, Digits, InterpolateRequest, RequestError, SampleRequest, TextRequest,
    check_class,
};
use crate::text::{
    Generation, GenerationError, Reads, TextModel, Vocabulary, VocabularyError, Writing,
};
use crate::train::WithObjective;
use crate::vae::{Vae, VaeConfig};
use crate::weights::{self, Precision, WeightError};

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
}

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

/// The burnpack metadata key of a self-describing weight file's spec (JSON).
const SPEC_METADATA: &str = "kiln.spec";

/// An architecture and its hyper-parameters, as stored in the manifest and in run directories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "config", rename_all = "lowercase")]
pub enum ModelSpec {
    Vae(VaeConfig),
    /// The denoising autoencoder.
    #[serde(rename = "ae")]
    Autoencoder(AutoencoderConfig),
    Classifier(ClassifierConfig),
    /// The class-conditional DCGAN.
    Gan(GanConfig),
    /// The class-conditional diffusion model.
    Ddpm(DiffusionConfig),
    /// The character-level Transformer.
    Gpt(GptSpec),
    /// The character-level hidden Markov model.
    Hmm(HmmSpec),
}

impl ModelSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Vae(_) => "vae",
            ModelSpec::Autoencoder(_) => "ae",
            ModelSpec::Classifier(_) => "classifier",
            ModelSpec::Gan(_) => "gan",
            ModelSpec::Ddpm(_) => "ddpm",
            ModelSpec::Gpt(_) => "gpt",
            ModelSpec::Hmm(_) => "hmm",
        }
    }

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

    /// What models of this spec can do.
    pub fn capabilities(&self) -> Vec<Capability> {
        use Capability::*;
        match self {
            ModelSpec::Vae(config) if config.num_classes.is_some() => {
                vec![Sample, Conditional, Interpolate, Finetune]
            }
            ModelSpec::Vae(_) => vec![Sample, Interpolate],
            ModelSpec::Autoencoder(_) => vec![Denoise],
            ModelSpec::Classifier(_) => vec![Classify],
            ModelSpec::Gan(_) => vec![Sample, Conditional],
            ModelSpec::Ddpm(_) => vec![Sample, Conditional, Diffuse],
            ModelSpec::Gpt(_) | ModelSpec::Hmm(_) => vec![Write],
        }
    }

    /// What a text model reads: the characters its tokens stand for, and the characters per
    /// window it trains and is judged on. `None` for models of images.
    pub fn text_shape(&self) -> Option<TextShape<'_>> {
        let (vocabulary, context) = match self {
            ModelSpec::Gpt(spec) => (&spec.vocabulary, spec.model.context),
            ModelSpec::Hmm(spec) => (&spec.vocabulary, spec.model.context),
            _ => return None,
        };
        Some(TextShape {
            vocabulary,
            context,
        })
    }

    /// Check the config, naming what is wrong.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            ModelSpec::Vae(config) => config.validate(),
            ModelSpec::Autoencoder(config) => config.validate(),
            ModelSpec::Classifier(config) => config.validate(),
            ModelSpec::Gan(config) => config.validate(),
            ModelSpec::Ddpm(config) => config.validate(),
            ModelSpec::Gpt(spec) => spec.validate(),
            ModelSpec::Hmm(spec) => spec.validate(),
        }
        .map_err(|why| ModelError::Config {
            kind: self.kind(),
            why,
        })
    }

    /// A freshly initialised model of this architecture.
    pub fn init(&self, device: &Device) -> Result<Model, ModelError> {
        self.validate()?;
        Ok(match self {
            ModelSpec::Vae(config) => Model::Vae(config.init(device)),
            ModelSpec::Autoencoder(config) => Model::Autoencoder(config.init(device)),
            ModelSpec::Classifier(config) => Model::Classifier(config.init(device)),
            ModelSpec::Gan(config) => Model::Gan(Box::new(config.init_generator(device))),
            ModelSpec::Ddpm(config) => Model::Ddpm(Box::new(config.init(device))),
            ModelSpec::Gpt(spec) => Model::Gpt(Box::new(TextModel {
                model: spec.model.init(device),
                vocabulary: spec.vocabulary.clone(),
            })),
            ModelSpec::Hmm(spec) => Model::Hmm(Box::new(TextModel {
                model: spec.model.init(device),
                vocabulary: spec.vocabulary.clone(),
            })),
        })
    }

    /// Initialise this architecture on `device` (an autodiff device, to train it) and hand it
    /// to `task` with its concrete type, which the shared training code is generic over.
    pub fn init_objective<T: WithObjective>(
        &self,
        device: &Device,
        task: T,
    ) -> Result<T::Output, ModelError> {
        self.validate()?;
        Ok(match self {
            ModelSpec::Vae(config) => task.digits(config.init(device)),
            ModelSpec::Autoencoder(config) => task.digits(config.init(device)),
            ModelSpec::Classifier(config) => task.digits(config.init(device)),
            ModelSpec::Gan(config) => task.digits(config.init(device)),
            ModelSpec::Ddpm(config) => task.digits(config.init(device)),
            ModelSpec::Gpt(spec) => task.text(spec.model.init(device)),
            ModelSpec::Hmm(spec) => task.text(spec.model.init(device)),
        })
    }

    /// This architecture with the weights in `bytes` (burnpack).
    pub fn load(&self, bytes: &[u8], device: &Device) -> Result<Model, ModelError> {
        Ok(match self.init(device)? {
            Model::Vae(m) => Model::Vae(weights::load(m, bytes)?),
            Model::Autoencoder(m) => Model::Autoencoder(weights::load(m, bytes)?),
            Model::Classifier(m) => Model::Classifier(weights::load(m, bytes)?),
            Model::Gan(m) => {
                Model::Gan(Box::new(weights::load_within(*m, bytes, GENERATOR_FIELD)?))
            }
            Model::Ddpm(m) => Model::Ddpm(Box::new(weights::load(*m, bytes)?)),
            Model::Gpt(text) => Model::Gpt(Box::new(TextModel {
                model: weights::load(text.model, bytes)?,
                ..*text
            })),
            Model::Hmm(text) => Model::Hmm(Box::new(TextModel {
                model: weights::load(text.model, bytes)?,
                ..*text
            })),
        })
    }
}

/// See [`ModelSpec::text_shape`].
#[derive(Debug, Clone, Copy)]
pub struct TextShape<'a> {
    pub vocabulary: &'a Vocabulary,
    pub context: usize,
}

/// A loaded model of any kind.
#[derive(Debug, Clone)]
pub enum Model {
    Vae(Vae),
    Autoencoder(DenoisingAutoencoder),
    Classifier(Classifier),
    /// A GAN's generator: all that sampling needs (its discriminator stays in the run
    /// directory). Boxed: it is far larger than the other variants.
    Gan(Box<Generator>),
    Ddpm(Box<Diffusion>),
    /// A Transformer that writes text.
    Gpt(Box<TextModel<Gpt>>),
    /// A hidden Markov model that writes text.
    Hmm(Box<TextModel<Hmm>>),
}

/// `body` with `$module` bound to the burn module inside `model`, whatever its family: the one
/// place that lists how each variant holds its module.
macro_rules! with_module {
    ($model:expr, $module:ident => $body:expr) => {
        match $model {
            Model::Vae($module) => $body,
            Model::Autoencoder($module) => $body,
            Model::Classifier($module) => $body,
            Model::Gan(boxed) => {
                let $module = boxed.as_ref();
                $body
            }
            Model::Ddpm(boxed) => {
                let $module = boxed.as_ref();
                $body
            }
            Model::Gpt(text) => {
                let $module = &text.model;
                $body
            }
            Model::Hmm(text) => {
                let $module = &text.model;
                $body
            }
        }
    };
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
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Vae(_) => "vae",
            Model::Autoencoder(_) => "ae",
            Model::Classifier(_) => "classifier",
            Model::Gan(_) => "gan",
            Model::Ddpm(_) => "ddpm",
            Model::Gpt(_) => "gpt",
            Model::Hmm(_) => "hmm",
        }
    }

    /// The number of classes a class-conditional generative model draws; `None` otherwise.
    pub fn num_classes(&self) -> Option<usize> {
        match self {
            Model::Vae(vae) => vae.num_classes(),
            Model::Gan(generator) => Some(generator.num_classes()),
            Model::Ddpm(diffusion) => Some(diffusion.unet.num_classes()),
            Model::Autoencoder(_) | Model::Classifier(_) | Model::Gpt(_) | Model::Hmm(_) => None,
        }
    }

    /// Draw images in `[0, 1]`.
    ///
    /// # Shapes
    /// - output: `[count, 1, 28, 28]`
    pub fn sample(&self, request: SampleRequest, device: &Device) -> Result<Tensor<4>, ModelError> {
        if !matches!(self, Model::Ddpm(_)) && !request.diffusion.is_empty() {
            return Err(self.unsupported(
                "take a sampler, steps or guidance",
                "those choose how a diffusion model such as ddpm denoises",
            ));
        }
        match self {
            Model::Vae(vae) => {
                check_class(self.kind(), vae.num_classes(), request.class)?;
                Ok(vae.sample(request.count, request.seed, request.class, device))
            }
            Model::Gan(generator) => {
                check_class(self.kind(), self.num_classes(), request.class)?;
                Ok(generator.sample(request.count, request.seed, request.class, device))
            }
            Model::Autoencoder(_) => Err(self.unsupported(
                "sample from noise",
                "they restore digits you give them: use denoise",
            )),
            Model::Classifier(_) => Err(self.unsupported(
                "sample",
                "they recognise digits: sample from a generative model such as vae",
            )),
            Model::Ddpm(_) => Ok(self.denoising(request, device)?.finish()),
            Model::Gpt(_) | Model::Hmm(_) => {
                Err(self.unsupported("draw digits", "they write text: use generate"))
            }
        }
    }

    /// Start a diffusion model's reverse process, to run one step at a time.
    pub fn denoising(
        &self,
        request: SampleRequest,
        device: &Device,
    ) -> Result<Denoising, ModelError> {
        let Model::Ddpm(diffusion) = self else {
            return Err(
                self.unsupported("denoise step by step", "use a diffusion model such as ddpm")
            );
        };
        check_class(self.kind(), self.num_classes(), request.class)?;
        Ok(Denoising::new(
            diffusion.as_ref().clone(),
            request.count,
            request.seed,
            request.class,
            request.diffusion.options(),
            device,
        )?)
    }

    /// Start writing text after the request's prompt, one character per step.
    pub fn writing(&self, request: &TextRequest) -> Result<Writing, ModelError> {
        let (reads, vocabulary): (&dyn Reads, _) = match self {
            Model::Gpt(text) => (&text.model, &text.vocabulary),
            Model::Hmm(text) => (&text.model, &text.vocabulary),
            _ => return Err(self.unsupported("write text", "use a text model such as gpt")),
        };
        let prompt = vocabulary.encode(&request.prompt)?;
        let generation = Generation::new(reads.reader(), &prompt, request.choice, request.seed)?;
        Ok(Writing::new(
            vocabulary.clone(),
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
        let Model::Vae(vae) = self else {
            return Err(self.unsupported("interpolate", "walk the latent space of a vae"));
        };
        check_class(self.kind(), vae.num_classes(), request.class)?;
        Ok(vae.interpolate(
            request.from,
            request.to,
            request.steps,
            request.class,
            device,
        ))
    }

    /// Add Gaussian noise to the request's digits and restore them.
    pub fn denoise(
        &self,
        request: &DenoiseRequest,
        device: &Device,
    ) -> Result<Denoised, ModelError> {
        let Model::Autoencoder(ae) = self else {
            return Err(self.unsupported("denoise", "use a denoising autoencoder such as ae"));
        };
        let clean = request.digits.to_tensor(device);
        let damaged = Corruption::Fixed {
            noise_std: request.noise_std,
        }
        .apply(clean, request.seed);
        Ok(Denoised {
            restored: ae.denoise(damaged.clone()),
            damaged,
        })
    }

    /// How likely each digit is to be a 0, 1, …, 9 (classifiers).
    ///
    /// # Shapes
    /// - output: `[count, 10]`, each row summing to 1
    pub fn classify(&self, digits: &Digits, device: &Device) -> Result<Tensor<2>, ModelError> {
        let Model::Classifier(classifier) = self else {
            return Err(self.unsupported("classify", "use a classifier such as classifier"));
        };
        Ok(softmax(classifier.logits(digits.to_tensor(device)), 1))
    }

    fn unsupported(&self, operation: &'static str, hint: &'static str) -> ModelError {
        ModelError::Unsupported {
            kind: self.kind(),
            operation,
            hint,
        }
    }

    /// The weights as f32 burnpack bytes, read back asynchronously and serialised on `host` (a
    /// CPU device): what a browser on WebGPU must use instead of [`Model::to_bytes`].
    pub async fn to_bytes_async(&self, host: &Device) -> Result<Vec<u8>, WeightError> {
        with_module!(self, module => {
            weights::to_bytes_async(module.clone(), host, Precision::F32).await
        })
    }

    /// The weights as burnpack bytes, floats stored at `precision`.
    pub fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>, WeightError> {
        with_module!(self, module => weights::to_bytes_at(module.clone(), precision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mnist::IMAGE_PIXELS;
    use crate::request::class_from_f64;

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
            err.to_string().starts_with("ae models cannot sample"),
            "{err}"
        );
        let vae = ModelSpec::Vae(VaeConfig::new()).init(&device).unwrap();
        let request = DenoiseRequest::new(vec![0.0; IMAGE_PIXELS], 0.5, 1).unwrap();
        assert!(vae.denoise(&request, &device).is_err());
        assert_eq!(
            ae.denoise(&request, &device).unwrap().restored.dims(),
            [1, 1, 28, 28]
        );
        assert!(ae.classify(&request.digits, &device).is_err());
        let classifier = ModelSpec::Classifier(ClassifierConfig::new())
            .init(&device)
            .unwrap();
        let probabilities = classifier.classify(&request.digits, &device).unwrap();
        let total = probabilities.sum().into_scalar::<f32>();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
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
        use crate::diffusion::{SamplerKind, UnetConfig};
        use crate::request::DiffusionRequest;
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
}
