//! The entry point: one engine per page owns the device and loads models onto it.

use burn::tensor::Device;
use kiln_core::audio::{Spectrogram, SpectrogramSettings};
use kiln_core::io::manifest::ManifestEntry;
use kiln_core::io::weights;
use kiln_core::model::ModelSpec;
use kiln_core::request::LIMITS;
use wasm_bindgen::prelude::*;

use crate::backend::{self, ActiveBackend, BackendChoice};
use crate::loaded_model::LoadedModel;

#[wasm_bindgen]
pub struct Engine {
    device: Device,
    backend: ActiveBackend,
    /// Why "auto" fell back to the CPU, if it did.
    fallback_reason: Option<String>,
}

#[wasm_bindgen]
impl Engine {
    /// Start on `backend`: "auto" (WebGPU when it works, else CPU), "webgpu" or "cpu".
    pub async fn open(backend: String) -> Result<Engine, JsError> {
        let choice = BackendChoice::parse(&backend).map_err(|e| JsError::new(&e))?;
        let engine = match choice {
            BackendChoice::Cpu => Self::cpu(None),
            BackendChoice::Webgpu => {
                let device = backend::webgpu_device()
                    .await
                    .map_err(|e| JsError::new(&e))?;
                Self::webgpu(device)
            }
            BackendChoice::Auto => match backend::webgpu_device().await {
                Ok(device) => Self::webgpu(device),
                Err(reason) => Self::cpu(Some(reason)),
            },
        };
        Ok(engine)
    }

    /// "webgpu" or "cpu".
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.name().into()
    }

    /// Why "auto" chose the CPU, or `undefined`.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.fallback_reason.clone()
    }

    /// The bounds every call's options are checked against (`{ maxCount, maxSeed, … }`), so
    /// that kiln.js reads them instead of copying them.
    #[wasm_bindgen(getter)]
    pub fn limits(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&LIMITS).map_err(|e| JsError::new(&e.to_string()))
    }

    /// Load weights described by a manifest entry (JSON text), verifying their SHA-256 first.
    #[wasm_bindgen(js_name = loadModel)]
    pub fn load_model(&self, entry_json: &str, bytes: &[u8]) -> Result<LoadedModel, JsError> {
        let entry: ManifestEntry = serde_json::from_str(entry_json)
            .map_err(|e| JsError::new(&format!("invalid manifest entry: {e}")))?;
        weights::verify_sha256(bytes, &entry.sha256)
            .map_err(|e| JsError::new(&format!("{}: {e}", entry.file)))?;
        let model = entry
            .spec
            .load(bytes, &self.device)
            .map_err(|e| JsError::new(&format!("{}: {e}", entry.file)))?;
        let spectrogram = entry
            .spectrogram
            .map(|settings| sound_of(&entry.spec, settings))
            .transpose()
            .map_err(|e| JsError::new(&format!("{}: {e}", entry.name)))?;
        Ok(
            LoadedModel::new(entry.name, entry.spec, model, self.device.clone())
                .with_spectrogram(spectrogram),
        )
    }
}

/// The spectrograms of a sound model of `spec`, which must draw images of their shape.
fn sound_of(spec: &ModelSpec, settings: SpectrogramSettings) -> Result<Spectrogram, String> {
    let spectrogram = Spectrogram::new(settings).map_err(|e| e.to_string())?;
    let shape = settings.image_shape();
    if spec.image_shape() != Some(shape) {
        return Err(format!(
            "its spectrograms are {shape} images, but the model does not draw those"
        ));
    }
    Ok(spectrogram)
}

impl Engine {
    fn cpu(fallback_reason: Option<String>) -> Self {
        Self {
            device: backend::cpu_device(),
            backend: ActiveBackend::Cpu,
            fallback_reason,
        }
    }

    fn webgpu(device: Device) -> Self {
        Self {
            device,
            backend: ActiveBackend::Webgpu,
            fallback_reason: None,
        }
    }
}
