//! Weight files and the manifest that lists them: bytes in, bytes out.

pub mod manifest;
pub mod weights;
