//! Weight files: burnpack bytes in and out, checked against their SHA-256.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WeightError {
    #[error(
        "weight file checksum mismatch: expected sha256 {expected}, got {found} (the file is corrupt, truncated, or from another export)"
    )]
    Checksum { expected: String, found: String },
    #[error("not a readable burnpack weight file: {0}")]
    Format(String),
    #[error("the weights do not fit this model's architecture (was the config changed?): {0}")]
    Architecture(String),
}

/// Lower-case hex SHA-256 of `bytes`, as stored in the manifest.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Fail unless `bytes` hash to `expected` (hex, case-insensitive).
pub fn verify_sha256(bytes: &[u8], expected: &str) -> Result<(), WeightError> {
    let found = sha256_hex(bytes);
    if found.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(WeightError::Checksum {
            expected: expected.to_owned(),
            found,
        })
    }
}

/// Serialise a module's parameters to burnpack bytes.
///
/// Reads every parameter synchronously: on WebGPU, read them asynchronously onto a CPU copy of
/// the module first.
pub fn to_bytes<M: Module>(model: M) -> Result<Vec<u8>, WeightError> {
    let bytes = model
        .into_record()
        .into_bytes()
        .map_err(|e| WeightError::Format(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// Load burnpack bytes into `model`, whose architecture must match the file's exactly.
pub fn load<M: Module>(model: M, bytes: &[u8]) -> Result<M, WeightError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| WeightError::Format(e.to_string()))?;
    model
        .try_load_record(record)
        .map_err(|e| WeightError::Architecture(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vae::VaeConfig;
    use burn::tensor::Device;

    fn config() -> VaeConfig {
        VaeConfig::new()
            .with_base_channels(4)
            .with_hidden(8)
            .with_latent_dim(2)
    }

    #[test]
    fn round_trip_gives_identical_outputs() {
        let device = Device::flex();
        let original = config().init(&device);
        let bytes = to_bytes(original.clone()).unwrap();
        let loaded = load(config().init(&device), &bytes).unwrap();
        original
            .sample(3, 5, None, &device)
            .into_data()
            .assert_eq(&loaded.sample(3, 5, None, &device).into_data(), true);
    }

    #[test]
    fn rejects_other_architecture_and_garbage() {
        let device = Device::flex();
        let bytes = to_bytes(config().init(&device)).unwrap();
        let bigger = config().with_latent_dim(3).init(&device);
        assert!(matches!(
            load(bigger, &bytes),
            Err(WeightError::Architecture(_))
        ));
        for corrupt in [&b"not weights"[..], &bytes[..bytes.len() / 2], &[]] {
            let err = load(config().init(&device), corrupt).unwrap_err();
            assert!(matches!(err, WeightError::Format(_)), "{err}");
        }
    }

    #[test]
    fn checksum() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(verify_sha256(b"abc", &sha256_hex(b"abc").to_uppercase()).is_ok());
        assert!(matches!(
            verify_sha256(b"abd", &sha256_hex(b"abc")),
            Err(WeightError::Checksum { .. })
        ));
    }
}
