//! Kiln's own CPU kernels: plain loops over slices that burn's tensor operations have no fast
//! form for. They live apart from kiln-core so that the size-first wasm profile (opt-level "z")
//! can build them at opt-level 2, where their loops are unrolled and vectorised (Cargo.toml).
//!
//! - [`product`]: a matrix product, faster than gemm's on wasm for a decoder's upsampling.
//! - [`transposed_conv`]: a transposed convolution's overlap-add, channels last.

pub mod product;
pub mod transposed_conv;
