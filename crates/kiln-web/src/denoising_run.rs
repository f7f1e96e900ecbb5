//! A diffusion model's reverse process, driven one step at a time from JavaScript so the page
//! can animate it, report progress and stop it.

use js_sys::{Promise, Reflect};
use kiln_core::diffusion::Denoising;
use wasm_bindgen::prelude::*;

use crate::loaded_model::{image_object, read_images};

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
        let Some(frame) = self.run.step() else {
            return Promise::resolve(&JsValue::NULL);
        };
        let (step, total) = (self.run.steps_done(), self.run.total_steps());
        wasm_bindgen_futures::future_to_promise(async move {
            let sample = read_images(frame.sample).await?;
            let predicted = read_images(frame.predicted).await?;
            let object = image_object(&sample, &[("sample", &sample), ("predicted", &predicted)])?;
            Reflect::set(&object, &"step".into(), &(step as u32).into())?;
            Reflect::set(&object, &"total".into(), &(total as u32).into())?;
            Ok(object)
        })
    }
}
