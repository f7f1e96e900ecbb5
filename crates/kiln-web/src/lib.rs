//! Kiln in the browser. This crate is the only `wasm_bindgen` surface: `kiln.js` fetches
//! manifests and weights, and its worker (`kiln-worker.js`) passes the bytes in; everything else
//! is kiln-core.

mod backend;
mod denoising_run;
mod engine;
mod finetune_run;
mod js;
mod loaded_model;
mod pool;
mod writing_run;

pub use denoising_run::DenoisingRun;
pub use engine::Engine;
pub use finetune_run::FinetuneRun;
pub use loaded_model::LoadedModel;
pub use writing_run::WritingRun;

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    // Turns a Rust panic (a bug, never bad input) into a readable console error.
    console_error_panic_hook::set_once();
}
