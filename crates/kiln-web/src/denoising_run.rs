//! A diffusion model's reverse process, driven one step at a time from JavaScript so the page
//! can animate it, report progress and stop it.

use js_sys::Promise;
use kiln_core::models::diffusion::Denoising;
use wasm_bindgen::prelude::*;

use crate::js::{image_object, promise, read_images, set_numbers};
use crate::pool::{Pool, on_pool};

#[wasm_bindgen]
pub struct DenoisingRun {
    run: Denoising,
}

impl DenoisingRun {
    pub fn new(run: Denoising) -> Self {
        Self { run }
    }
}

#[wasm_bindgen]
impl DenoisingRun {
    /// How many steps the whole run takes.
    #[wasm_bindgen(getter, js_name = totalSteps)]
    pub fn total_steps(&self) -> usize {
        self.run.total_steps()
    }

    /// Run the next reverse step. Resolves to `{ step, total, count, width, height, sample,
    /// predicted }`, with x_t and the step's estimate of the clean digits as `Float32Array`s of
    /// intensities, or to `null` once the run is finished (the last `sample` is the result).
    pub fn step(&mut self) -> Promise {
        let Some(frame) = on_pool(|| self.run.step_with(&Pool)) else {
            return Promise::resolve(&JsValue::NULL);
        };
        let (step, total) = (self.run.steps_done(), self.run.total_steps());
        promise(async move {
            let sample = read_images(frame.sample).await?;
            let predicted = read_images(frame.predicted).await?;
            let object = image_object(&sample, &[("sample", &sample), ("predicted", &predicted)])?;
            set_numbers(&object, &[("step", step as f64), ("total", total as f64)])?;
            Ok(object)
        })
    }
}
