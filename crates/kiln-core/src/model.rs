//! The models Kiln ships, behind one type, so the CLI and the browser load and sample any of
//! them the same way.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::vae::{Vae, VaeConfig};
use crate::weights::{self, WeightError};

/// Most images one `sample` call may ask for: keeps a page's memory use bounded.
pub const MAX_SAMPLE_COUNT: usize = 1024;
/// Largest seed that survives a round trip through a JavaScript number (2⁵³ − 1).
pub const MAX_SEED: u64 = (1 << 53) - 1;

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
}

/// An architecture and its hyper-parameters, as stored in the manifest and in run directories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "config", rename_all = "lowercase")]
pub enum ModelSpec {
    Vae(VaeConfig),
}

impl ModelSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelSpec::Vae(_) => "vae",
        }
    }

    /// A freshly initialised model of this architecture.
    pub fn init(&self, device: &Device) -> Result<Model, ModelError> {
        let invalid = |why| ModelError::Config {
            kind: self.kind(),
            why,
        };
        match self {
            ModelSpec::Vae(config) => {
                config.validate().map_err(invalid)?;
                Ok(Model::Vae(config.init(device)))
            }
        }
    }

    /// This architecture with the weights in `bytes` (burnpack).
    pub fn load(&self, bytes: &[u8], device: &Device) -> Result<Model, ModelError> {
        Ok(match self.init(device)? {
            Model::Vae(vae) => Model::Vae(weights::load(vae, bytes)?),
        })
    }
}

/// A loaded model of any kind.
#[derive(Debug, Clone)]
pub enum Model {
    Vae(Vae),
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
        if seed > MAX_SEED {
            return Err(ModelError::Seed(seed.to_string()));
        }
        Ok(Self { count, seed })
    }

    /// Check numbers that arrive as JavaScript doubles, which may be fractional or negative.
    pub fn from_f64(count: f64, seed: f64) -> Result<Self, ModelError> {
        let integer = |x: f64| x.is_finite() && x.fract() == 0.0 && x >= 0.0;
        if !integer(count) || count > MAX_SAMPLE_COUNT as f64 {
            return Err(ModelError::Count(count.to_string()));
        }
        if !integer(seed) || seed > MAX_SEED as f64 {
            return Err(ModelError::Seed(seed.to_string()));
        }
        Self::new(count as usize, seed as u64)
    }
}

impl Model {
    /// Draw images in `[0, 1]`.
    ///
    /// # Shapes
    /// - output: `[count, 1, 28, 28]`
    pub fn sample(&self, request: SampleRequest, device: &Device) -> Tensor<4> {
        match self {
            Model::Vae(vae) => vae.sample(request.count, request.seed, device),
        }
    }

    /// The weights as burnpack bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WeightError> {
        match self {
            Model::Vae(vae) => weights::to_bytes(vae.clone()),
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
}
