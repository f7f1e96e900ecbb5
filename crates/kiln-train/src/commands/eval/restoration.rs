//! A denoising autoencoder's figures: how close it brings damaged test digits back to the
//! originals, beside how far the damage took them.

use anyhow::{Context, Result};
use burn::tensor::Tensor;
use kiln_core::data::dataset::ImageShape;
use kiln_core::metrics::psnr;
use kiln_core::request::DenoiseRequest;

use super::figures::RestorationFigures;
use super::{BATCH, host_values, load_data, measured, record_as, total};
use crate::cli::EvalArgs;
use crate::resolve::Resolved;
use crate::{data, progress};

/// The noise the autoencoder's figures are measured at (the page's default).
const RESTORATION_NOISE: f64 = 0.4;

/// An autoencoder's figures: how close it brings the first `--count` test digits, damaged by
/// Gaussian noise of [`RESTORATION_NOISE`], back to the originals, beside how far the damage
/// took them.
pub fn judge_restoration(args: &EvalArgs, name: &str, resolved: Resolved) -> Result<()> {
    let device = args.device.device()?;
    let model = resolved
        .spec
        .load(&resolved.weights, &device)
        .with_context(|| format!("loading {name}"))?;
    let shape = resolved.spec.image_shape().unwrap_or(ImageShape::MNIST);
    let test = load_data(args, shape, resolved.spectrogram.as_ref())?.test;
    let indices: Vec<usize> = (0..args.count.min(test.len())).collect();
    let bar = progress::bar(indices.len() as u64, format!("restoring with {name}"));
    let (mut damaged, mut restored) = (0.0, 0.0);
    for (batch, chunk) in indices.chunks(BATCH).enumerate() {
        let clean = test.images(chunk, &device);
        let pixels = host_values(clean.clone(), "test images")?;
        let seed = args.seed + batch as u64;
        let request = DenoiseRequest::new(pixels, shape, RESTORATION_NOISE, seed)?;
        let out = model.denoise(&request, &device)?;
        damaged += squared_error(out.damaged, clean.clone())?;
        restored += squared_error(out.restored, clean)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let values = (indices.len() * shape.values()) as f64;
    let (damaged, restored) = (damaged / values, restored / values);
    let images = if data::is_mnist(&args.data) {
        "MNIST test digits".to_owned()
    } else {
        format!("the test images of {}", args.data.display())
    };
    let evaluation = measured(
        args,
        indices.len(),
        &format!("{images} with Gaussian noise σ = {RESTORATION_NOISE}"),
        &RestorationFigures {
            noise_std: RESTORATION_NOISE,
            damaged_mse: damaged,
            damaged_psnr_db: psnr(damaged),
            restored_mse: restored,
            restored_psnr_db: psnr(restored),
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        println!(
            "{name}: {} test digits with Gaussian noise σ = {RESTORATION_NOISE}, seed {}",
            evaluation.count, evaluation.seed
        );
        println!("  damaged   MSE {damaged:.4}  PSNR {:.2} dB", psnr(damaged));
        println!(
            "  restored  MSE {restored:.4}  PSNR {:.2} dB",
            psnr(restored)
        );
    }
    if args.record {
        record_as(args, name, evaluation)?;
    }
    Ok(())
}

/// Σ (a − b)² over every pixel.
fn squared_error(a: Tensor<4>, b: Tensor<4>) -> Result<f64> {
    total((a - b).powi_scalar(2))
}
