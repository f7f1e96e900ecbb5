//! A model on the engine's device, sampled asynchronously so the page never blocks on the GPU.

use burn::tensor::Device;
use js_sys::{Float32Array, Object, Reflect};
use kiln_core::finetune::{Example, FinetuneConfig, Finetuning};
use kiln_core::image::ImageBatch;
use kiln_core::mnist::IMAGE_PIXELS;
use kiln_core::model::{Model, ModelSpec};
use kiln_core::request::{
    DenoiseRequest, DiffusionRequest, Digits, InterpolateRequest, SampleRequest, TextRequest,
    class_from_f64, seed_from_f64,
};
use wasm_bindgen::prelude::*;

use crate::backend;
use crate::denoising_run::DenoisingRun;
use crate::finetune_run::FinetuneRun;
use crate::writing_run::WritingRun;

#[wasm_bindgen]
pub struct LoadedModel {
    name: String,
    spec: ModelSpec,
    model: Model,
    device: Device,
}

impl LoadedModel {
    pub fn new(name: String, spec: ModelSpec, model: Model, device: Device) -> Self {
        Self {
            name,
            spec,
            model,
            device,
        }
    }
}

#[wasm_bindgen]
impl LoadedModel {
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// What the model can do: "sample", "conditional", "diffuse", "interpolate", "denoise",
    /// "classify", "write", "finetune".
    #[wasm_bindgen(getter)]
    pub fn capabilities(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.spec.capabilities())
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Draw `count` images with `seed` (of digit `class`, for conditional models; with
    /// `sampler`, `steps` and `guidance` for diffusion models). Resolves to
    /// `{ count, width, height, data }`, where `data` is a `Float32Array` of intensities in [0, 1].
    pub fn sample(
        &self,
        count: f64,
        seed: f64,
        class: Option<f64>,
        sampler: Option<String>,
        steps: Option<f64>,
        guidance: Option<f64>,
    ) -> js_sys::Promise {
        let (model, device) = (self.model.clone(), self.device.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let request = sample_request(count, seed, class, sampler, steps, guidance)?;
            let batch = read_images(model.sample(request, &device).map_err(to_js)?).await?;
            image_object(&batch, &[("data", &batch)])
        })
    }

    /// Start a diffusion model's reverse process (arguments as for `sample`), to run one
    /// `step()` at a time.
    pub fn denoising(
        &self,
        count: f64,
        seed: f64,
        class: Option<f64>,
        sampler: Option<String>,
        steps: Option<f64>,
        guidance: Option<f64>,
    ) -> Result<DenoisingRun, JsValue> {
        let request = sample_request(count, seed, class, sampler, steps, guidance)?;
        let run = self.model.denoising(request, &self.device).map_err(to_js)?;
        Ok(DenoisingRun::new(run))
    }

    /// Start writing up to `max_tokens` characters after `prompt` (text models), drawing with
    /// `temperature` (0 = always the likeliest), among the `top_k` likeliest characters and
    /// within nucleus `top_p` if given, seeded; run it one `logits()` / `choose()` at a time.
    pub fn writing(
        &self,
        prompt: String,
        max_tokens: f64,
        temperature: f64,
        top_k: Option<f64>,
        top_p: Option<f64>,
        seed: f64,
    ) -> Result<WritingRun, JsValue> {
        let request = TextRequest::from_f64(prompt, max_tokens, temperature, top_k, top_p, seed)
            .map_err(to_js)?;
        let writing = self.model.writing(&request).map_err(to_js)?;
        Ok(WritingRun::new(writing, self.device.clone()))
    }

    /// Start fine-tuning a class-conditional VAE on `pixels` (`count × 784` intensities in
    /// [0, 1]) labelled `labels` (one digit each), for `steps` steps at learning rate `lr`,
    /// seeded; run it one `step()` at a time.
    pub fn finetune(
        &self,
        pixels: Vec<f32>,
        labels: Vec<f64>,
        steps: f64,
        lr: f64,
        seed: f64,
    ) -> Result<FinetuneRun, JsValue> {
        let Some(vae) = self.model.capable().vae() else {
            return Err(to_js(format!(
                "{} is a {} model: fine-tuning takes a class-conditional VAE such as cvae",
                self.name,
                self.model.kind()
            )));
        };
        if pixels.len() != labels.len() * IMAGE_PIXELS {
            return Err(to_js(format!(
                "{} labels need {} intensities (28×28 each), got {}",
                labels.len(),
                labels.len() * IMAGE_PIXELS,
                pixels.len()
            )));
        }
        let examples = pixels
            .chunks(IMAGE_PIXELS)
            .zip(labels)
            .map(|(digit, label)| {
                let label = class_from_f64(Some(label)).map_err(to_js)?;
                Ok(Example {
                    pixels: digit.to_vec(),
                    label: label.expect("a class given stays given"),
                })
            })
            .collect::<Result<Vec<_>, JsValue>>()?;
        if !(steps.fract() == 0.0 && (0.0..=1e9).contains(&steps)) {
            return Err(to_js(format!("steps must be a whole number, got {steps}")));
        }
        let config = FinetuneConfig {
            steps: steps as usize,
            learning_rate: lr,
            ..FinetuneConfig::default()
        };
        let seed = seed_from_f64(seed).map_err(to_js)?;
        let run =
            Finetuning::new(vae.clone(), examples, config, seed, &self.device).map_err(to_js)?;
        Ok(FinetuneRun::new(
            self.name.clone(),
            self.spec.clone(),
            run,
            self.device.clone(),
        ))
    }

    /// The weights as a burnpack file (f32) that also carries the model's spec, so that
    /// `kiln sample --model FILE` loads it alone; read back from the device without blocking.
    /// Resolves to a `Uint8Array`.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> js_sys::Promise {
        let (model, spec) = (self.model.clone(), self.spec.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let bytes = model
                .to_bytes_async(&backend::cpu_device())
                .await
                .map_err(to_js)?;
            let bytes = spec.embed_in(&bytes).map_err(to_js)?;
            Ok(js_sys::Uint8Array::from(&bytes[..]).into())
        })
    }

    /// Decode `steps` frames on the latent path from seed `from`'s code to seed `to`'s (VAEs;
    /// a CVAE keeps digit `class`, default 0). Resolves like `sample`, with `count = steps`.
    pub fn interpolate(
        &self,
        from: f64,
        to: f64,
        steps: f64,
        class: Option<f64>,
    ) -> js_sys::Promise {
        let (model, device) = (self.model.clone(), self.device.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let request = InterpolateRequest::from_f64(from, to, steps)
                .map_err(to_js)?
                .with_class(class_from_f64(class).map_err(to_js)?);
            let frames = model.interpolate(request, &device).map_err(to_js)?;
            let batch = read_images(frames).await?;
            image_object(&batch, &[("data", &batch)])
        })
    }

    /// Add Gaussian noise of standard deviation `noise` (seeded) to 28×28 digits given as
    /// `count × 784` intensities in [0, 1], and restore them. Resolves to
    /// `{ count, width, height, damaged, restored }` with two `Float32Array`s.
    pub fn denoise(&self, pixels: Vec<f32>, noise: f64, seed: f64) -> js_sys::Promise {
        let (model, device) = (self.model.clone(), self.device.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let request = DenoiseRequest::new(pixels, noise, seed_from_f64(seed).map_err(to_js)?)
                .map_err(to_js)?;
            let denoised = model.denoise(&request, &device).map_err(to_js)?;
            let damaged = read_images(denoised.damaged).await?;
            let restored = read_images(denoised.restored).await?;
            image_object(&restored, &[("damaged", &damaged), ("restored", &restored)])
        })
    }

    /// How likely each of `pixels`' digits (`count × 784` intensities in [0, 1]) is to be a
    /// 0, 1, …, 9 (classifiers). Resolves to a `Float32Array` of `count × 10` probabilities.
    pub fn classify(&self, pixels: Vec<f32>) -> js_sys::Promise {
        let (model, device) = (self.model.clone(), self.device.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let digits = Digits::new(pixels).map_err(to_js)?;
            let probabilities = model.classify(&digits, &device).map_err(to_js)?;
            let values = read_values(probabilities, "class probabilities").await?;
            Ok(Float32Array::from(&values[..]).into())
        })
    }
}

/// A sample request from JavaScript's loosely typed arguments, checked.
fn sample_request(
    count: f64,
    seed: f64,
    class: Option<f64>,
    sampler: Option<String>,
    steps: Option<f64>,
    guidance: Option<f64>,
) -> Result<SampleRequest, JsValue> {
    Ok(SampleRequest::from_f64(count, seed)
        .map_err(to_js)?
        .with_class(class_from_f64(class).map_err(to_js)?)
        .with_diffusion(DiffusionRequest::from_js(sampler, steps, guidance).map_err(to_js)?))
}

/// A device tensor's images, read without blocking (a synchronous GPU read panics in browsers).
pub(crate) async fn read_images(images: burn::tensor::Tensor<4>) -> Result<ImageBatch, JsValue> {
    let data = images
        .into_data_async()
        .await
        .map_err(|e| to_js(format!("reading images from the device failed: {e:?}")))?;
    ImageBatch::from_data(data).map_err(to_js)
}

/// A device tensor's values as f32, read without blocking; `what` names them in an error.
pub(crate) async fn read_values<const D: usize>(
    tensor: burn::tensor::Tensor<D>,
    what: &str,
) -> Result<Vec<f32>, JsValue> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| to_js(format!("reading {what} from the device failed: {e:?}")))?
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| to_js(format!("reading {what}: {e:?}")))
}

/// `{ count, width, height }` of `shape`, plus each named batch's pixels as a `Float32Array`.
pub(crate) fn image_object(
    shape: &ImageBatch,
    arrays: &[(&str, &ImageBatch)],
) -> Result<JsValue, JsValue> {
    let object = Object::new();
    let set = |key: &str, value: JsValue| Reflect::set(&object, &key.into(), &value);
    set("count", (shape.count as u32).into())?;
    set("width", (shape.width as u32).into())?;
    set("height", (shape.height as u32).into())?;
    for (name, batch) in arrays {
        set(name, Float32Array::from(&batch.pixels[..]).into())?;
    }
    Ok(object.into())
}

pub(crate) fn to_js(error: impl ToString) -> JsValue {
    JsError::new(&error.to_string()).into()
}
