//! `kiln sample`: draw images and write PNGs.

use anyhow::Result;
use kiln_core::image::ImageBatch;
use kiln_core::model::SampleRequest;

use crate::cli::SampleArgs;
use crate::{atomic, png, resolve};

pub fn run(args: SampleArgs) -> Result<()> {
    let request = SampleRequest::new(args.count, args.seed)?;
    let (model, device) = resolve::load(&args.model)?;
    let batch = ImageBatch::from_data(model.sample(request, &device)?.into_data())?;
    png::write_batch(&batch, &args.out)?;
    if args.json {
        let json = serde_json::json!({
            "count": batch.count,
            "width": batch.width,
            "height": batch.height,
            "data": batch.pixels,
        });
        atomic::write(&args.out.join("samples.json"), json.to_string().as_bytes())?;
    }
    eprintln!(
        "wrote {} images and grid.png to {}",
        batch.count,
        args.out.display()
    );
    Ok(())
}
