//! Fuzz targets for everything Kiln parses from a file or a request: IDX data, weight files
//! (burnpack, the spec they carry, their SHA-256), manifests, and the options of each call.
//! A target takes any bytes and must return: no panic, no hang, no allocation beyond the
//! limits of [`kiln_core::limits`]. `fuzz/` runs them under libFuzzer (nightly, cargo-fuzz);
//! [`smoke`] runs each on seeded mutations of valid inputs, on stable, as a test.

pub mod smoke;

use burn::tensor::Device;
use kiln_core::data::dataset::ImageShape;
use kiln_core::data::idx;
use kiln_core::io::manifest::Manifest;
use kiln_core::io::weights;
use kiln_core::model::ModelSpec;
use kiln_core::models::classifier::ClassifierConfig;
use kiln_core::request::{
    DenoiseOptions, DenoiseRequest, FinetuneOptions, FinetuneRequest, InterpolateOptions,
    InterpolateRequest, SampleOptions, SampleRequest, TextOptions, TextRequest, seed_from_f64,
};
use serde_json::Value;

/// A fuzz target: any bytes in, and it returns.
pub type Target = fn(&[u8]);

/// Every target, by the name `fuzz/` and the seed corpus give it.
pub const TARGETS: [(&str, Target); 4] = [
    ("idx", idx),
    ("weights", weights),
    ("manifest", manifest),
    ("request", request),
];

/// An IDX file, as images and as labels.
pub fn idx(data: &[u8]) {
    let _ = idx::parse_images("fuzz-images", data);
    let _ = idx::parse_labels("fuzz-labels", data);
}

/// A weight file: checked against a hash, read with the spec it carries (if any), and read
/// into a small model of a fixed architecture.
pub fn weights(data: &[u8]) {
    let device = Device::flex();
    let _ = weights::verify_sha256(data, &weights::sha256_hex(b"another file"));
    if let Ok(Some(spec)) = ModelSpec::embedded_in(data) {
        let _ = spec.load(data, &device);
    }
    let _ = tiny_spec().load(data, &device);
}

/// A manifest, and the spec of each of its models.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) = Manifest::from_json(text) {
        for entry in &manifest.models {
            let _ = entry.spec.validate();
        }
    }
}

/// The options object of each call from JavaScript (as JSON), checked into its request.
pub fn request(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(options) = serde_json::from_value::<SampleOptions>(value.clone()) {
        let _ = SampleRequest::try_from(options);
    }
    if let Ok(options) = serde_json::from_value::<TextOptions>(value.clone()) {
        let _ = TextRequest::try_from(options);
    }
    if let Ok(options) = serde_json::from_value::<InterpolateOptions>(value.clone()) {
        let _ = InterpolateRequest::try_from(options);
    }
    let pixels = || vec![0.5; 784];
    if let Ok(DenoiseOptions { noise, seed }) = serde_json::from_value(value.clone()) {
        let _ = seed_from_f64(seed)
            .map(|seed| DenoiseRequest::new(pixels(), ImageShape::MNIST, noise, seed));
    }
    if let Ok(options) = serde_json::from_value::<FinetuneOptions>(value) {
        let _ = FinetuneRequest::new(pixels(), ImageShape::MNIST, options);
    }
}

/// The architecture [`weights`] reads files into: a classifier small enough that a run of
/// millions stays fast.
pub fn tiny_spec() -> ModelSpec {
    ModelSpec::Classifier(
        ClassifierConfig::new()
            .with_base_channels(1)
            .with_features(2),
    )
}
