//! A short, seeded, stable-toolchain stand-in for libFuzzer: each target on mutations of valid
//! inputs (bits flipped, bytes changed, inserted, removed, repeated, the file cut short), so
//! that `cargo test` catches a regression that the long runs in `fuzz/` would.

use burn::tensor::Device;
use kiln_core::io::weights::Precision;

use crate::{Target, tiny_spec};

/// Valid inputs of each target to mutate: also the seed corpus of `fuzz/`.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    match target {
        "idx" => {
            let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
            images.extend(0..18);
            vec![images, vec![0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 9]]
        }
        "weights" => {
            let spec = tiny_spec();
            let model = spec.init(&Device::flex()).expect("the tiny spec is valid");
            let bytes = model.to_bytes(Precision::F32).expect("it serialises");
            let embedded = spec.embed_in(&bytes).expect("its spec embeds");
            vec![bytes, embedded]
        }
        "manifest" => vec![include_bytes!("../../../pretrained/manifest.json").to_vec()],
        "request" => [
            r#"{"count": 16, "seed": 7, "class": 3, "sampler": "ddim", "steps": 20, "guidance": 1.5}"#,
            r#"{"prompt": "ROMEO:", "maxTokens": 100, "temperature": 0.8, "topK": 40, "seed": 1}"#,
            r#"{"from": 1, "to": 2, "steps": 16, "class": 0}"#,
            r#"{"noise": 0.4, "seed": 3}"#,
            r#"{"labels": [7], "steps": 200, "lr": 0.002, "seed": 0}"#,
        ]
        .map(|json| json.as_bytes().to_vec())
        .to_vec(),
        _ => panic!("no fuzz target {target:?}"),
    }
}

/// Run `target` on `runs` mutations of its seeds, drawn from `seed`.
pub fn run(target: &str, check: Target, runs: usize, seed: u64) {
    let seeds = seeds(target);
    let mut random = XorShift(seed | 1);
    for run in 0..runs {
        let mut input = seeds[run % seeds.len()].clone();
        for _ in 0..=random.below(4) {
            mutate(&mut input, &mut random);
        }
        check(&input);
    }
}

/// Change `input` in one of the ways libFuzzer's mutators do.
fn mutate(input: &mut Vec<u8>, random: &mut XorShift) {
    let at = |random: &mut XorShift, len: usize| random.below(len.max(1));
    match random.below(7) {
        0 if !input.is_empty() => {
            let i = at(random, input.len());
            input[i] ^= 1 << random.below(8);
        }
        1 if !input.is_empty() => {
            let i = at(random, input.len());
            input[i] = [0, 1, 0x7f, 0x80, 0xff, random.next() as u8][random.below(6)];
        }
        2 => {
            let i = at(random, input.len() + 1);
            input.insert(i.min(input.len()), random.next() as u8);
        }
        3 if !input.is_empty() => {
            let i = at(random, input.len());
            let end = (i + 1 + random.below(16)).min(input.len());
            input.drain(i..end);
        }
        4 => input.truncate(at(random, input.len() + 1)),
        5 if !input.is_empty() => {
            let i = at(random, input.len());
            let end = (i + 1 + random.below(64)).min(input.len());
            let chunk = input[i..end].to_vec();
            let to = at(random, input.len() + 1).min(input.len());
            input.splice(to..to, chunk);
        }
        _ => {
            // A big-endian u32 somewhere: sizes and offsets are where parsers go wrong.
            if input.len() >= 4 {
                let i = at(random, input.len() - 3);
                let value =
                    [0, 1, u32::MAX, 1 << 31, 1 << 16, random.next() as u32][random.below(6)];
                input[i..i + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
    }
}

/// xorshift64: enough randomness to mutate with, the same sequence for the same seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idx_files_never_panic() {
        run("idx", crate::idx, 20_000, 1);
    }

    #[test]
    fn weight_files_never_panic() {
        run("weights", crate::weights, 20_000, 2);
    }

    #[test]
    fn manifests_never_panic() {
        run("manifest", crate::manifest, 5_000, 3);
    }

    #[test]
    fn requests_never_panic() {
        run("request", crate::request, 20_000, 4);
    }

    #[test]
    fn the_seeds_are_valid_inputs() {
        let device = Device::flex();
        for bytes in seeds("weights") {
            tiny_spec().load(&bytes, &device).unwrap();
        }
        kiln_core::data::idx::parse_images("seed", &seeds("idx")[0]).unwrap();
    }
}
