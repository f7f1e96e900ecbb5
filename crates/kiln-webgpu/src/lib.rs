//! The WebGPU build of [`kiln_web`]: the same `wasm_bindgen` surface, compiled with burn's wgpu
//! runtime. A crate of its own only so that Trunk writes it beside the CPU module under its own
//! name (`kiln-webgpu.js`, `kiln-webgpu_bg.wasm`).

pub use kiln_web::*;
