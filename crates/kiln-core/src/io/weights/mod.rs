//! Weight files: burnpack bytes in and out, checked against their SHA-256. Files may store
//! floats in f16 or weights in int8 or int4 ([`quantisation`]) for a smaller download;
//! they load into the model's own precision (f32), so compute is the same whatever the file.

mod error;
pub mod quantisation;

pub use error::WeightError;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, DType, Device, Tensor, TensorData};
use burn_pack::Tensor as PackTensor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use quantisation::Bits;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32, as trained.
    #[default]
    F32,
    /// f16: half the size, at a relative rounding error of at most 2⁻¹¹ per weight.
    F16,
    /// Weights of rank ≥ 2 as int8 with one f16 scale per block of 64 values
    /// ([`quantisation::Bits::Eight`]), biases and norms in f32: about 26 % of the f32 size, at
    /// an error of at most half a step (1/254 of the block's largest magnitude) per weight.
    Int8,
    /// Weights of rank ≥ 2 in 4 bits with one f16 scale per block of 32 values
    /// ([`quantisation::Bits::Four`]), biases and norms in f32: about 14 % of the f32 size, at
    /// an error of at most 1/14 of the block's largest magnitude per weight. For models whose
    /// figures hold at that coarseness (judge them with `kiln eval`).
    Int4,
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "int8" => Ok(Precision::Int8),
            "int4" => Ok(Precision::Int4),
            other => Err(format!(
                "precision must be \"f32\", \"f16\", \"int8\" or \"int4\", got {other:?}"
            )),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Int8 => "int8",
            Precision::Int4 => "int4",
        })
    }
}

/// Serialise a module's parameters to burnpack bytes at `precision`.
pub fn to_bytes_at<M: Module>(model: M, precision: Precision) -> Result<Vec<u8>, WeightError> {
    match precision {
        Precision::F32 => to_bytes(model),
        Precision::F16 => to_bytes(model.map(&mut ToHalf)),
        Precision::Int8 => quantised(model, Bits::Eight),
        Precision::Int4 => quantised(model, Bits::Four),
    }
}

fn quantised<M: Module>(model: M, bits: Bits) -> Result<Vec<u8>, WeightError> {
    let mut pack = Pack::read(&to_bytes(model)?)?;
    pack.tensors = quantisation::quantise(pack.tensors, bits)?;
    pack.write()
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

/// A burnpack file taken apart: its key/value metadata and its tensors.
struct Pack {
    metadata: BTreeMap<String, String>,
    tensors: Vec<PackTensor>,
}

impl Pack {
    fn read(bytes: &[u8]) -> Result<Self, WeightError> {
        let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
            .map_err(|e| WeightError::Format(e.to_string()))?;
        let metadata = reader.metadata().clone();
        let tensors = reader
            .into_tensors()
            .map_err(|e| WeightError::Format(e.to_string()))?;
        Ok(Self { metadata, tensors })
    }

    fn write(self) -> Result<Vec<u8>, WeightError> {
        let writer = self
            .metadata
            .iter()
            .fold(burn_pack::Writer::new(self.tensors), |w, (k, v)| {
                w.with_metadata(k, v)
            });
        let bytes = writer
            .into_bytes()
            .map_err(|e| WeightError::Format(e.to_string()))?;
        Ok(bytes.to_vec())
    }

    /// Keep only the tensors under `field.`, without that prefix, if the pack has any: the
    /// weights of a part of a larger module (a GAN's generator in a whole GAN's file).
    fn select(&mut self, field: &str) {
        let prefix = format!("{field}.");
        if !self.tensors.iter().any(|t| t.name.starts_with(&prefix)) {
            return;
        }
        self.tensors.retain(|t| t.name.starts_with(&prefix));
        for tensor in &mut self.tensors {
            tensor.name.drain(..prefix.len());
        }
    }
}

/// `bytes` (a burnpack file) with `key` set to `value` in its metadata, the tensors unchanged.
pub fn with_metadata(bytes: &[u8], key: &str, value: &str) -> Result<Vec<u8>, WeightError> {
    let mut pack = Pack::read(bytes)?;
    pack.metadata.insert(key.to_owned(), value.to_owned());
    pack.write()
}

/// The value of `key` in the metadata of `bytes` (a burnpack file), if set.
pub fn metadata(bytes: &[u8], key: &str) -> Result<Option<String>, WeightError> {
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| WeightError::Format(e.to_string()))?;
    Ok(reader.metadata().get(key).cloned())
}

/// How the weights in `bytes` (a burnpack file) are stored: the width of its quantised tensors
/// if any, else f16 if any float is half precision, else f32.
pub fn precision_of(bytes: &[u8]) -> Result<Precision, WeightError> {
    let tensors = Pack::read(bytes)?.tensors;
    Ok(match quantisation::bits_of(&tensors) {
        Some(Bits::Four) => Precision::Int4,
        Some(Bits::Eight) => Precision::Int8,
        None if tensors.iter().any(|t| t.dtype == DType::F16) => Precision::F16,
        None => Precision::F32,
    })
}

/// Load burnpack bytes into `model`, whose architecture must match the file's exactly; stored
/// floats (f16, int8, int4) are converted to the model's precision.
pub fn load<M: Module>(model: M, bytes: &[u8]) -> Result<M, WeightError> {
    load_pack(model, Pack::read(bytes)?)
}

/// [`load`] for a module that is field `field` of a larger one: the file holds either this
/// module's weights or the larger module's (a GAN's generator, from a file of the generator or
/// of the whole GAN that trained it).
pub fn load_within<M: Module>(model: M, bytes: &[u8], field: &str) -> Result<M, WeightError> {
    let mut pack = Pack::read(bytes)?;
    pack.select(field);
    load_pack(model, pack)
}

fn load_pack<M: Module>(model: M, mut pack: Pack) -> Result<M, WeightError> {
    if quantisation::is_quantised(&pack.tensors) {
        pack.tensors = quantisation::dequantise(pack.tensors)?;
    }
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(pack.write()?))
        .map_err(|e| WeightError::Format(e.to_string()))?
        .cast_to_module_dtype();
    model
        .try_load_record(record)
        .map_err(|e| WeightError::Architecture(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drawing::DrawsImages;
    use crate::models::vae::VaeConfig;
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
            .draw(3, 5, None, &device)
            .into_data()
            .assert_eq(&loaded.draw(3, 5, None, &device).into_data(), true);
    }

    #[test]
    fn half_precision_files_are_half_the_size_and_load_as_f32() {
        let device = Device::flex();
        let original = config().init(&device);
        let full = to_bytes(original.clone()).unwrap();
        let half = to_bytes_at(original.clone(), Precision::F16).unwrap();
        assert!(
            half.len() < full.len() * 6 / 10,
            "{} vs {}",
            half.len(),
            full.len()
        );
        let loaded = load(config().init(&device), &half).unwrap();
        // Back in f32: the same size as the original when stored in full.
        assert_eq!(to_bytes(loaded.clone()).unwrap().len(), full.len());
        let images = |vae: &crate::models::vae::Vae| vae.draw(3, 5, None, &device).into_data();
        images(&original)
            .assert_approx_eq::<f32>(&images(&loaded), burn::tensor::Tolerance::absolute(1e-2));
    }

    #[test]
    fn quantised_files_are_a_fraction_of_the_size_and_load_as_f32() {
        let device = Device::flex();
        // Wide enough that the weight matrices, not the biases, set the size.
        let config = VaeConfig::new().with_base_channels(8).with_hidden(64);
        let original = config.init(&device);
        let full = to_bytes(original.clone()).unwrap();
        assert_eq!(precision_of(&full).unwrap(), Precision::F32);
        let images = |vae: &crate::models::vae::Vae| vae.draw(8, 5, None, &device).into_data();
        // (precision, largest share of the f32 size, largest pixel difference)
        for (precision, share, tolerance) in
            [(Precision::Int8, 0.30, 2e-2), (Precision::Int4, 0.17, 0.1)]
        {
            let bytes = to_bytes_at(original.clone(), precision).unwrap();
            let ratio = bytes.len() as f64 / full.len() as f64;
            assert!(ratio < share, "{precision}: {ratio}");
            assert_eq!(precision_of(&bytes).unwrap(), precision);
            let loaded = load(config.init(&device), &bytes).unwrap();
            assert_eq!(to_bytes(loaded.clone()).unwrap().len(), full.len());
            images(&original).assert_approx_eq::<f32>(
                &images(&loaded),
                burn::tensor::Tolerance::absolute(tolerance),
            );
            // Metadata rides along a quantised file as along any other.
            let tagged = with_metadata(&bytes, "kiln.test", "yes").unwrap();
            assert!(load(config.init(&device), &tagged).is_ok());
        }
    }

    #[test]
    fn a_part_loads_from_its_own_file_or_from_the_whole_module() {
        use crate::models::gan::GanConfig;
        let device = Device::flex();
        let gan_config = GanConfig::new().with_base_channels(8).with_hidden(8);
        let gan = gan_config.init(&device);
        let draw = |g: &crate::models::gan::Generator| g.draw(2, 1, None, &device).into_data();
        let expected = draw(&gan.generator);
        let whole = to_bytes(gan.clone()).unwrap();
        let part = to_bytes(gan.generator.clone()).unwrap();
        assert!(part.len() < whole.len());
        for bytes in [&whole, &part] {
            let loaded =
                load_within(gan_config.init_generator(&device), bytes, "generator").unwrap();
            draw(&loaded).assert_eq(&expected, true);
        }
        // A file of another module is still an architecture error, not a silent partial load.
        let vae = to_bytes(config().init(&device)).unwrap();
        assert!(matches!(
            load_within(gan_config.init_generator(&device), &vae, "generator"),
            Err(WeightError::Architecture(_))
        ));
    }

    #[test]
    fn precisions_parse_and_print_as_the_cli_and_manifest_spell_them() {
        for precision in [
            Precision::F32,
            Precision::F16,
            Precision::Int8,
            Precision::Int4,
        ] {
            assert_eq!(precision.to_string().parse::<Precision>(), Ok(precision));
            assert_eq!(
                serde_json::to_string(&precision).unwrap(),
                format!("\"{precision}\"")
            );
        }
        assert!("int2".parse::<Precision>().is_err());
    }

    #[test]
    fn reading_back_asynchronously_writes_the_same_bytes() {
        let device = Device::flex();
        let model = config().init(&device);
        let future = to_bytes_async(model.clone(), &device, Precision::F32);
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
