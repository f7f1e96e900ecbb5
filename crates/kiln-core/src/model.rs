//! The models Kiln ships, behind one type, so the CLI and the browser load and sample any of
//! them the same way.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::autoencoder::{AutoencoderConfig, DenoisingAutoencoder};
use crate::classifier::{Classifier, ClassifierConfig};
use crate::corruption::Corruption;
use crate::mnist::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::vae::{Vae, VaeConfig};
use crate::weights::{self, WeightError};

/// Most images one call may ask for: keeps a page's memory use bounded.
pub const MAX_SAMPLE_COUNT: usize = 1024;
/// Largest seed that survives a round trip through a JavaScript number (2⁵³ − 1).
pub const MAX_SEED: u64 = (1 << 53) - 1;
/// Strongest noise `denoise` accepts (standard deviation, on intensities in `[0, 1]`).
pub const MAX_NOISE_STD: f64 = 1.0;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("invalid {kind} config: {why}")]
    Config { kind: &'static str, why: String },
    #[error(transparent)]
    Weights(#[from] WeightError),
    #[error("count must be an integer from 1 to {MAX_SAMPLE_COUNT}, got {0}")]
    Count(String),
    #[error("seed must be an integer from 0 to {MAX_SEED}, got {0}")]
    Seed(String),
    #[error("noise must be a number from 0 to {MAX_NOISE_STD}, got {0}")]
    Noise(String),
    #[error("{0}")]
    Images(String),
    #[error("{kind} models cannot {operation}; {hint}")]
    Unsupported {
        kind: &'static str,
        operation: &'static str,
        hint: &'static str,
    },
}

/// An architecture and its hyper-parameters, as stored in the manifest and in run directories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "config", rename_all = "lowercase")]
pub enum ModelSpec {
    Vae(VaeConfig),
    /// The denoising autoencoder.
    #[serde(rename = "ae")]
    Autoencoder(AutoencoderConfig),
    Classifier(ClassifierConfig),
}

impl ModelSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Vae(_) => "vae",
            ModelSpec::Autoencoder(_) => "ae",
            ModelSpec::Classifier(_) => "classifier",
        }
    }

    /// Check the config, naming what is wrong.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            ModelSpec::Vae(config) => config.validate(),
            ModelSpec::Autoencoder(config) => config.validate(),
            ModelSpec::Classifier(config) => config.validate(),
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
        })
    }

    /// This architecture with the weights in `bytes` (burnpack).
    pub fn load(&self, bytes: &[u8], device: &Device) -> Result<Model, ModelError> {
        Ok(match self.init(device)? {
            Model::Vae(m) => Model::Vae(weights::load(m, bytes)?),
            Model::Autoencoder(m) => Model::Autoencoder(weights::load(m, bytes)?),
            Model::Classifier(m) => Model::Classifier(weights::load(m, bytes)?),
        })
    }
}

/// A loaded model of any kind.
#[derive(Debug, Clone)]
pub enum Model {
    Vae(Vae),
    Autoencoder(DenoisingAutoencoder),
    Classifier(Classifier),
}

/// A checked request for `count` images drawn with `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRequest {
    pub count: usize,
    pub seed: u64,
}

impl SampleRequest {
    pub fn new(count: usize, seed: u64) -> Result<Self, ModelError> {
        if !(1..=MAX_SAMPLE_COUNT).contains(&count) {
            return Err(ModelError::Count(count.to_string()));
        }
        Ok(Self {
            count,
            seed: check_seed(seed)?,
        })
    }

    /// Check numbers that arrive as JavaScript doubles, which may be fractional or negative.
    pub fn from_f64(count: f64, seed: f64) -> Result<Self, ModelError> {
        if !is_whole(count) || count > MAX_SAMPLE_COUNT as f64 {
            return Err(ModelError::Count(count.to_string()));
        }
        Self::new(count as usize, seed_from_f64(seed)?)
    }
}

fn is_whole(x: f64) -> bool {
    x.is_finite() && x.fract() == 0.0 && x >= 0.0
}

fn check_seed(seed: u64) -> Result<u64, ModelError> {
    if seed > MAX_SEED {
        return Err(ModelError::Seed(seed.to_string()));
    }
    Ok(seed)
}

/// A seed that arrives as a JavaScript double, checked to be a whole number in range.
pub fn seed_from_f64(seed: f64) -> Result<u64, ModelError> {
    if !is_whole(seed) || seed > MAX_SEED as f64 {
        return Err(ModelError::Seed(seed.to_string()));
    }
    Ok(seed as u64)
}

/// A checked request to damage digits with Gaussian noise and restore them.
#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseRequest {
    /// Clean digits, `count × 28 × 28` intensities in `[0, 1]`.
    pub pixels: Vec<f32>,
    pub noise_std: f64,
    pub seed: u64,
}

impl DenoiseRequest {
    pub fn new(pixels: Vec<f32>, noise_std: f64, seed: u64) -> Result<Self, ModelError> {
        let count = pixels.len() / IMAGE_PIXELS;
        if pixels.is_empty() || !pixels.len().is_multiple_of(IMAGE_PIXELS) {
            return Err(ModelError::Images(format!(
                "images must be 28×28: expected a multiple of {IMAGE_PIXELS} values, got {}",
                pixels.len()
            )));
        }
        if count > MAX_SAMPLE_COUNT {
            return Err(ModelError::Count(count.to_string()));
        }
        if let Some(bad) = pixels.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(ModelError::Images(format!(
                "pixel values must be from 0 to 1, got {bad}"
            )));
        }
        if !(0.0..=MAX_NOISE_STD).contains(&noise_std) {
            return Err(ModelError::Noise(noise_std.to_string()));
        }
        Ok(Self {
            pixels,
            noise_std,
            seed: check_seed(seed)?,
        })
    }

    pub fn count(&self) -> usize {
        self.pixels.len() / IMAGE_PIXELS
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
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Vae(_) => "vae",
            Model::Autoencoder(_) => "ae",
            Model::Classifier(_) => "classifier",
        }
    }

    /// Draw images in `[0, 1]`.
    ///
    /// # Shapes
    /// - output: `[count, 1, 28, 28]`
    pub fn sample(&self, request: SampleRequest, device: &Device) -> Result<Tensor<4>, ModelError> {
        match self {
            Model::Vae(vae) => Ok(vae.sample(request.count, request.seed, device)),
            Model::Autoencoder(_) => Err(self.unsupported(
                "sample from noise",
                "they restore digits you give them: use denoise",
            )),
            Model::Classifier(_) => Err(self.unsupported(
                "sample",
                "they recognise digits: sample from a generative model such as vae",
            )),
        }
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
        let shape = [request.count(), 1, IMAGE_SIDE, IMAGE_SIDE];
        let clean = Tensor::from_data(TensorData::new(request.pixels.clone(), shape), device);
        let damaged = Corruption::Fixed {
            noise_std: request.noise_std,
        }
        .apply(clean, request.seed);
        Ok(Denoised {
            restored: ae.denoise(damaged.clone()),
            damaged,
        })
    }

    fn unsupported(&self, operation: &'static str, hint: &'static str) -> ModelError {
        ModelError::Unsupported {
            kind: self.kind(),
            operation,
            hint,
        }
    }

    /// The weights as burnpack bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WeightError> {
        match self {
            Model::Vae(m) => weights::to_bytes(m.clone()),
            Model::Autoencoder(m) => weights::to_bytes(m.clone()),
            Model::Classifier(m) => weights::to_bytes(m.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_requests_are_checked() {
        assert!(SampleRequest::new(16, 7).is_ok());
        assert!(SampleRequest::new(0, 7).is_err());
        assert!(SampleRequest::new(MAX_SAMPLE_COUNT + 1, 7).is_err());
        assert!(SampleRequest::new(1, MAX_SEED + 1).is_err());
        assert!(SampleRequest::from_f64(16.0, 7.0).is_ok());
        for (count, seed) in [
            (1.5, 0.0),
            (-1.0, 0.0),
            (f64::NAN, 0.0),
            (4.0, 0.5),
            (4.0, -3.0),
            (4.0, f64::INFINITY),
        ] {
            assert!(
                SampleRequest::from_f64(count, seed).is_err(),
                "{count} {seed}"
            );
        }
        let err = SampleRequest::from_f64(2000.0, 0.0)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "count must be an integer from 1 to 1024, got 2000");
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
    }

    #[test]
    fn denoise_requests_are_checked() {
        let ok = |pixels: Vec<f32>, noise, seed| DenoiseRequest::new(pixels, noise, seed);
        assert_eq!(ok(vec![0.5; 2 * IMAGE_PIXELS], 0.3, 4).unwrap().count(), 2);
        for (pixels, noise, seed) in [
            (vec![], 0.3, 0),
            (vec![0.5; 100], 0.3, 0),
            (vec![1.5; IMAGE_PIXELS], 0.3, 0),
            (vec![f32::NAN; IMAGE_PIXELS], 0.3, 0),
            (vec![0.5; IMAGE_PIXELS], -0.1, 0),
            (vec![0.5; IMAGE_PIXELS], f64::NAN, 0),
            (vec![0.5; IMAGE_PIXELS], 0.3, MAX_SEED + 1),
        ] {
            assert!(ok(pixels, noise, seed).is_err(), "{noise} {seed}");
        }
    }
}
