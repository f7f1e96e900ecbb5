//! Weight files: burnpack bytes in and out, checked against their SHA-256. Files may store
//! half-precision floats (half the download); they load into the model's own precision.

use std::future::Future;
use std::pin::Pin;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, DType, Device, Tensor, TensorData};
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

/// How floats are stored in a weight file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// f32, as trained.
    #[default]
    Full,
    /// f16: half the size, at a relative rounding error of at most 2⁻¹¹ per weight.
    Half,
}

/// Serialise a module's parameters to burnpack bytes at `precision`.
pub fn to_bytes_at<M: Module>(model: M, precision: Precision) -> Result<Vec<u8>, WeightError> {
    match precision {
        Precision::Full => to_bytes(model),
        Precision::Half => to_bytes(model.map(&mut ToHalf)),
    }
}

/// [`to_bytes_at`] for a module on a device that must not be read synchronously (WebGPU in a
/// browser): every parameter is read back asynchronously, and the module is rebuilt on `host`
/// (a CPU device) and serialised there.
pub async fn to_bytes_async<M: Module>(
    model: M,
    host: &Device,
    precision: Precision,
) -> Result<Vec<u8>, WeightError> {
    let mut reads = ParameterReads::default();
    model.visit(&mut reads);
    let mut values = Vec::with_capacity(reads.pending.len());
    for read in reads.pending {
        values.push(
            read.await
                .map_err(|e| WeightError::Format(format!("reading a parameter back: {e:?}")))?,
        );
    }
    let on_host = model.map(&mut OntoHost {
        values: values.into_iter(),
        host: host.clone(),
    });
    to_bytes_at(on_host, precision)
}

type ParameterRead =
    Pin<Box<dyn Future<Output = Result<TensorData, burn::tensor::ExecutionError>>>>;

/// Starts reading every float parameter back, in visiting order.
#[derive(Default)]
struct ParameterReads {
    pending: Vec<ParameterRead>,
}

impl ModuleVisitor for ParameterReads {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.pending.push(Box::pin(param.val().into_data_async()));
    }
}

/// Replaces every float parameter, in visiting order, by the read-back values on the host.
struct OntoHost {
    values: std::vec::IntoIter<TensorData>,
    host: Device,
}

impl ModuleMapper for OntoHost {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.values.next().expect("one value per parameter visited");
        param.map(|_| Tensor::from_data(values, &self.host))
    }
}

/// Casts float parameters to f16.
struct ToHalf;

impl ModuleMapper for ToHalf {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| tensor.cast(DType::F16))
    }
}

/// `bytes` (a burnpack file) with `key` set to `value` in its metadata, the tensors unchanged.
pub fn with_metadata(bytes: &[u8], key: &str, value: &str) -> Result<Vec<u8>, WeightError> {
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| WeightError::Format(e.to_string()))?;
    let metadata = reader.metadata().clone();
    let tensors = reader
        .into_tensors()
        .map_err(|e| WeightError::Format(e.to_string()))?;
    let writer = metadata
        .iter()
        .filter(|(k, _)| k.as_str() != key)
        .fold(burn_pack::Writer::new(tensors), |w, (k, v)| {
            w.with_metadata(k, v)
        })
        .with_metadata(key, value);
    let bytes = writer
        .into_bytes()
        .map_err(|e| WeightError::Format(e.to_string()))?;
    Ok(bytes.to_vec())
}

/// The value of `key` in the metadata of `bytes` (a burnpack file), if set.
pub fn metadata(bytes: &[u8], key: &str) -> Result<Option<String>, WeightError> {
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| WeightError::Format(e.to_string()))?;
    Ok(reader.metadata().get(key).cloned())
}

/// Load burnpack bytes into `model`, whose architecture must match the file's exactly; stored
/// floats are converted to the model's precision.
pub fn load<M: Module>(model: M, bytes: &[u8]) -> Result<M, WeightError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| WeightError::Format(e.to_string()))?
        .cast_to_module_dtype();
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
    fn half_precision_files_are_half_the_size_and_load_as_f32() {
        let device = Device::flex();
        let original = config().init(&device);
        let full = to_bytes(original.clone()).unwrap();
        let half = to_bytes_at(original.clone(), Precision::Half).unwrap();
        assert!(
            half.len() < full.len() * 6 / 10,
            "{} vs {}",
            half.len(),
            full.len()
        );
        let loaded = load(config().init(&device), &half).unwrap();
        // Back in f32: the same size as the original when stored in full.
        assert_eq!(to_bytes(loaded.clone()).unwrap().len(), full.len());
        let images = |vae: &crate::vae::Vae| vae.sample(3, 5, None, &device).into_data();
        images(&original)
            .assert_approx_eq::<f32>(&images(&loaded), burn::tensor::Tolerance::absolute(1e-2));
    }

    #[test]
    fn reading_back_asynchronously_writes_the_same_bytes() {
        let device = Device::flex();
        let model = config().init(&device);
        let future = to_bytes_async(model.clone(), &device, Precision::Full);
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let bytes = loop {
            if let std::task::Poll::Ready(bytes) = future.as_mut().poll(&mut context) {
                break bytes.unwrap();
            }
        };
        assert_eq!(bytes, to_bytes(model).unwrap());
    }

    #[test]
    fn metadata_rides_along_and_the_weights_still_load() {
        let device = Device::flex();
        let model = config().init(&device);
        let bytes = to_bytes(model.clone()).unwrap();
        assert_eq!(metadata(&bytes, "kiln.test").unwrap(), None);
        let tagged = with_metadata(&bytes, "kiln.test", "one").unwrap();
        let retagged = with_metadata(&tagged, "kiln.test", "two").unwrap();
        assert_eq!(
            metadata(&retagged, "kiln.test").unwrap().as_deref(),
            Some("two")
        );
        let loaded = load(config().init(&device), &retagged).unwrap();
        assert_eq!(to_bytes(loaded).unwrap(), bytes);
        assert!(matches!(
            metadata(b"not weights", "kiln.test"),
            Err(WeightError::Format(_))
        ));
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
