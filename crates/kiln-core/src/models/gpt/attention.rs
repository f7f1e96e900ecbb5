//! Causal multi-head self-attention (Vaswani et al. 2017) with a key/value cache, so that
//! generation feeds one new token per step instead of the whole context.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor};

use super::linear;

/// Added to the scores of future positions: `exp` of it is exactly 0 in f32, as with −∞, but no
/// backend ever meets `−∞ − (−∞)`.
const MASKED: f32 = -1e9;

/// Keys and values of the positions one layer has seen so far.
///
/// # Shapes
/// - keys, values: `[batch, heads, seen, head_dim]`
#[derive(Debug, Clone)]
pub struct LayerCache {
    keys: Tensor<4>,
    values: Tensor<4>,
}

#[derive(Module, Debug)]
pub struct CausalSelfAttention {
    /// Queries, keys and values of every head in one product.
    qkv: Linear,
    output: Linear,
    dropout: Dropout,
    heads: usize,
}

impl CausalSelfAttention {
    pub fn new(width: usize, heads: usize, dropout: f64, device: &Device) -> Self {
        Self {
            qkv: linear(width, 3 * width, device),
            output: linear(width, width, device),
            dropout: DropoutConfig::new(dropout).init(),
            heads,
        }
    }

    /// Attend from each new position to itself, the positions before it in `x`, and those in
    /// `cache` (which then holds the new positions too).
    ///
    /// # Shapes
    /// - x: `[batch, new, width]`; output: `[batch, new, width]`
    pub fn forward(&self, x: Tensor<3>, cache: &mut Option<LayerCache>) -> Tensor<3> {
        let [batch, new, width] = x.dims();
        let head_dim = width / self.heads;
        let qkv = self.qkv.forward(x);
        // (B, new, width) → (B, heads, new, head_dim)
        let heads = |part: usize| {
            qkv.clone()
                .slice([0..batch, 0..new, part * width..(part + 1) * width])
                .reshape([batch, new, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let (queries, mut keys, mut values) = (heads(0), heads(1), heads(2));
        if let Some(past) = cache.take() {
            keys = Tensor::cat(vec![past.keys, keys], 2);
            values = Tensor::cat(vec![past.values, values], 2);
        }
        *cache = Some(LayerCache {
            keys: keys.clone(),
            values: values.clone(),
        });
        let seen = keys.dims()[2];
        let scores = queries
            .matmul(keys.swap_dims(2, 3))
            .mul_scalar(1.0 / (head_dim as f64).sqrt()); // (B, heads, new, seen)
        // One new query (every step of writing) comes after every key: nothing to hide, so no
        // mask to build (two ranges, a comparison and a fill per layer and character).
        let scores = if new == 1 {
            scores
        } else {
            let future = future_mask(new, seen, &scores.device())
                .unsqueeze::<4>()
                .expand([batch, self.heads, new, seen]);
            scores.mask_fill(future, MASKED)
        };
        let weights = self.dropout.forward(softmax(scores, 3));
        let mixed = weights
            .matmul(values) // (B, heads, new, head_dim)
            .swap_dims(1, 2)
            .reshape([batch, new, width]);
        self.dropout.forward(self.output.forward(mixed))
    }
}

/// `true` where a key lies after its query: the `new` queries are the last positions of `seen`.
///
/// # Shapes
/// - output: `[new, seen]`
fn future_mask(new: usize, seen: usize, device: &Device) -> Tensor<2, Bool> {
    let offset = (seen - new) as i64;
    let queries = Tensor::<1, Int>::arange(offset..seen as i64, device)
        .reshape([new, 1])
        .expand([new, seen]);
    let keys = Tensor::<1, Int>::arange(0..seen as i64, device)
        .reshape([1, seen])
        .expand([new, seen]);
    keys.greater(queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn the_mask_hides_the_future_only() {
        let device = Device::flex();
        // Two new queries at positions 1 and 2 of three.
        future_mask(2, 3, &device).into_data().assert_eq(
            &TensorData::new(vec![false, false, true, false, false, false], [2, 3]),
            true,
        );
    }
}
