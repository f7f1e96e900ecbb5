//! The JavaScript boundary, called as kiln.js calls it, on the shipped weights: options objects
//! in, typed results or `Error`s with their messages out. Runs on wasm32 in Node
//! (`scripts/test.sh`: `cargo test -p kiln-web --target wasm32-unknown-unknown`).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float32Array, Object, Reflect};
use kiln_core::io::manifest::Manifest;
use kiln_web::{Engine, LoadedModel};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

const MANIFEST: &str = include_str!("../../../pretrained/manifest.json");
const GAN: &[u8] = include_bytes!("../../../pretrained/gan.bpk");
const HMM: &[u8] = include_bytes!("../../../pretrained/hmm.bpk");
const SPOKEN_DDPM: &[u8] = include_bytes!("../../../pretrained/spoken-ddpm.bpk");

/// A JavaScript object from `(key, value)` pairs.
fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    for (key, value) in fields {
        Reflect::set(&object, &(*key).into(), value).unwrap();
    }
    object
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap()
}

/// The message of an `Error` that crossed the boundary.
fn message(error: impl Into<JsValue>) -> String {
    js_sys::Error::from(error.into()).message().into()
}

/// The shipped model `name`, loaded on the CPU as kiln.js loads it.
async fn load(name: &str, bytes: &[u8]) -> LoadedModel {
    let engine = Engine::open("cpu".into()).await.unwrap();
    engine.load_model(&entry(name), bytes).unwrap()
}

/// Model `name`'s manifest entry as JSON text, as the worker passes it.
fn entry(name: &str) -> String {
    let manifest = Manifest::from_json(MANIFEST).unwrap();
    serde_json::to_string(manifest.get(name).unwrap()).unwrap()
}

#[wasm_bindgen_test]
async fn the_engine_names_its_backend_and_exports_its_limits() {
    let engine = Engine::open("cpu".into()).await.unwrap();
    assert_eq!(engine.backend(), "cpu");
    assert_eq!(engine.fallback_reason(), None);
    let limits = engine.limits().unwrap();
    assert_eq!(get(&limits, "maxCount").as_f64(), Some(1024.0));
    assert_eq!(get(&limits, "classes").as_f64(), Some(10.0));
    let error = Engine::open("gpu".into()).await.err().unwrap();
    assert!(message(error).starts_with("unknown backend \"gpu\""));
}

#[wasm_bindgen_test]
async fn weights_are_checked_before_they_load() {
    let engine = Engine::open("cpu".into()).await.unwrap();
    let error = engine.load_model("{", GAN).err().unwrap();
    assert!(message(error).starts_with("invalid manifest entry"));
    let mut damaged = GAN.to_vec();
    damaged[1000] ^= 1;
    let error = message(engine.load_model(&entry("gan"), &damaged).err().unwrap());
    assert!(
        error.starts_with("gan.bpk: weight file checksum mismatch"),
        "{error}"
    );
    let error = message(engine.load_model(&entry("gan"), HMM).err().unwrap());
    assert!(error.starts_with("gan.bpk: "), "{error}");
}

#[wasm_bindgen_test]
async fn an_image_model_samples_from_an_options_object() {
    let gan = load("gan", GAN).await;
    let capabilities: Vec<String> = Array::from(&gan.capabilities().unwrap())
        .iter()
        .map(|c| c.as_string().unwrap())
        .collect();
    assert_eq!(capabilities, ["sample", "conditional"]);
    let options = object(&[("count", 3.into()), ("seed", 7.into()), ("class", 4.into())]);
    let batch = JsFuture::from(gan.sample(options)).await.unwrap();
    assert_eq!(get(&batch, "count").as_f64(), Some(3.0));
    assert_eq!(get(&batch, "width").as_f64(), Some(28.0));
    let data = Float32Array::from(get(&batch, "data")).to_vec();
    assert_eq!(data.len(), 3 * 28 * 28);
    assert!(data.iter().all(|x| (0.0..=1.0).contains(x)));

    for (options, expected) in [
        (
            object(&[("count", "three".into()), ("seed", 7.into())]),
            "invalid options for sample",
        ),
        (
            object(&[("count", 3.into()), ("seed", 7.into()), ("cont", 1.into())]),
            "unknown field `cont`",
        ),
        (
            object(&[("count", 2000.into()), ("seed", 7.into())]),
            "count must be",
        ),
        (
            object(&[("count", 1.into()), ("seed", 7.into()), ("steps", 5.into())]),
            "cannot take a sampler, steps or guidance",
        ),
    ] {
        let Err(error) = JsFuture::from(gan.sample(options)).await else {
            panic!("sampling did not fail with {expected:?}");
        };
        let error = message(error);
        assert!(error.contains(expected), "{expected:?} in {error:?}");
    }
    let error = message(gan.writing(object(&[])).err().unwrap());
    assert!(error.starts_with("invalid options for generate"), "{error}");
    let error = message(gan.finetune(vec![0.0; 784], object(&[])).err().unwrap());
    assert!(
        error.contains("fine-tuning takes a class-conditional VAE"),
        "{error}"
    );
}

#[wasm_bindgen_test]
async fn a_sound_model_makes_its_spectrograms_into_clips() {
    let voice = load("spoken-ddpm", SPOKEN_DDPM).await;
    // One loud band across an otherwise silent spectrogram (32 bands × 32 frames).
    let mut image = vec![0.0f32; 32 * 32];
    image[16 * 32..17 * 32].fill(1.0);
    let clip = voice.sound(image.clone()).unwrap().to_vec();
    assert_eq!(clip.len(), 32 * 192);
    let peak = clip.iter().fold(0.0f32, |peak, s| peak.max(s.abs()));
    assert!((peak - 0.9).abs() < 1e-4, "peak {peak}");
    assert_eq!(
        voice.sound(image).unwrap().to_vec(),
        clip,
        "the same image, the same clip"
    );
    let error = message(voice.sound(vec![0.5; 784]).err().unwrap());
    assert_eq!(
        error,
        "a 28×28 grayscale image is not a spectrogram of 32 bands by 32 frames"
    );
    let gan = load("gan", GAN).await;
    let error = message(gan.sound(vec![0.5; 784]).err().unwrap());
    assert_eq!(
        error,
        "gan is not a sound model: its images are not spectrograms"
    );
    // A manifest entry whose spectrograms are not the model's images is refused.
    let engine = Engine::open("cpu".into()).await.unwrap();
    let entry = entry("spoken-ddpm").replace("\"bands\":32", "\"bands\":16");
    let error = message(engine.load_model(&entry, SPOKEN_DDPM).err().unwrap());
    assert!(
        error.starts_with("spoken-ddpm: its spectrograms are 16×16 grayscale images"),
        "{error}"
    );
}

#[wasm_bindgen_test]
async fn a_text_model_writes_the_same_text_for_a_seed() {
    let hmm = load("hmm", HMM).await;
    let write = |seed: u32| {
        let options = object(&[
            ("prompt", "ROMEO:".into()),
            ("maxTokens", 20.into()),
            ("temperature", 0.8.into()),
            ("seed", seed.into()),
        ]);
        let mut run = hmm.writing(options).unwrap();
        async move {
            let mut text = String::new();
            loop {
                let next = run.next_character().unwrap();
                if text.is_empty() {
                    // Asking again before a character arrives would draw twice from its logits.
                    let error = message(run.next_character().err().unwrap());
                    assert!(error.contains("still being written"), "{error}");
                }
                match JsFuture::from(next).await.unwrap().as_string() {
                    Some(character) => text += &character,
                    None => break,
                }
            }
            assert_eq!(run.remaining(), 0);
            text
        }
    };
    let text = write(3).await;
    assert_eq!(text.chars().count(), 20);
    assert_eq!(write(3).await, text);
    assert_ne!(write(4).await, text);

    let options = object(&[("count", 1.into()), ("seed", 0.into())]);
    let error = message(JsFuture::from(hmm.sample(options)).await.unwrap_err());
    assert!(error.contains("cannot draw"), "{error}");
    let bad_prompt = object(&[
        ("prompt", "ROMEO€".into()),
        ("maxTokens", 5.into()),
        ("temperature", 0.8.into()),
        ("seed", 0.into()),
    ]);
    let error = message(hmm.writing(bad_prompt).err().unwrap());
    assert!(error.contains('€'), "{error}");
}
