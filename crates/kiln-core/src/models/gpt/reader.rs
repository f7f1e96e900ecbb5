//! How a GPT reads a text it is writing: only the new tokens each step, the [`KvCache`] holding
//! the rest, and a fresh start from the last ¾ context when the text outgrows the context.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{Gpt, KvCache};
use crate::text::{Reader, Reads};

#[derive(Debug)]
struct GptReader {
    gpt: Gpt,
    cache: KvCache,
    /// The tokens in the cache, in order.
    read: Vec<u32>,
}

impl Reads for Gpt {
    fn reader(&self) -> Box<dyn Reader> {
        Box::new(GptReader {
            gpt: self.clone(),
            cache: KvCache::default(),
            read: Vec::new(),
        })
    }
}

impl Reader for GptReader {
    /// When the new tokens would overflow the context, the model starts afresh from the last ¾
    /// context of the text (one longer read every quarter context, instead of a full one per
    /// character).
    fn read(&mut self, tokens: &[u32], device: &Device) -> Tensor<1> {
        let context = self.gpt.context();
        let mut unread = tokens.to_vec();
        if self.cache.seen() + unread.len() > context {
            let mut text = std::mem::take(&mut self.read);
            text.append(&mut unread);
            let keep = (context - context / 4).max(1);
            unread = text.split_off(text.len() - keep.min(text.len()));
            self.cache = KvCache::default();
        }
        let new = unread.len();
        let values: Vec<i32> = unread.iter().map(|&t| t as i32).collect();
        let tokens = Tensor::<1, Int>::from_data(TensorData::new(values, [new]), device);
        let logits = self
            .gpt
            .forward_cached(tokens.reshape([1, new]), &mut self.cache);
        self.read.append(&mut unread);
        let vocab = logits.dims()[2];
        logits
            .slice([0..1, new - 1..new, 0..vocab])
            .reshape([vocab])
    }
}
