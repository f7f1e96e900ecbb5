//! `kiln sample`: draw images and write PNGs.

use anyhow::Result;
use kiln_core::data::image::ImageBatch;
use kiln_core::request::SampleRequest;

use crate::cli::{ImagesOut, SampleArgs};
use crate::{atomic, png, resolve};

pub fn run(args: SampleArgs) -> Result<()> {
    let request = SampleRequest::new(args.count, args.seed)?
        .with_class(args.class)
        .with_diffusion(args.diffusion.request()?);
    let (model, device) = resolve::load(&args.model)?;
    let batch = ImageBatch::from_data(model.sample(request, &device)?.into_data())?;
    write_images(&batch, &args.output)
}

/// `000000.png…` and `grid.png` in the output directory, and with `--json` the exact
/// intensities in samples.json.
pub fn write_images(batch: &ImageBatch, output: &ImagesOut) -> Result<()> {
    let out = &output.out;
    png::write_batch(batch, out)?;
    if output.json {
        let json = serde_json::json!({
            "count": batch.count,
            "channels": batch.channels,
            "width": batch.width,
            "height": batch.height,
            "data": batch.pixels,
        });
        atomic::write(&out.join("samples.json"), json.to_string().as_bytes())?;
    }
    eprintln!(
        "wrote {} images and grid.png to {}",
        batch.count,
        out.display()
    );
    Ok(())
}
