//! Does fine-tuning teach a hand? The shipped conditional VAE, fine-tuned with the default
//! settings on ten real MNIST sevens given a crossbar, should draw crossbar sevens far more often
//! than before, and still draw digits the classifier recognises as the digit asked for.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use kiln_core::data::dataset::ImageShape;
use kiln_core::data::idx;
use kiln_core::data::mnist::{IMAGE_PIXELS, IMAGE_SIDE};
use kiln_core::drawing::DrawsImages;
use kiln_core::io::manifest::Manifest;
use kiln_core::model::Model;
use kiln_core::models::classifier::Classifier;
use kiln_core::models::vae::Vae;
use kiln_core::train::finetune::{Example, FinetuneConfig, Finetuning};

const SEVEN: u8 = 7;

fn pretrained(name: &str, device: &Device) -> Model {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pretrained");
    let manifest =
        Manifest::from_json(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let entry = manifest.models.iter().find(|m| m.name == name).unwrap();
    let bytes = std::fs::read(dir.join(&entry.file)).unwrap();
    entry.spec.load(&bytes, device).unwrap()
}

/// MNIST as this workspace's checkout sees it (`../shared/data/mnist`); `KILN_MNIST_DIR` overrides.
fn mnist_file(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("KILN_MNIST_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist"),
        PathBuf::from,
    );
    let path = dir.join(format!("{name}.gz"));
    let compressed = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set KILN_MNIST_DIR to a folder with MNIST)",
            path.display()
        )
    });
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// The first ten sevens of the MNIST test set, each given a 3-pixel crossbar through its stroke
/// at 55 % of its height: a European hand the model rarely draws.
fn crossed_sevens() -> Vec<Example> {
    let images = idx::parse_images("images", &mnist_file("t10k-images-idx3-ubyte")).unwrap();
    let labels = idx::parse_labels("labels", &mnist_file("t10k-labels-idx1-ubyte")).unwrap();
    let lit = |pixels: &[f32], row: usize| -> Vec<usize> {
        (0..IMAGE_SIDE)
            .filter(|&column| pixels[row * IMAGE_SIDE + column] > 0.5)
            .collect()
    };
    let sevens = labels.iter().enumerate().filter(|(_, l)| **l == SEVEN);
    sevens
        .take(10)
        .map(|(i, _)| {
            let mut pixels: Vec<f32> = images.pixels[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
                .iter()
                .map(|&p| f32::from(p) / 255.0)
                .collect();
            let inked: Vec<usize> = (0..IMAGE_SIDE)
                .filter(|&row| !lit(&pixels, row).is_empty())
                .collect();
            let (top, bottom) = (inked[0], inked[inked.len() - 1]);
            let row = top + (bottom - top) * 55 / 100;
            let stroke = lit(&pixels, row);
            let centre = (stroke[0] + stroke[stroke.len() - 1]) / 2;
            for r in row - 1..=row + 1 {
                for c in centre.saturating_sub(5)..(centre + 5).min(IMAGE_SIDE - 1) {
                    pixels[r * IMAGE_SIDE + c] = 1.0;
                }
            }
            Example {
                pixels,
                label: usize::from(SEVEN),
            }
        })
        .collect()
}

/// A crossbar: a row in the middle band with a run of 7 or more bright pixels.
fn has_crossbar(digit: &[f32]) -> bool {
    (11..18).any(|row| {
        let mut run = 0;
        digit[row * IMAGE_SIDE..(row + 1) * IMAGE_SIDE]
            .iter()
            .any(|&v| {
                run = if v > 0.5 { run + 1 } else { 0 };
                run >= 7
            })
    })
}

/// The share of 200 sevens drawn by `vae` with a crossbar, and the share of 1,000 digits (a
/// hundred of each) the classifier recognises as the digit asked for.
fn judge(vae: &Vae, classifier: &Classifier, device: &Device) -> (f64, f64) {
    let count = 200;
    let sevens: Vec<f32> = vae
        .draw(count, 11, Some(usize::from(SEVEN)), device)
        .into_data()
        .try_into_vec()
        .unwrap();
    let crossed = sevens
        .chunks(IMAGE_PIXELS)
        .filter(|d| has_crossbar(d))
        .count();
    let digits = 1000;
    let (_, probabilities) =
        classifier.features_and_probabilities(vae.draw(digits, 12, None, device));
    let predicted: Vec<i64> = probabilities
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_into_vec()
        .unwrap();
    let right = (0..digits)
        .filter(|&i| predicted[i] == (i % 10) as i64)
        .count();
    (crossed as f64 / count as f64, right as f64 / digits as f64)
}

#[test]
fn fine_tuning_on_crossed_sevens_teaches_the_crossbar_and_keeps_the_digits() {
    let device = Device::flex();
    let cvae = pretrained("cvae", &device).capable().vae().unwrap().clone();
    let classifier = pretrained("classifier", &device)
        .capable()
        .recogniser()
        .unwrap()
        .clone();
    let examples = crossed_sevens();
    assert!(examples.iter().all(|e| has_crossbar(&e.pixels)));
    let (before, recognised_before) = judge(&cvae, &classifier, &device);
    let mut run = Finetuning::new(
        cvae,
        ImageShape::MNIST,
        examples,
        FinetuneConfig::default(),
        0,
        &device,
    )
    .unwrap();
    while run.step().is_some() {}
    let (after, recognised_after) = judge(&run.model(), &classifier, &device);
    eprintln!(
        "crossbar sevens {:.1} % → {:.1} %; digits recognised as asked {:.1} % → {:.1} %",
        100.0 * before,
        100.0 * after,
        100.0 * recognised_before,
        100.0 * recognised_after
    );
    assert!(after > before + 0.3, "crossbar sevens {before} → {after}");
    assert!(recognised_after >= 0.9, "recognised {recognised_after}");
}
