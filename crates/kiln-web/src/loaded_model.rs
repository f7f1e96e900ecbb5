//! A model on the engine's device, sampled asynchronously so the page never blocks on the GPU.

use burn::tensor::Device;
use js_sys::{Float32Array, Object, Reflect};
use kiln_core::image::ImageBatch;
use kiln_core::model::{Model, SampleRequest};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct LoadedModel {
    name: String,
    model: Model,
    device: Device,
}

impl LoadedModel {
    pub fn new(name: String, model: Model, device: Device) -> Self {
        Self {
            name,
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

    /// Draw `count` images with `seed`. Resolves to `{ count, width, height, data }`, where
    /// `data` is a `Float32Array` of intensities in [0, 1].
    pub fn sample(&self, count: f64, seed: f64) -> js_sys::Promise {
        let (model, device) = (self.model.clone(), self.device.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let request = SampleRequest::from_f64(count, seed).map_err(to_js)?;
            // A synchronous read of a GPU tensor panics in the browser: read asynchronously.
            let data = model
                .sample(request, &device)
                .into_data_async()
                .await
                .map_err(|e| to_js(format!("reading samples from the device failed: {e:?}")))?;
            let batch = ImageBatch::from_data(data).map_err(to_js)?;
            image_object(&batch)
        })
    }
}

fn image_object(batch: &ImageBatch) -> Result<JsValue, JsValue> {
    let object = Object::new();
    let set = |key: &str, value: JsValue| Reflect::set(&object, &key.into(), &value);
    set("count", (batch.count as u32).into())?;
    set("width", (batch.width as u32).into())?;
    set("height", (batch.height as u32).into())?;
    set("data", Float32Array::from(&batch.pixels[..]).into())?;
    Ok(object.into())
}

fn to_js(error: impl ToString) -> JsValue {
    JsError::new(&error.to_string()).into()
}
