//! Fine-tuning a model on the visitor's digits, driven one step at a time from JavaScript so the
//! page can plot the loss, stay responsive and cancel between steps.

use burn::tensor::Device;
use js_sys::Promise;
use kiln_core::models::vae::Vae;
use kiln_core::train::finetune::Finetuning;
use wasm_bindgen::prelude::*;

use crate::js::{promise, read_values, set_numbers};
use crate::pool::on_pool;

#[wasm_bindgen]
pub struct FinetuneRun {
    run: Finetuning,
}

impl FinetuneRun {
    pub fn new(run: Finetuning) -> Self {
        Self { run }
    }

    /// The model as fine-tuned so far (`LoadedModel::finetuned` wraps it for JavaScript).
    pub fn model(&self) -> Vae {
        self.run.model()
    }

    /// The device it trains on.
    pub fn device(&self) -> Device {
        self.run.device()
    }
}

#[wasm_bindgen]
impl FinetuneRun {
    #[wasm_bindgen(getter, js_name = totalSteps)]
    pub fn total_steps(&self) -> usize {
        self.run.total_steps()
    }

    /// Take the next gradient step. Resolves to `{ step, total, loss }` (the batch's −ELBO per
    /// digit, nats, read back without blocking), or to `null` once every step is done.
    pub fn step(&mut self) -> Promise {
        let Some(loss) = on_pool(|| self.run.step()) else {
            return Promise::resolve(&JsValue::NULL);
        };
        let (step, total) = (self.run.steps_done(), self.run.total_steps());
        promise(async move {
            let loss = read_values(loss, "the loss").await?[0];
            let object = js_sys::Object::new().into();
            set_numbers(
                &object,
                &[
                    ("step", step as f64),
                    ("total", total as f64),
                    ("loss", f64::from(loss)),
                ],
            )?;
            Ok(object)
        })
    }
}
