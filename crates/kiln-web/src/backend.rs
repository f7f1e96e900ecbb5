//! Picking the compute device: WebGPU when the browser has it, else the flex CPU backend.

#[cfg(feature = "webgpu")]
use std::cell::RefCell;

use burn::tensor::Device;

/// What the page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Auto,
    Webgpu,
    Cpu,
}

impl BackendChoice {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "auto" => Ok(Self::Auto),
            "webgpu" => Ok(Self::Webgpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(format!(
                "unknown backend {other:?}: use \"auto\", \"webgpu\" or \"cpu\""
            )),
        }
    }
}

/// The backend actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveBackend {
    Webgpu,
    Cpu,
}

impl ActiveBackend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Webgpu => "webgpu",
            Self::Cpu => "cpu",
        }
    }
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// burn's wgpu runtime may be initialised once per page; a second init panics.
    static WEBGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
}

/// The page's WebGPU device, initialised on first use.
#[cfg(feature = "webgpu")]
pub async fn webgpu_device() -> Result<Device, String> {
    if let Some(device) = WEBGPU.with(|d| d.borrow().clone()) {
        return Ok(device);
    }
    if !has_webgpu() {
        return Err("this browser does not expose WebGPU (navigator.gpu is missing)".into());
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("WebGPU could not start: {e}"))?;
    WEBGPU.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// The CPU module has no WebGPU backend: kiln-webgpu (this crate with `webgpu`) has.
#[cfg(not(feature = "webgpu"))]
pub async fn webgpu_device() -> Result<Device, String> {
    Err(
        "this is Kiln's CPU module (kiln-web), built without WebGPU: load kiln-webgpu for it"
            .into(),
    )
}

/// Whether `navigator.gpu` exists, in a window or a worker. wgpu panics without it.
#[cfg(feature = "webgpu")]
fn has_webgpu() -> bool {
    let Ok(navigator) = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()) else {
        return false;
    };
    js_sys::Reflect::get(&navigator, &"gpu".into())
        .is_ok_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
}

pub fn cpu_device() -> Device {
    Device::flex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_are_kiln_js_names() {
        for (name, choice) in [
            ("auto", BackendChoice::Auto),
            ("webgpu", BackendChoice::Webgpu),
            ("cpu", BackendChoice::Cpu),
        ] {
            assert_eq!(BackendChoice::parse(name), Ok(choice));
        }
        let err = BackendChoice::parse("gpu").unwrap_err();
        assert!(err.starts_with("unknown backend \"gpu\""), "{err}");
        assert_eq!(ActiveBackend::Webgpu.name(), "webgpu");
        assert_eq!(ActiveBackend::Cpu.name(), "cpu");
    }
}
