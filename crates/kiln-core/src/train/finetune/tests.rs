use burn::tensor::{Device, Int, Tensor, TensorData};

use super::*;
use crate::data::dataset::ImageShape;
use crate::data::mnist::{IMAGE_PIXELS, IMAGE_SIDE};
use crate::models::vae::VaeConfig;

fn tiny_cvae(device: &Device) -> Vae {
    VaeConfig::new()
        .with_base_channels(4)
        .with_hidden(16)
        .with_latent_dim(2)
        .with_num_classes(Some(10))
        .init(device)
}

/// A "7" as a top bar and a diagonal, `shift` pixels to the right.
fn seven(shift: usize) -> Example {
    let mut pixels = vec![0.0; IMAGE_PIXELS];
    for x in 8..20 {
        pixels[6 * IMAGE_SIDE + x + shift] = 1.0;
    }
    for y in 6..22 {
        pixels[y * IMAGE_SIDE + 19 - (y - 6) / 2 + shift] = 1.0;
    }
    Example { pixels, label: 7 }
}

/// −ELBO of the examples themselves, unaugmented, at a fixed ε.
fn examples_loss(vae: &Vae, examples: &[Example], device: &Device) -> f32 {
    let pixels: Vec<f32> = examples.iter().flat_map(|e| e.pixels.clone()).collect();
    let images = Tensor::<4>::from_data(
        TensorData::new(pixels, [examples.len(), 1, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    );
    let labels: Vec<i32> = examples.iter().map(|e| e.label as i32).collect();
    let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [examples.len()]), device);
    vae.loss(images, &Some(labels), 0)
        .total
        .into_scalar::<f32>()
}

#[test]
fn fine_tuning_fits_the_examples_and_stops_after_its_steps() {
    let device = Device::flex();
    let examples: Vec<Example> = (0..3).map(seven).collect();
    let vae = tiny_cvae(&device);
    let before = examples_loss(&vae, &examples, &device);
    let config = FinetuneConfig {
        steps: 40,
        learning_rate: 5e-3,
        batch_size: 8,
        ..FinetuneConfig::default()
    };
    let mut run = Finetuning::new(
        vae.clone(),
        ImageShape::MNIST,
        examples.clone(),
        config,
        1,
        &device,
    )
    .unwrap();
    let mut losses = Vec::new();
    while let Some(loss) = run.step() {
        losses.push(loss.into_scalar::<f32>());
    }
    assert_eq!(
        (losses.len(), run.steps_done(), run.total_steps()),
        (40, 40, 40)
    );
    assert!(run.step().is_none());
    let after = examples_loss(&run.model(), &examples, &device);
    assert!(
        after < 0.8 * before,
        "−ELBO of the examples {before} → {after}"
    );
    assert!(losses[35..].iter().sum::<f32>() < losses[..5].iter().sum::<f32>());

    // The same seed takes the same steps.
    let mut again =
        Finetuning::new(vae, ImageShape::MNIST, examples.clone(), config, 1, &device).unwrap();
    let first = again.step().unwrap().into_scalar::<f32>();
    assert_eq!(first, losses[0]);
}

#[test]
fn bad_examples_and_settings_are_named() {
    let device = Device::flex();
    let start = |examples: Vec<Example>, config: FinetuneConfig| {
        Finetuning::new(
            tiny_cvae(&device),
            ImageShape::MNIST,
            examples,
            config,
            0,
            &device,
        )
        .err()
    };
    let fine = FinetuneConfig::default();
    assert_eq!(start(vec![], fine), Some(FinetuneError::NoExamples));
    let short = Example {
        pixels: vec![0.0; 10],
        label: 1,
    };
    assert_eq!(
        start(vec![seven(0), short], fine),
        Some(FinetuneError::ImageSize {
            index: 1,
            shape: ImageShape::MNIST,
            len: 10
        })
    );
    let mut bright = seven(0);
    bright.pixels[0] = 2.0;
    assert_eq!(
        start(vec![bright], fine),
        Some(FinetuneError::Intensity {
            index: 0,
            value: 2.0
        })
    );
    let mut ten = seven(0);
    ten.label = 10;
    let err = start(vec![ten], fine).unwrap();
    assert_eq!(
        err.to_string(),
        "example 0 is labelled 10; labels are 0 to 9"
    );
    let zero_steps = FinetuneConfig { steps: 0, ..fine };
    assert_eq!(
        start(vec![seven(0)], zero_steps),
        Some(FinetuneError::Steps(0))
    );
    let nan_rate = FinetuneConfig {
        learning_rate: f64::NAN,
        ..fine
    };
    assert!(matches!(
        start(vec![seven(0)], nan_rate),
        Some(FinetuneError::LearningRate(_))
    ));
    assert_eq!(
        start(vec![seven(0); MAX_EXAMPLES + 1], fine),
        Some(FinetuneError::TooManyExamples(MAX_EXAMPLES + 1))
    );
    let plain = VaeConfig::new()
        .with_base_channels(4)
        .with_hidden(16)
        .with_latent_dim(2)
        .init(&device);
    assert_eq!(
        Finetuning::new(plain, ImageShape::MNIST, vec![seven(0)], fine, 0, &device).err(),
        Some(FinetuneError::NotConditional)
    );
}

#[test]
fn colour_pictures_of_the_model_size_fine_tune_it() {
    let device = Device::flex();
    let shape = ImageShape {
        channels: 3,
        side: 32,
    };
    let vae = VaeConfig::new()
        .with_image_size(32)
        .with_channels(3)
        .with_base_channels(4)
        .with_hidden(16)
        .with_latent_dim(2)
        .with_num_classes(Some(3))
        .init(&device);
    // A red square, labelled 2.
    let square: Vec<f32> = (0..shape.values())
        .map(|i| {
            let (channel, x, y) = (i / 1024, i % 32, i % 1024 / 32);
            let inside = (8..24).contains(&x) && (8..24).contains(&y);
            if channel == 0 && inside { 0.9 } else { 0.1 }
        })
        .collect();
    let example = Example {
        pixels: square,
        label: 2,
    };
    let config = FinetuneConfig {
        steps: 3,
        batch_size: 4,
        ..FinetuneConfig::default()
    };
    let mut run = Finetuning::new(vae.clone(), shape, vec![example], config, 0, &device).unwrap();
    while let Some(loss) = run.step() {
        assert!(loss.into_scalar::<f32>().is_finite());
    }
    assert_eq!(run.steps_done(), 3);
    // A 28×28 digit is not a picture of this model's size.
    let err = Finetuning::new(vae, shape, vec![seven(0)], config, 0, &device)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "example 0 must be one 32×32 RGB image (3072 intensities), got 784 values"
    );
}
