//! Requests as they arrive from the CLI or from JavaScript, checked before any tensor is made,
//! so bad input is a readable error and never a panic.

use burn::tensor::{Device, Tensor, TensorData};
use thiserror::Error;

mod options;

pub use options::{
    DenoiseOptions, FinetuneOptions, FinetuneRequest, InterpolateOptions, LIMITS, Limits,
    SampleOptions, TextOptions,
};

use crate::data::dataset::ImageShape;
use crate::models::diffusion::{MAX_GUIDANCE, SamplerKind, SamplingOptions};
use crate::text::{GenerationError, TokenChoice};
use crate::train::finetune::MAX_STEPS as MAX_FINETUNE_STEPS;

/// Most images one call may ask for: keeps a page's memory use bounded.
pub const MAX_SAMPLE_COUNT: usize = 1024;
/// Largest seed that survives a round trip through a JavaScript number (2⁵³ − 1).
pub const MAX_SEED: u64 = (1 << 53) - 1;
/// Most frames one `interpolate` call may ask for.
pub const MAX_INTERPOLATION_STEPS: usize = 256;
/// Strongest noise `denoise` accepts (standard deviation, on intensities in `[0, 1]`).
pub const MAX_NOISE_STD: f64 = 1.0;
/// Most characters one `generate` call may write.
pub const MAX_TOKENS: usize = 100_000;
/// Longest prompt, in characters (the model reads only its last context anyway).
pub const MAX_PROMPT_CHARS: usize = 100_000;

/// What is wrong with a request, before any model sees it.
#[derive(Debug, Error, PartialEq)]
pub enum RequestError {
    #[error("count must be an integer from 1 to {MAX_SAMPLE_COUNT}, got {0}")]
    Count(String),
    #[error("seed must be an integer from 0 to {MAX_SEED}, got {0}")]
    Seed(String),
    #[error("noise must be a number from 0 to {MAX_NOISE_STD}, got {0}")]
    Noise(String),
    #[error("{0}")]
    Images(String),
    #[error("{0}")]
    Class(String),
    #[error("steps must be an integer from 2 to {MAX_INTERPOLATION_STEPS}, got {0}")]
    Steps(String),
    #[error("steps must be a whole number of reverse steps, got {0}")]
    DiffusionSteps(String),
    #[error("fine-tuning takes a whole number of steps from 1 to {MAX_FINETUNE_STEPS}, got {0}")]
    FinetuneSteps(String),
    #[error("guidance must be a number from 0 to {MAX_GUIDANCE}, got {0}")]
    Guidance(String),
    #[error("{0}")]
    Sampler(String),
    #[error("max tokens must be an integer from 1 to {MAX_TOKENS}, got {0}")]
    Tokens(String),
    #[error("{0}")]
    Prompt(String),
    #[error(transparent)]
    Choice(#[from] GenerationError),
}

/// A checked request for `count` images drawn with `seed`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRequest {
    pub count: usize,
    pub seed: u64,
    /// The digit to draw, for class-conditional models.
    pub class: Option<usize>,
    /// How to run the reverse process, for diffusion models.
    pub diffusion: DiffusionRequest,
}

impl SampleRequest {
    pub fn new(count: usize, seed: u64) -> Result<Self, RequestError> {
        if !(1..=MAX_SAMPLE_COUNT).contains(&count) {
            return Err(RequestError::Count(count.to_string()));
        }
        Ok(Self {
            count,
            seed: check_seed(seed)?,
            class: None,
            diffusion: DiffusionRequest::default(),
        })
    }

    /// Check numbers that arrive as JavaScript doubles, which may be fractional or negative.
    pub fn from_f64(count: f64, seed: f64) -> Result<Self, RequestError> {
        if !is_whole(count) || count > MAX_SAMPLE_COUNT as f64 {
            return Err(RequestError::Count(count.to_string()));
        }
        Self::new(count as usize, seed_from_f64(seed)?)
    }

    /// Ask a class-conditional model for one digit class (checked against the model on use).
    pub fn with_class(self, class: Option<usize>) -> Self {
        Self { class, ..self }
    }

    /// Choose sampler, steps and guidance for a diffusion model.
    pub fn with_diffusion(self, diffusion: DiffusionRequest) -> Self {
        Self { diffusion, ..self }
    }
}

/// Sampler options for diffusion models; each left out takes its default. Steps are checked
/// against the model's T when it samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DiffusionRequest {
    pub sampler: Option<SamplerKind>,
    pub steps: Option<usize>,
    pub guidance: Option<f64>,
}

impl DiffusionRequest {
    pub fn new(
        sampler: Option<SamplerKind>,
        steps: Option<usize>,
        guidance: Option<f64>,
    ) -> Result<Self, RequestError> {
        if let Some(g) = guidance
            && !(0.0..=MAX_GUIDANCE).contains(&g)
        {
            return Err(RequestError::Guidance(g.to_string()));
        }
        Ok(Self {
            sampler,
            steps,
            guidance,
        })
    }

    /// Check options that arrive from JavaScript: a sampler name and two doubles.
    pub fn from_js(
        sampler: Option<String>,
        steps: Option<f64>,
        guidance: Option<f64>,
    ) -> Result<Self, RequestError> {
        let sampler = sampler
            .map(|name| name.parse::<SamplerKind>())
            .transpose()
            .map_err(RequestError::Sampler)?;
        let steps = match steps {
            Some(s) if !is_whole(s) || s > 1e6 => {
                return Err(RequestError::DiffusionSteps(s.to_string()));
            }
            s => s.map(|s| s as usize),
        };
        Self::new(sampler, steps, guidance)
    }

    /// Whether no option was given (what every non-diffusion model requires).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The options with defaults filled in.
    pub fn options(&self) -> SamplingOptions {
        let defaults = SamplingOptions::default();
        SamplingOptions {
            sampler: self.sampler.unwrap_or(defaults.sampler),
            steps: self.steps.unwrap_or(defaults.steps),
            guidance: self.guidance.unwrap_or(defaults.guidance),
        }
    }
}

/// A class that arrives as a JavaScript double (or `undefined`), checked to be a whole number.
pub fn class_from_f64(class: Option<f64>) -> Result<Option<usize>, RequestError> {
    match class {
        None => Ok(None),
        Some(c) if is_whole(c) && c < 1e6 => Ok(Some(c as usize)),
        Some(c) => Err(RequestError::Class(format!(
            "class must be a whole number, got {c}"
        ))),
    }
}

pub(crate) fn is_whole(x: f64) -> bool {
    x.is_finite() && x.fract() == 0.0 && x >= 0.0
}

/// `class` must be absent for an unconditional model and below `num_classes` otherwise.
pub(crate) fn check_class(
    kind: &str,
    num_classes: Option<usize>,
    class: Option<usize>,
) -> Result<(), RequestError> {
    match (num_classes, class) {
        (None, Some(_)) => Err(RequestError::Class(format!(
            "this {kind} is not class-conditional: leave out class (or use a conditional model such as cvae)"
        ))),
        (Some(n), Some(c)) if c >= n => Err(RequestError::Class(format!(
            "class must be from 0 to {}, got {c}",
            n - 1
        ))),
        _ => Ok(()),
    }
}

fn check_seed(seed: u64) -> Result<u64, RequestError> {
    if seed > MAX_SEED {
        return Err(RequestError::Seed(seed.to_string()));
    }
    Ok(seed)
}

/// A seed that arrives as a JavaScript double, checked to be a whole number in range.
pub fn seed_from_f64(seed: f64) -> Result<u64, RequestError> {
    if !is_whole(seed) || seed > MAX_SEED as f64 {
        return Err(RequestError::Seed(seed.to_string()));
    }
    Ok(seed as u64)
}

/// A checked request for a latent walk of `steps` frames between the codes of two seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterpolateRequest {
    pub from: u64,
    pub to: u64,
    pub steps: usize,
    /// The digit to keep along the walk, for class-conditional models (default 0).
    pub class: Option<usize>,
}

impl InterpolateRequest {
    pub fn new(from: u64, to: u64, steps: usize) -> Result<Self, RequestError> {
        if !(2..=MAX_INTERPOLATION_STEPS).contains(&steps) {
            return Err(RequestError::Steps(steps.to_string()));
        }
        Ok(Self {
            from: check_seed(from)?,
            to: check_seed(to)?,
            steps,
            class: None,
        })
    }

    /// Check numbers that arrive as JavaScript doubles.
    pub fn from_f64(from: f64, to: f64, steps: f64) -> Result<Self, RequestError> {
        if !is_whole(steps) || steps > MAX_INTERPOLATION_STEPS as f64 {
            return Err(RequestError::Steps(steps.to_string()));
        }
        Self::new(seed_from_f64(from)?, seed_from_f64(to)?, steps as usize)
    }

    /// Keep one digit class along the walk (checked against the model on use).
    pub fn with_class(self, class: Option<usize>) -> Self {
        Self { class, ..self }
    }
}

/// A checked request to write up to `max_tokens` characters after `prompt`.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRequest {
    pub prompt: String,
    pub max_tokens: usize,
    pub choice: TokenChoice,
    pub seed: u64,
}

impl TextRequest {
    /// The prompt's characters are checked against the model's vocabulary on use.
    pub fn new(
        prompt: String,
        max_tokens: usize,
        choice: TokenChoice,
        seed: u64,
    ) -> Result<Self, RequestError> {
        if !(1..=MAX_TOKENS).contains(&max_tokens) {
            return Err(RequestError::Tokens(max_tokens.to_string()));
        }
        if prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(RequestError::Prompt(format!(
                "the prompt must be at most {MAX_PROMPT_CHARS} characters"
            )));
        }
        choice.validate()?;
        Ok(Self {
            prompt,
            max_tokens,
            choice,
            seed: check_seed(seed)?,
        })
    }

    /// Check numbers that arrive as JavaScript doubles (`top_k` may be absent).
    pub fn from_f64(
        prompt: String,
        max_tokens: f64,
        temperature: f64,
        top_k: Option<f64>,
        top_p: Option<f64>,
        seed: f64,
    ) -> Result<Self, RequestError> {
        if !is_whole(max_tokens) || max_tokens > MAX_TOKENS as f64 {
            return Err(RequestError::Tokens(max_tokens.to_string()));
        }
        let top_k = match top_k {
            Some(k) if !is_whole(k) || k > 1e6 => {
                return Err(RequestError::Sampler(format!(
                    "top-k must be a whole number of characters, got {k}"
                )));
            }
            k => k.map(|k| k as usize),
        };
        let choice = TokenChoice {
            temperature: temperature as f32,
            top_k,
            top_p: top_p.map(|p| p as f32),
        };
        Self::new(prompt, max_tokens as usize, choice, seed_from_f64(seed)?)
    }
}

/// A checked request to damage images with Gaussian noise and restore them.
#[derive(Debug, Clone, PartialEq)]
pub struct DenoiseRequest {
    pub images: Images,
    pub noise_std: f64,
    pub seed: u64,
}

impl DenoiseRequest {
    /// `pixels`: clean images of `shape` (the model's), intensities in `[0, 1]`.
    pub fn new(
        pixels: Vec<f32>,
        shape: ImageShape,
        noise_std: f64,
        seed: u64,
    ) -> Result<Self, RequestError> {
        let images = Images::new(pixels, shape)?;
        if !(0.0..=MAX_NOISE_STD).contains(&noise_std) {
            return Err(RequestError::Noise(noise_std.to_string()));
        }
        Ok(Self {
            images,
            noise_std,
            seed: check_seed(seed)?,
        })
    }

    pub fn count(&self) -> usize {
        self.images.count()
    }
}

/// Checked images given by a caller (to denoise or to classify), of the shape the model reads:
/// 1 to [`MAX_SAMPLE_COUNT`] of them, intensities in `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Images {
    pixels: Vec<f32>,
    shape: ImageShape,
}

impl Images {
    /// `pixels`: `count × channels × side × side` intensities, channels first, row by row.
    pub fn new(pixels: Vec<f32>, shape: ImageShape) -> Result<Self, RequestError> {
        let values = shape.values();
        if values == 0 || pixels.is_empty() || !pixels.len().is_multiple_of(values) {
            return Err(RequestError::Images(format!(
                "images must be {shape}: expected a multiple of {values} values, got {}",
                pixels.len()
            )));
        }
        let count = pixels.len() / values;
        if count > MAX_SAMPLE_COUNT {
            return Err(RequestError::Count(count.to_string()));
        }
        if let Some(bad) = pixels.iter().find(|p| !(0.0..=1.0).contains(*p)) {
            return Err(RequestError::Images(format!(
                "pixel values must be from 0 to 1, got {bad}"
            )));
        }
        Ok(Self { pixels, shape })
    }

    pub fn count(&self) -> usize {
        self.pixels.len() / self.shape.values()
    }

    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// # Shapes
    /// - output: `[count, channels, side, side]`
    pub fn to_tensor(&self, device: &Device) -> Tensor<4> {
        let ImageShape { channels, side } = self.shape;
        let shape = [self.count(), channels, side, side];
        Tensor::from_data(TensorData::new(self.pixels.clone(), shape), device)
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
    fn interpolate_requests_are_checked() {
        assert!(InterpolateRequest::from_f64(1.0, 2.0, 8.0).is_ok());
        for (from, to, steps) in [
            (1.0, 2.0, 1.0),
            (1.0, 2.0, 257.0),
            (1.0, 2.0, 2.5),
            (-1.0, 2.0, 8.0),
        ] {
            assert!(
                InterpolateRequest::from_f64(from, to, steps).is_err(),
                "{from} {to} {steps}"
            );
        }
        let err = InterpolateRequest::new(0, 1, 1).unwrap_err().to_string();
        assert_eq!(err, "steps must be an integer from 2 to 256, got 1");
    }

    #[test]
    fn denoise_requests_are_checked() {
        const IMAGE_PIXELS: usize = 784;
        let digits = ImageShape::MNIST;
        let ok = |pixels: Vec<f32>, noise, seed| DenoiseRequest::new(pixels, digits, noise, seed);
        assert_eq!(ok(vec![0.5; 2 * IMAGE_PIXELS], 0.3, 4).unwrap().count(), 2);
        let wrong = ok(vec![0.5; 100], 0.3, 0).unwrap_err().to_string();
        assert!(
            wrong.contains(
                "images must be 28×28 grayscale: expected a multiple of 784 values, got 100"
            ),
            "{wrong}"
        );
        let rgb = ImageShape {
            channels: 3,
            side: 4,
        };
        let colour = DenoiseRequest::new(vec![0.5; 96], rgb, 0.3, 0).unwrap();
        assert_eq!(
            colour.images.to_tensor(&Device::flex()).dims(),
            [2, 3, 4, 4]
        );
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

    #[test]
    fn diffusion_requests_are_checked() {
        let ok = DiffusionRequest::from_js(Some("ddpm".into()), Some(50.0), Some(3.0)).unwrap();
        assert_eq!(ok.options().sampler, SamplerKind::Ddpm);
        assert_eq!((ok.options().steps, ok.options().guidance), (50, 3.0));
        assert!(DiffusionRequest::default().is_empty());
        assert_eq!(
            DiffusionRequest::default().options(),
            SamplingOptions::default()
        );
        let err = |s: Option<&str>, steps, g| {
            DiffusionRequest::from_js(s.map(String::from), steps, g)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(Some("euler"), None, None),
            "sampler must be \"ddpm\" or \"ddim\", got \"euler\""
        );
        assert_eq!(
            err(None, Some(2.5), None),
            "steps must be a whole number of reverse steps, got 2.5"
        );
        assert_eq!(
            err(None, None, Some(-1.0)),
            "guidance must be a number from 0 to 10, got -1"
        );
        assert!(DiffusionRequest::from_js(None, None, Some(f64::NAN)).is_err());
    }
}
