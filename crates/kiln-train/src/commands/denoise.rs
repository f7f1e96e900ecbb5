//! `kiln denoise`: damage digit images with noise and restore them.

use anyhow::Result;
use kiln_core::data::dataset::ImageShape;
use kiln_core::data::image::ImageBatch;
use kiln_core::request::DenoiseRequest;

use crate::cli::DenoiseArgs;
use crate::{atomic, png, resolve};

pub fn run(args: DenoiseArgs) -> Result<()> {
    let (model, resolved, device) = resolve::load_resolved(&args.model)?;
    let shape = resolved.spec.image_shape().unwrap_or(ImageShape::MNIST);
    let mut pixels = Vec::new();
    for path in &args.images {
        pixels.extend(png::read_image(path, shape)?);
    }
    let request = DenoiseRequest::new(pixels, shape, args.noise, args.seed)?;
    let denoised = model.denoise(&request, &device)?;
    let damaged = ImageBatch::from_data(denoised.damaged.into_data())?;
    let restored = ImageBatch::from_data(denoised.restored.into_data())?;
    png::write_batch(&damaged, &args.out.join("damaged"))?;
    png::write_batch(&restored, &args.out.join("restored"))?;
    if args.json {
        let json = serde_json::json!({
            "count": restored.count,
            "width": restored.width,
            "height": restored.height,
            "damaged": damaged.pixels,
            "restored": restored.pixels,
        });
        atomic::write(&args.out.join("denoised.json"), json.to_string().as_bytes())?;
    }
    eprintln!(
        "wrote {} damaged and restored images to {}/{{damaged,restored}}",
        restored.count,
        args.out.display()
    );
    Ok(())
}
