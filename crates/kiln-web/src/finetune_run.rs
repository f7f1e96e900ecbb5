//! Fine-tuning a model on the visitor's digits, driven one step at a time from JavaScript so the
//! page can plot the loss, stay responsive and cancel between steps.

use burn::tensor::Device;
use js_sys::Promise;
use kiln_core::finetune::Finetuning;
use kiln_core::model::{Model, ModelSpec};
use wasm_bindgen::prelude::*;

use crate::loaded_model::{LoadedModel, read_values};

#[wasm_bindgen]
pub struct FinetuneRun {
    name: String,
    spec: ModelSpec,
    run: Finetuning,
    device: Device,
}

impl FinetuneRun {
    pub fn new(name: String, spec: ModelSpec, run: Finetuning, device: Device) -> Self {
        Self {
            name,
            spec,
            run,
            device,
        }
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
        let Some(loss) = self.run.step() else {
            return Promise::resolve(&JsValue::NULL);
        };
        let (step, total) = (self.run.steps_done(), self.run.total_steps());
        wasm_bindgen_futures::future_to_promise(async move {
            let loss = read_values(loss, "the loss").await?[0];
            let object = js_sys::Object::new();
            for (key, value) in [
                ("step", step as f64),
                ("total", total as f64),
                ("loss", f64::from(loss)),
            ] {
                js_sys::Reflect::set(&object, &key.into(), &value.into())?;
            }
            Ok(object.into())
        })
    }

    /// The model as fine-tuned so far, under the original model's name.
    pub fn model(&self) -> LoadedModel {
        LoadedModel::new(
            self.name.clone(),
            self.spec.clone(),
            Model::Vae(Box::new(self.run.model())),
            self.device.clone(),
        )
    }
}
