//! What JavaScript passes: one options object per call, deserialised once into these structs
//! (numbers arrive as doubles) and checked into the requests above, so kiln.js and the worker
//! pass options through and no check lives in two places. [`LIMITS`] tells JavaScript the
//! bounds, so it never copies them.

use serde::{Deserialize, Serialize};

use super::{
    DiffusionRequest, InterpolateRequest, MAX_INTERPOLATION_STEPS, MAX_NOISE_STD, MAX_PROMPT_CHARS,
    MAX_SAMPLE_COUNT, MAX_SEED, MAX_TOKENS, RequestError, SampleRequest, TextRequest,
    class_from_f64, is_whole, seed_from_f64,
};
use crate::data::dataset::ImageShape;
use crate::data::mnist::NUM_CLASSES;
use crate::models::diffusion::MAX_GUIDANCE;
use crate::text::MAX_TEMPERATURE;
use crate::train::finetune::{Example, FinetuneConfig, MAX_EXAMPLES, MAX_LEARNING_RATE, MAX_STEPS};

/// The bounds every request is checked against, as kiln.js reads them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub max_count: usize,
    pub max_seed: u64,
    pub classes: usize,
    pub max_interpolation_steps: usize,
    pub max_noise: f64,
    pub max_guidance: f64,
    pub max_tokens: usize,
    pub max_prompt_chars: usize,
    pub max_temperature: f32,
    pub max_examples: usize,
    pub max_finetune_steps: usize,
    pub max_finetune_lr: f64,
}

pub const LIMITS: Limits = Limits {
    max_count: MAX_SAMPLE_COUNT,
    max_seed: MAX_SEED,
    classes: NUM_CLASSES,
    max_interpolation_steps: MAX_INTERPOLATION_STEPS,
    max_noise: MAX_NOISE_STD,
    max_guidance: MAX_GUIDANCE,
    max_tokens: MAX_TOKENS,
    max_prompt_chars: MAX_PROMPT_CHARS,
    max_temperature: MAX_TEMPERATURE,
    max_examples: MAX_EXAMPLES,
    max_finetune_steps: MAX_STEPS,
    max_finetune_lr: MAX_LEARNING_RATE,
};

/// `sample` and `denoising`: images drawn with a seed, of a class, and for diffusion models how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SampleOptions {
    pub count: f64,
    pub seed: f64,
    #[serde(default)]
    pub class: Option<f64>,
    #[serde(default)]
    pub sampler: Option<String>,
    #[serde(default)]
    pub steps: Option<f64>,
    #[serde(default)]
    pub guidance: Option<f64>,
}

impl TryFrom<SampleOptions> for SampleRequest {
    type Error = RequestError;

    fn try_from(options: SampleOptions) -> Result<Self, RequestError> {
        let diffusion =
            DiffusionRequest::from_js(options.sampler, options.steps, options.guidance)?;
        Ok(SampleRequest::from_f64(options.count, options.seed)?
            .with_class(class_from_f64(options.class)?)
            .with_diffusion(diffusion))
    }
}

/// `writing`: text after a prompt, and how each character is drawn.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TextOptions {
    pub prompt: String,
    pub max_tokens: f64,
    pub temperature: f64,
    #[serde(default)]
    pub top_k: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    pub seed: f64,
}

impl TryFrom<TextOptions> for TextRequest {
    type Error = RequestError;

    fn try_from(options: TextOptions) -> Result<Self, RequestError> {
        TextRequest::from_f64(
            options.prompt,
            options.max_tokens,
            options.temperature,
            options.top_k,
            options.top_p,
            options.seed,
        )
    }
}

/// `interpolate`: a walk between the codes of two seeds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterpolateOptions {
    pub from: f64,
    pub to: f64,
    pub steps: f64,
    #[serde(default)]
    pub class: Option<f64>,
}

impl TryFrom<InterpolateOptions> for InterpolateRequest {
    type Error = RequestError;

    fn try_from(options: InterpolateOptions) -> Result<Self, RequestError> {
        Ok(
            InterpolateRequest::from_f64(options.from, options.to, options.steps)?
                .with_class(class_from_f64(options.class)?),
        )
    }
}

/// `denoise`: how strong the noise is, and its seed (the digits come beside it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DenoiseOptions {
    pub noise: f64,
    pub seed: f64,
}

/// `finetune`: the examples' labels and how to train (the examples' pixels come beside them).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FinetuneOptions {
    pub labels: Vec<f64>,
    pub steps: f64,
    pub lr: f64,
    pub seed: f64,
}

/// A checked request to fine-tune a class-conditional model on labelled images.
#[derive(Debug, Clone, PartialEq)]
pub struct FinetuneRequest {
    pub examples: Vec<Example>,
    pub config: FinetuneConfig,
    pub seed: u64,
}

impl FinetuneRequest {
    /// `pixels`: one image of `shape` per label, intensities in `[0, 1]`, channel by channel and
    /// row by row.
    pub fn new(
        pixels: Vec<f32>,
        shape: ImageShape,
        options: FinetuneOptions,
    ) -> Result<Self, RequestError> {
        let values = shape.values();
        if pixels.len() != options.labels.len() * values {
            return Err(RequestError::Images(format!(
                "{} labels need {} intensities ({shape}, {values} each), got {}",
                options.labels.len(),
                options.labels.len() * values,
                pixels.len()
            )));
        }
        let examples = pixels
            .chunks(values)
            .zip(&options.labels)
            .map(|(image, &label)| {
                let label = class_from_f64(Some(label))?.unwrap_or_default();
                Ok(Example {
                    pixels: image.to_vec(),
                    label,
                })
            })
            .collect::<Result<Vec<_>, RequestError>>()?;
        if !(is_whole(options.steps) && (1.0..=MAX_STEPS as f64).contains(&options.steps)) {
            return Err(RequestError::FinetuneSteps(options.steps.to_string()));
        }
        Ok(Self {
            examples,
            config: FinetuneConfig {
                steps: options.steps as usize,
                learning_rate: options.lr,
                ..FinetuneConfig::default()
            },
            seed: seed_from_f64(options.seed)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::IMAGE_PIXELS;

    #[test]
    fn options_become_checked_requests() {
        let sample = SampleOptions {
            count: 4.0,
            seed: 7.0,
            class: Some(3.0),
            sampler: Some("ddim".into()),
            steps: Some(10.0),
            guidance: None,
        };
        let request = SampleRequest::try_from(sample.clone()).unwrap();
        assert_eq!(
            (request.count, request.seed, request.class),
            (4, 7, Some(3))
        );
        let fractional = SampleOptions {
            count: 2.5,
            ..sample
        };
        assert!(SampleRequest::try_from(fractional).is_err());

        let finetune = |pixels: usize, labels: Vec<f64>, steps: f64| {
            FinetuneRequest::new(
                vec![0.5; pixels],
                ImageShape::MNIST,
                FinetuneOptions {
                    labels,
                    steps,
                    lr: 2e-3,
                    seed: 1.0,
                },
            )
        };
        let request = finetune(2 * IMAGE_PIXELS, vec![1.0, 7.0], 20.0).unwrap();
        assert_eq!(request.examples[1].label, 7);
        assert_eq!(request.config.steps, 20);
        let err = finetune(IMAGE_PIXELS, vec![1.0, 7.0], 20.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2 labels need 1568 intensities (28×28 grayscale, 784 each), got 784"
        );
        assert!(finetune(IMAGE_PIXELS, vec![1.5], 20.0).is_err());
        assert!(finetune(IMAGE_PIXELS, vec![1.0], 1e12).is_err());
    }

    #[test]
    fn limits_serialise_for_javascript() {
        let json = serde_json::to_value(LIMITS).unwrap();
        assert_eq!(json["maxCount"], MAX_SAMPLE_COUNT);
        assert_eq!(json["maxSeed"], MAX_SEED);
        assert_eq!(json["maxFinetuneLr"], 0.01);
    }
}
