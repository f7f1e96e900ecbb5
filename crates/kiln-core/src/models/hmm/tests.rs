use burn::tensor::{Device, Int, Tensor, TensorData};

use super::*;
use crate::text::{Generation, Reads, TokenChoice};

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    tensor
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

fn tokens(rows: &[&[i32]], device: &Device) -> Tensor<2, Int> {
    let flat: Vec<i32> = rows.iter().flat_map(|row| row.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), rows[0].len()]), device)
}

/// π, A and B on the host, as rows.
struct Host {
    initial: Vec<f64>,
    transitions: Vec<Vec<f64>>,
    emissions: Vec<Vec<f64>>,
}

impl Host {
    fn of(hmm: &Hmm) -> Self {
        let p = hmm.probabilities();
        let rows = |t: Tensor<2>| {
            let width = t.dims()[1];
            values(t)
                .chunks(width)
                .map(<[f64]>::to_vec)
                .collect::<Vec<_>>()
        };
        Self {
            initial: values(p.initial),
            transitions: rows(p.transitions),
            emissions: rows(p.emissions),
        }
    }

    /// Every hidden path of `text`'s length with its joint probability with `text`.
    fn paths(&self, text: &[usize]) -> Vec<(Vec<usize>, f64)> {
        let states = self.initial.len();
        let mut paths = vec![(vec![], 1.0)];
        for &c in text {
            paths = paths
                .into_iter()
                .flat_map(|(path, p): (Vec<usize>, f64)| {
                    (0..states).map(move |s| {
                        let step = match path.last() {
                            None => self.initial[s],
                            Some(&previous) => self.transitions[previous][s],
                        };
                        let mut longer = path.clone();
                        longer.push(s);
                        (longer, p * step * self.emissions[s][c])
                    })
                })
                .collect();
        }
        paths
    }

    fn likelihood(&self, text: &[usize]) -> f64 {
        self.paths(text).iter().map(|(_, p)| p).sum()
    }
}

fn tiny(device: &Device) -> Hmm {
    device.seed(3);
    HmmConfig::new(3)
        .with_states(2)
        .with_context(5)
        .init(device)
}

#[test]
fn forward_backward_matches_a_sum_over_all_paths() {
    let device = Device::flex();
    let hmm = tiny(&device);
    let host = Host::of(&hmm);
    let texts: [&[i32]; 2] = [&[0, 2, 1, 1, 0], &[2, 2, 0, 1, 2]];
    let (counts, forward) = hmm.expected_counts(tokens(&texts, &device));
    let log_scales = values(forward.log_scales);
    let mut transitions = vec![vec![0.0; 2]; 2];
    let mut emissions = vec![vec![0.0; 3]; 2];
    let mut initial = [0.0; 2];
    for (row, text) in texts.iter().enumerate() {
        let text: Vec<usize> = text.iter().map(|&c| c as usize).collect();
        // Σ ln c_t = ln p(text), and every prefix likewise.
        for end in 1..=text.len() {
            let summed: f64 = log_scales[row * 5..row * 5 + end].iter().sum();
            let exact = host.likelihood(&text[..end]).ln();
            assert!((summed - exact).abs() < 1e-4, "{summed} vs {exact}");
        }
        let total = host.likelihood(&text);
        for (path, p) in host.paths(&text) {
            let weight = p / total;
            initial[path[0]] += weight;
            for t in 0..text.len() {
                emissions[path[t]][text[t]] += weight;
                if t + 1 < text.len() {
                    transitions[path[t]][path[t + 1]] += weight;
                }
            }
        }
    }
    let close = |found: Vec<f64>, expected: Vec<f64>| {
        for (f, e) in found.iter().zip(&expected) {
            assert!((f - e).abs() < 1e-4, "{found:?} vs {expected:?}");
        }
    };
    close(values(counts.initial), initial.to_vec());
    close(values(counts.transitions), transitions.concat());
    close(values(counts.emissions), emissions.concat());
}

#[test]
fn baum_welch_never_lowers_the_likelihood() {
    let device = Device::flex();
    let mut hmm = HmmConfig::new(4)
        .with_states(6)
        .with_context(12)
        .init(&device);
    let text: Vec<i32> = (0..48).map(|i| [0, 1, 2, 1, 3, 0][i % 6]).collect();
    let rows: Vec<&[i32]> = text.chunks(12).collect();
    let batch = tokens(&rows, &device);
    let mut previous = f64::INFINITY;
    let mut first = None;
    for _ in 0..50 {
        let (counts, forward) = hmm.expected_counts(batch.clone());
        let nats = values(forward.surprise())[0];
        assert!(nats <= previous + 1e-5, "{nats} after {previous}");
        previous = nats;
        first.get_or_insert(nats);
        hmm = hmm.absorb(counts, 1.0);
    }
    // A cycle of six characters: six states learn much of it.
    let first = first.unwrap();
    assert!(
        previous < first - 0.5,
        "{first} → {previous} nats per character"
    );
}

#[test]
fn the_reader_predicts_what_the_sum_over_paths_predicts() {
    let device = Device::flex();
    let hmm = tiny(&device);
    let host = Host::of(&hmm);
    let text = [1usize, 0, 2];
    let mut reader = hmm.reader();
    let prompt: Vec<u32> = text.iter().map(|&c| c as u32).collect();
    let mut logits = values(reader.read(&prompt[..2], &device));
    logits = {
        // Reading in pieces is reading at once.
        let again = values(hmm.reader().read(&prompt[..2], &device));
        assert_eq!(logits, again);
        values(reader.read(&prompt[2..], &device))
    };
    let before = host.likelihood(&text);
    for (c, logit) in logits.iter().enumerate() {
        let mut longer = text.to_vec();
        longer.push(c);
        let exact = (host.likelihood(&longer) / before).ln();
        assert!((logit - exact).abs() < 1e-4, "{c}: {logit} vs {exact}");
    }
}

#[test]
fn a_seed_writes_the_same_text() {
    let device = Device::flex();
    let hmm = tiny(&device);
    let write = |seed| {
        let mut generation =
            Generation::new(hmm.reader(), &[0], TokenChoice::default(), seed).unwrap();
        (0..40)
            .map(|_| generation.next_token(&device))
            .collect::<Vec<_>>()
    };
    assert_eq!(write(5), write(5));
    assert_ne!(write(5), write(6));
}

#[test]
fn invalid_configs_are_named() {
    let err = HmmConfig::new(5).with_states(0).validate().unwrap_err();
    assert!(err.contains("states"), "{err}");
}
