//! A character n-gram model with interpolated absolute discounting (Ney, Essen & Kneser 1994):
//! the floor under the learnt text models. Counting the training text is all it learns, so bits
//! per character that a GPT or HMM cannot beat say the model learnt less than counting does.

use std::collections::HashMap;

/// How much of each seen count goes to the shorter contexts.
const DISCOUNT: f64 = 0.75;

/// What followed one context in the training text.
#[derive(Debug, Default)]
struct Followers {
    total: u32,
    counts: HashMap<u32, u32>,
}

/// Counts of every context of up to `order − 1` characters and what followed it.
#[derive(Debug)]
pub struct NGram {
    order: usize,
    vocab_size: usize,
    contexts: HashMap<Vec<u32>, Followers>,
}

impl NGram {
    /// Count `tokens` (each below `vocab_size`) with contexts of up to `order − 1` characters.
    pub fn count(tokens: &[u32], order: usize, vocab_size: usize) -> Self {
        let mut contexts: HashMap<Vec<u32>, Followers> = HashMap::new();
        for (i, &next) in tokens.iter().enumerate() {
            for length in 0..order.min(i + 1) {
                let followers = contexts.entry(tokens[i - length..i].to_vec()).or_default();
                followers.total += 1;
                *followers.counts.entry(next).or_default() += 1;
            }
        }
        Self {
            order: order.max(1),
            vocab_size: vocab_size.max(1),
            contexts,
        }
    }

    /// p(`next` | `history`), from the longest context down to a uniform floor over the
    /// vocabulary, so that no character is impossible.
    pub fn probability(&self, history: &[u32], next: u32) -> f64 {
        let longest = history.len().min(self.order - 1);
        let mut p = 1.0 / self.vocab_size as f64;
        for length in 0..=longest {
            let context = &history[history.len() - length..];
            let Some(followers) = self.contexts.get(context) else {
                break;
            };
            let total = f64::from(followers.total);
            let seen = followers.counts.get(&next).map_or(0.0, |&c| f64::from(c));
            let kinds = followers.counts.len() as f64;
            p = (seen - DISCOUNT).max(0.0) / total + DISCOUNT * kinds / total * p;
        }
        p
    }

    /// Mean bits per character of `tokens`, each given the ones before it.
    pub fn bits_per_char(&self, tokens: &[u32]) -> f64 {
        let bits: f64 = (0..tokens.len())
            .map(|i| -self.probability(&tokens[..i], tokens[i]).log2())
            .sum();
        bits / tokens.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_of_every_context_sum_to_one() {
        let text: Vec<u32> = [0, 1, 2, 1, 0, 1, 1, 2, 0].to_vec();
        let model = NGram::count(&text, 3, 4);
        for history in [&[][..], &[1], &[0, 1], &[3, 3], &[2, 0, 1]] {
            let total: f64 = (0..4).map(|c| model.probability(history, c)).sum();
            assert!((total - 1.0).abs() < 1e-12, "{history:?}: {total}");
        }
        assert!(
            model.probability(&[0], 3) > 0.0,
            "unseen characters stay possible"
        );
    }

    #[test]
    fn longer_contexts_predict_a_pattern_better() {
        let text: Vec<u32> = (0..600).map(|i| [0, 1, 2, 1][i % 4]).collect();
        let (train, test) = text.split_at(500);
        let bits = |order| NGram::count(train, order, 3).bits_per_char(test);
        assert!(bits(1) > 1.4, "{}", bits(1));
        assert!(
            bits(2) < bits(1) && bits(3) < 0.2,
            "{} {}",
            bits(2),
            bits(3)
        );
    }
}
