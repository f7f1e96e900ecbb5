//! A text model writing, driven one character at a time from JavaScript so the page can show
//! the text as it appears and stop it between any two characters.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::Promise;
use kiln_core::text::Writing;
use wasm_bindgen::prelude::*;

use crate::js::{promise, read_values, to_js};
use crate::pool::on_pool;

#[wasm_bindgen]
pub struct WritingRun {
    /// Shared with the character in flight, which chooses once its logits are read back.
    writing: Rc<RefCell<Writing>>,
    /// Whether a character is in flight: its logits are the next call's too, so a second call
    /// before it resolves would draw twice from one distribution.
    busy: Rc<Cell<bool>>,
    device: Device,
}

impl WritingRun {
    pub fn new(writing: Writing, device: Device) -> Self {
        Self {
            writing: Rc::new(RefCell::new(writing)),
            busy: Rc::default(),
            device,
        }
    }
}

#[wasm_bindgen]
impl WritingRun {
    /// Characters still to write.
    #[wasm_bindgen(getter)]
    pub fn remaining(&self) -> usize {
        self.writing.borrow().remaining()
    }

    /// Write the next character: the model reads what it has not yet, its logits come back
    /// without blocking (a GPU is read asynchronously), and one character is drawn from them,
    /// all in one call. Resolves to the character, or to `null` once the maximum length is
    /// written.
    #[wasm_bindgen(js_name = next)]
    pub fn next_character(&mut self) -> Result<Promise, JsError> {
        if self.busy.get() {
            return Err(JsError::new(
                "the previous character is still being written: await it before asking for the next",
            ));
        }
        let (writing, device) = (&mut *self.writing.borrow_mut(), &self.device);
        let Some(logits) = on_pool(|| writing.next_logits(device)) else {
            return Ok(Promise::resolve(&JsValue::NULL));
        };
        self.busy.set(true);
        let (writing, busy) = (Rc::clone(&self.writing), Rc::clone(&self.busy));
        Ok(promise(async move {
            let values = read_values(logits, "logits").await;
            busy.set(false);
            let character = writing.borrow_mut().choose(&values?).map_err(to_js)?;
            Ok(JsValue::from(String::from(character)))
        }))
    }
}
