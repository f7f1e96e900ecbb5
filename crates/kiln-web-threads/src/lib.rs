//! The threaded build of [`kiln_web`]: the same `wasm_bindgen` surface, with burn's CPU kernels
//! (burn-flex and gemm) splitting their work over a Rayon pool of Web Workers. The worker loads
//! it instead of the one-thread module when the page is cross-origin isolated (only then can
//! wasm memory be shared), and calls `initThreadPool(n)` before anything else.

pub use kiln_web::*;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use wasm_bindgen_rayon::init_thread_pool;
