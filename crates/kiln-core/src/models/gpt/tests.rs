use burn::tensor::{Device, Int, Tensor, TensorData};

use super::*;
use crate::test_util::overfits;
use crate::text::{Generation, GenerationError, Reads, TokenChoice};

fn tiny(vocab_size: usize) -> GptConfig {
    GptConfig::new(vocab_size)
        .with_context(16)
        .with_layers(2)
        .with_heads(2)
        .with_width(16)
        .with_dropout(0.0)
}

fn tokens(values: &[i32], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(values.to_vec(), [1, values.len()]), device)
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn shapes_and_invalid_configs() {
    let device = Device::flex();
    let gpt = tiny(5).init(&device);
    assert_eq!(gpt.forward(tokens(&[0, 1, 2], &device)).dims(), [1, 3, 5]);
    let err = tiny(5).with_heads(3).validate().unwrap_err();
    assert!(
        err.contains("width 16 must be a multiple of heads 3"),
        "{err}"
    );
    assert!(tiny(0).validate().is_err());
    assert!(tiny(5).with_dropout(1.0).validate().is_err());
}

#[test]
fn a_position_never_sees_the_future() {
    let device = Device::flex();
    let gpt = tiny(6).init(&device);
    let before = values(gpt.forward(tokens(&[1, 2, 3, 4, 5], &device)));
    let after = values(gpt.forward(tokens(&[1, 2, 3, 0, 0], &device)));
    // The first three positions' logits are unchanged; the fourth's differ.
    let vocab = 6;
    assert_eq!(before[..3 * vocab], after[..3 * vocab]);
    assert_ne!(before[3 * vocab..4 * vocab], after[3 * vocab..4 * vocab]);
}

#[test]
fn cached_steps_equal_reading_from_scratch() {
    let device = Device::flex();
    let gpt = tiny(7).init(&device);
    let text = [3, 1, 4, 1, 5, 2, 6];
    let whole = values(gpt.forward(tokens(&text, &device)));
    // The prompt in one read, then one token per step.
    let mut cache = KvCache::default();
    let mut stepped = values(gpt.forward_cached(tokens(&text[..3], &device), &mut cache));
    for &token in &text[3..] {
        stepped.extend(values(
            gpt.forward_cached(tokens(&[token], &device), &mut cache),
        ));
    }
    assert_eq!(cache.seen(), text.len());
    for (a, b) in whole.iter().zip(&stepped) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

/// Greedy text from `generation` for `count` characters.
fn write(generation: &mut Generation, count: usize, device: &Device) -> Vec<u32> {
    (0..count)
        .map(|_| {
            let logits = values(generation.next_logits(device));
            generation.choose(&logits)
        })
        .collect()
}

#[test]
fn generation_matches_full_recomputation_and_runs_past_the_context() {
    let device = Device::flex();
    let gpt = tiny(7).init(&device);
    let greedy = TokenChoice {
        temperature: 0.0,
        ..TokenChoice::default()
    };
    let prompt = [3u32, 1, 4];
    let mut generation = Generation::new(gpt.reader(), &prompt, greedy, 0).unwrap();
    let written = write(&mut generation, 10, &device);
    // The same greedy text, reading the whole text again for every character.
    let mut text: Vec<i32> = prompt.iter().map(|&t| t as i32).collect();
    for &token in &written {
        let logits = values(gpt.forward(tokens(&text, &device)));
        let last = &logits[logits.len() - 7..];
        let best = (0..7).fold(0, |b, i| if last[i] > last[b] { i } else { b });
        assert_eq!(best as u32, token, "after {text:?}");
        text.push(token as i32);
    }
    // Past the 16-character context it keeps writing, from the last ¾ context.
    assert_eq!(write(&mut generation, 30, &device).len(), 30);
}

#[test]
fn token_choice_edge_cases() {
    let logits = [0.5f32, 2.0, 2.0, -1.0];
    let mut rng = crate::noise::rng(1);
    let greedy = TokenChoice {
        temperature: 0.0,
        ..TokenChoice::default()
    };
    assert_eq!(greedy.pick(&logits, &mut rng), 1, "the first maximum");
    let top_one = TokenChoice {
        top_k: Some(1),
        ..TokenChoice::default()
    };
    let nucleus = TokenChoice {
        top_p: Some(0.01),
        ..TokenChoice::default()
    };
    for _ in 0..20 {
        assert_eq!(top_one.pick(&logits, &mut rng), 1);
        assert_eq!(nucleus.pick(&logits, &mut rng), 1);
    }
    // Top-2 draws both tied characters and nothing else.
    let top_two = TokenChoice {
        top_k: Some(2),
        ..TokenChoice::default()
    };
    let mut seen = [0; 4];
    for _ in 0..200 {
        seen[top_two.pick(&logits, &mut rng)] += 1;
    }
    assert!(
        seen[0] == 0 && seen[3] == 0 && seen[1] > 50 && seen[2] > 50,
        "{seen:?}"
    );
    // A seed fixes the draws.
    let draws = |seed| {
        let mut rng = crate::noise::rng(seed);
        (0..10)
            .map(|_| TokenChoice::default().pick(&logits, &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(draws(4), draws(4));
}

#[test]
fn invalid_choices_and_prompts_are_refused() {
    let gpt = tiny(3).init(&Device::flex());
    let with = |temperature, top_k, top_p| TokenChoice {
        temperature,
        top_k,
        top_p,
    };
    for (choice, message) in [
        (with(-1.0, None, None), "temperature"),
        (with(f32::NAN, None, None), "temperature"),
        (with(1.0, Some(0), None), "top-k"),
        (with(1.0, None, Some(0.0)), "top-p"),
        (with(1.0, None, Some(1.5)), "top-p"),
    ] {
        let err = Generation::new(gpt.reader(), &[0], choice, 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains(message), "{err}");
    }
    assert_eq!(
        Generation::new(gpt.reader(), &[], TokenChoice::default(), 0).unwrap_err(),
        GenerationError::EmptyPrompt
    );
}

#[test]
fn overfits_a_tiny_corpus() {
    let device = Device::flex().autodiff();
    device.seed(0);
    let text: Vec<i32> = (0..17).map(|i| [0, 1, 2, 1][i % 4]).collect();
    let inputs = tokens(&text[..16], &device);
    let targets = tokens(&text[1..], &device);
    let (first, last) = overfits(tiny(3).init(&device), 150, |gpt: &Gpt, _| {
        gpt.loss(inputs.clone(), targets.clone())
    });
    // Untrained: ≈ ln 3 = 1.10 nats. The pattern is predictable after its first character.
    assert!(
        first > 0.9 && last < 0.1,
        "loss went from {first} to {last}"
    );
}
