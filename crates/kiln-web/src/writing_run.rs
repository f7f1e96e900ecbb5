//! A text model writing, driven one character at a time from JavaScript so the page can show
//! the text as it appears and stop it between any two characters.

use burn::tensor::Device;
use js_sys::{Float32Array, Promise};
use kiln_core::text::Writing;
use wasm_bindgen::prelude::*;

use crate::js::{promise, read_values, to_js};

#[wasm_bindgen]
pub struct WritingRun {
    writing: Writing,
    device: Device,
}

impl WritingRun {
    pub fn new(writing: Writing, device: Device) -> Self {
        Self { writing, device }
    }
}

#[wasm_bindgen]
impl WritingRun {
    /// Characters still to write.
    #[wasm_bindgen(getter)]
    pub fn remaining(&self) -> usize {
        self.writing.remaining()
    }

    /// Run the model on what it has not read yet. Resolves to the next character's logits (a
    /// `Float32Array`, read back without blocking) to pass to `choose`, or to `null` once the
    /// maximum length is written.
    pub fn logits(&mut self) -> Promise {
        let Some(logits) = self.writing.next_logits(&self.device) else {
            return Promise::resolve(&JsValue::NULL);
        };
        promise(async move {
            let values = read_values(logits, "logits").await?;
            Ok(Float32Array::from(&values[..]).into())
        })
    }

    /// Pick the next character from the logits `logits()` gave; the model reads it next time.
    pub fn choose(&mut self, logits: Vec<f32>) -> Result<String, JsError> {
        self.writing
            .choose(&logits)
            .map(String::from)
            .map_err(to_js)
    }
}
