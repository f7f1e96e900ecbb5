//! A model on the engine's device, used asynchronously so the page never blocks on the GPU.
//! Every call takes one options object (see kiln-core's `request::options`), checked in Rust.

use burn::tensor::Device;
use js_sys::Float32Array;
use kiln_core::audio::{Spectrogram, griffin_lim};
use kiln_core::data::dataset::ImageShape;
use kiln_core::model::{Model, ModelSpec};
use kiln_core::request::{
    DenoiseOptions, DenoiseRequest, FinetuneOptions, FinetuneRequest, Images, InterpolateOptions,
    InterpolateRequest, SampleOptions, SampleRequest, TextOptions, TextRequest, seed_from_f64,
};
use kiln_core::train::finetune::Finetuning;
use wasm_bindgen::prelude::*;

use crate::backend;
use crate::denoising_run::DenoisingRun;
use crate::finetune_run::FinetuneRun;
use crate::js::{image_object, options, promise, read_images, read_values, to_js};
use crate::pool::{Pool, on_pool};
use crate::writing_run::WritingRun;

#[wasm_bindgen]
pub struct LoadedModel {
    name: String,
    spec: ModelSpec,
    model: Model,
    device: Device,
    /// A sound model's: how its images become clips.
    spectrogram: Option<Spectrogram>,
}

impl LoadedModel {
    /// The images it reads; a text model has none, and refuses image calls itself.
    fn shape(&self) -> ImageShape {
        self.spec.image_shape().unwrap_or(ImageShape::MNIST)
    }

    pub fn new(name: String, spec: ModelSpec, model: Model, device: Device) -> Self {
        Self {
            name,
            spec,
            model,
            device,
            spectrogram: None,
        }
    }

    /// The same model, as a sound model whose images are `spectrogram`'s.
    pub fn with_spectrogram(self, spectrogram: Option<Spectrogram>) -> Self {
        Self {
            spectrogram,
            ..self
        }
    }
}

#[wasm_bindgen]
impl LoadedModel {
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The images it reads or draws, `{ channels, side }`; undefined for a text model.
    #[wasm_bindgen(getter, js_name = imageShape)]
    pub fn image_shape(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.spec.image_shape()).map_err(to_js)
    }

    /// What the model can do: "sample", "conditional", "diffuse", "interpolate", "denoise",
    /// "classify", "write", "finetune".
    #[wasm_bindgen(getter)]
    pub fn capabilities(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.spec.capabilities()).map_err(to_js)
    }

    /// Draw images: `{ count, seed, class?, sampler?, steps?, guidance? }` (the last three for
    /// diffusion models). Resolves to `{ count, width, height, data }`, where `data` is a
    /// `Float32Array` of intensities in [0, 1].
    pub fn sample(&self, options_object: JsValue) -> js_sys::Promise {
        let (model, device) = (self.model.clone(), self.device.clone());
        promise(async move {
            let request =
                SampleRequest::try_from(options::<SampleOptions>(options_object, "sample")?)?;
            let images =
                on_pool(move || model.sample_with(request, &device, &Pool)).map_err(to_js)?;
            let batch = read_images(images).await?;
            image_object(&batch, &[("data", &batch)])
        })
    }

    /// Start a diffusion model's reverse process (options as for `sample`), to run one `step()`
    /// at a time.
    pub fn denoising(&self, options_object: JsValue) -> Result<DenoisingRun, JsError> {
        let request = SampleRequest::try_from(options::<SampleOptions>(options_object, "sample")?)?;
        let run = self.model.denoising(request, &self.device).map_err(to_js)?;
        Ok(DenoisingRun::new(run))
    }

    /// Start writing text: `{ prompt, maxTokens, temperature, topK?, topP?, seed }`; run it one
    /// `logits()` / `choose()` at a time.
    pub fn writing(&self, options_object: JsValue) -> Result<WritingRun, JsError> {
        let request = TextRequest::try_from(options::<TextOptions>(options_object, "generate")?)?;
        let writing = self.model.writing(&request).map_err(to_js)?;
        Ok(WritingRun::new(writing, self.device.clone()))
    }

    /// Start fine-tuning a class-conditional VAE on `pixels` (one image of the model's shape
    /// per label, intensities in [0, 1]) with `{ labels, steps, lr, seed }`; run it one
    /// `step()` at a time.
    pub fn finetune(
        &self,
        pixels: Vec<f32>,
        options_object: JsValue,
    ) -> Result<FinetuneRun, JsError> {
        let Some(vae) = self.model.capable().vae() else {
            return Err(to_js(format!(
                "{} is a {} model: fine-tuning takes a class-conditional VAE such as cvae",
                self.name,
                self.model.kind()
            )));
        };
        let shape = self.shape();
        let request = FinetuneRequest::new(
            pixels,
            shape,
            options::<FinetuneOptions>(options_object, "finetune")?,
        )?;
        let run = Finetuning::new(
            vae.clone(),
            shape,
            request.examples,
            request.config,
            request.seed,
            &self.device,
        )
        .map_err(to_js)?;
        Ok(FinetuneRun::new(run))
    }

    /// This model as `run` has fine-tuned it so far, on the device it trained on.
    pub fn finetuned(&self, run: &FinetuneRun) -> LoadedModel {
        LoadedModel::new(
            self.name.clone(),
            self.spec.clone(),
            Model::Vae(Box::new(run.model())),
            run.device(),
        )
        .with_spectrogram(self.spectrogram.clone())
    }

    /// The clip that one of a sound model's spectrograms (`bands × bands` intensities in
    /// [0, 1], as `sample` draws them) sounds like, its phase recovered by Griffin–Lim: a
    /// `Float32Array` of samples in [-1, 1] at the model's rate. The same image gives the same
    /// samples on every backend (this runs on the CPU).
    pub fn sound(&self, pixels: Vec<f32>) -> Result<Float32Array, JsError> {
        let Some(spectrogram) = &self.spectrogram else {
            return Err(to_js(format!(
                "{} is not a sound model: its images are not spectrograms",
                self.name
            )));
        };
        let samples = spectrogram
            .sound(&pixels, griffin_lim::ITERATIONS)
            .map_err(to_js)?;
        Ok(Float32Array::from(&samples[..]))
    }

    /// The weights as a burnpack file (f32) that also carries the model's spec, so that
    /// `kiln sample --model FILE` loads it alone; read back from the device without blocking.
    /// Resolves to a `Uint8Array`.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> js_sys::Promise {
        let (model, spec) = (self.model.clone(), self.spec.clone());
        promise(async move {
            let bytes = model
                .to_bytes_async(&backend::cpu_device())
                .await
                .map_err(to_js)?;
            let bytes = spec.embed_in(&bytes).map_err(to_js)?;
            Ok(js_sys::Uint8Array::from(&bytes[..]).into())
        })
    }

    /// Decode the frames of a latent walk (VAEs): `{ from, to, steps, class? }`, from seed
    /// `from`'s code to seed `to`'s (a CVAE keeps digit `class`, default 0). Resolves like
    /// `sample`, with `count = steps`.
    pub fn interpolate(&self, options_object: JsValue) -> js_sys::Promise {
        let (model, device) = (self.model.clone(), self.device.clone());
        promise(async move {
            let request = InterpolateRequest::try_from(options::<InterpolateOptions>(
                options_object,
                "interpolate",
            )?)?;
            let frames =
                on_pool(move || model.interpolate_with(request, &device, &Pool)).map_err(to_js)?;
            let batch = read_images(frames).await?;
            image_object(&batch, &[("data", &batch)])
        })
    }

    /// Add Gaussian noise (`{ noise, seed }`: its standard deviation, seeded) to images of the
    /// model's shape (`count × channels × side × side` intensities in [0, 1]), and restore
    /// them. Resolves to `{ count, width, height, channels, damaged, restored }` with two
    /// `Float32Array`s.
    pub fn denoise(&self, pixels: Vec<f32>, options_object: JsValue) -> js_sys::Promise {
        let (model, device, shape) = (self.model.clone(), self.device.clone(), self.shape());
        promise(async move {
            let DenoiseOptions { noise, seed } = options(options_object, "denoise")?;
            let request = DenoiseRequest::new(pixels, shape, noise, seed_from_f64(seed)?)?;
            let denoised = on_pool(move || model.denoise(&request, &device)).map_err(to_js)?;
            let damaged = read_images(denoised.damaged).await?;
            let restored = read_images(denoised.restored).await?;
            image_object(&restored, &[("damaged", &damaged), ("restored", &restored)])
        })
    }

    /// How likely each of `pixels`' images (of the model's shape, intensities in [0, 1]) is to
    /// be of each class (classifiers). Resolves to a `Float32Array` of `count × classes`
    /// probabilities.
    pub fn classify(&self, pixels: Vec<f32>) -> js_sys::Promise {
        let (model, device, shape) = (self.model.clone(), self.device.clone(), self.shape());
        promise(async move {
            let images = Images::new(pixels, shape)?;
            let probabilities = on_pool(move || model.classify(&images, &device)).map_err(to_js)?;
            let values = read_values(probabilities, "class probabilities").await?;
            Ok(Float32Array::from(&values[..]).into())
        })
    }
}
