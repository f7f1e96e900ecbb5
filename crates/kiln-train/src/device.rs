//! Choosing where tensors live.

use anyhow::{Context, Result};
use burn::tensor::Device;
use clap::ValueEnum;

/// A native compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn's flex CPU backend (DESIGN.md: ~100x faster than ndarray here).
    Cpu,
    /// wgpu on the system's GPU driver (Vulkan, Metal, DX12; lavapipe works without a GPU).
    Wgpu,
}

impl Backend {
    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            Backend::Wgpu => Device::wgpu_options().init().context(
                "could not start wgpu (no GPU adapter? on Debian, `apt-get install mesa-vulkan-drivers` provides a CPU Vulkan driver); use --device cpu",
            ),
        }
    }
}
