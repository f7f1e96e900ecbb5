//! 8-bit weight files: every weight matrix and kernel stored as signed bytes with one f16 scale
//! per block of [`BLOCK`] consecutive values (symmetric absmax quantisation, the layout of
//! GGML's `Q8_0` with a wider block). A quarter of an f32 file, plus 1/32 for the scales.
//!
//! Quantisation works on the burnpack entries, not on the model: [`quantise`] rewrites an f32
//! pack, and [`dequantise`] turns such a pack back into f32 entries before a module ever sees
//! them, so every backend computes in f32 exactly as with an f32 file. Biases and norm weights
//! (rank-1 tensors, a few hundred values each) stay in f32: quantising them would save almost
//! nothing and cost their precision.

use burn::tensor::{Bytes, DType, f16};
use burn_pack::Tensor as PackTensor;

use crate::weights::WeightError;

/// Values per scale. Smaller blocks follow the weights' local range more closely at 2 bytes of
/// scale each; 64 keeps the scales at 1/32 of the int8 values.
pub const BLOCK: usize = 64;
/// The largest magnitude an int8 value stores symmetrically (−127…127; −128 is unused).
const LEVELS: f32 = 127.0;
/// The name of the scales of quantised tensor `name` is `name` + this suffix. A `:` cannot occur
/// in a module path, so it never collides with a parameter.
const SCALES_SUFFIX: &str = ":scales";

/// Whether a tensor of this dtype and shape is stored in 8 bits: f32 weights of rank ≥ 2.
fn is_quantised_weight(dtype: DType, rank: usize) -> bool {
    dtype == DType::F32 && rank >= 2
}

/// The int8 values and per-block scales of `values`: block `b` holds `values[b·BLOCK..]`, scaled
/// by its largest magnitude over 127, rounded to f16 (an all-zero block gets scale 0). The
/// values are quantised with the rounded scale, so the stored pair is exactly what loads.
pub fn quantise_values(values: &[f32]) -> (Vec<i8>, Vec<f16>) {
    let mut quantised = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len().div_ceil(BLOCK));
    for block in values.chunks(BLOCK) {
        let largest = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = f16::from_f32(largest / LEVELS);
        let inverse = if scale.to_f32() > 0.0 {
            1.0 / scale.to_f32()
        } else {
            0.0
        };
        // The rounded scale may be a little below largest/127: clamp to the symmetric range.
        quantised.extend(
            block
                .iter()
                .map(|v| (v * inverse).round().clamp(-LEVELS, LEVELS) as i8),
        );
        scales.push(scale);
    }
    (quantised, scales)
}

/// The f32 values that `quantised` and `scales` ([`quantise_values`]) stand for.
pub fn dequantise_values(quantised: &[i8], scales: &[f16]) -> Vec<f32> {
    quantised
        .chunks(BLOCK)
        .zip(scales)
        .flat_map(|(block, scale)| block.iter().map(move |&q| f32::from(q) * scale.to_f32()))
        .collect()
}

/// The entries of an f32 pack with every weight of rank ≥ 2 in int8, each followed by its
/// scales; other entries unchanged.
pub fn quantise(tensors: Vec<PackTensor>) -> Result<Vec<PackTensor>, WeightError> {
    let mut out = Vec::with_capacity(2 * tensors.len());
    for tensor in tensors {
        if !is_quantised_weight(tensor.dtype, tensor.shape.num_dims()) {
            out.push(tensor);
            continue;
        }
        let (name, _, shape, param_id, bytes) = tensor.into_parts().map_err(format_error)?;
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let (quantised, scales) = quantise_values(&values);
        if scales.iter().any(|s| !s.is_finite()) {
            return Err(WeightError::Format(format!(
                "{name} has weights too large for int8 with f16 scales (above {})",
                f32::from(f16::MAX) * LEVELS
            )));
        }
        let scale_bytes: Vec<u8> = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
        let value_bytes: Vec<u8> = quantised.iter().map(|&q| q as u8).collect();
        out.push(PackTensor::new(
            format!("{name}{SCALES_SUFFIX}"),
            DType::F16,
            vec![scales.len()],
            None,
            Bytes::from_bytes_vec(scale_bytes),
        ));
        out.push(PackTensor::new(
            name,
            DType::I8,
            shape,
            param_id,
            Bytes::from_bytes_vec(value_bytes),
        ));
    }
    Ok(out)
}

/// Whether `tensors` hold int8 weights that [`dequantise`] must expand.
pub fn is_quantised(tensors: &[PackTensor]) -> bool {
    tensors.iter().any(|t| t.name.ends_with(SCALES_SUFFIX))
}

/// The entries of a pack with every int8 weight expanded back to f32 and the scales dropped.
/// A damaged pack (an int8 tensor without its scales, scales of the wrong length or without
/// their tensor) is a format error naming the tensor.
pub fn dequantise(tensors: Vec<PackTensor>) -> Result<Vec<PackTensor>, WeightError> {
    let mut scales: std::collections::HashMap<String, Vec<f16>> = std::collections::HashMap::new();
    let mut rest = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        match tensor.name.strip_suffix(SCALES_SUFFIX) {
            Some(owner) => {
                if tensor.dtype != DType::F16 || tensor.shape.num_dims() != 1 {
                    return Err(WeightError::Format(format!(
                        "the scales of {owner} must be a list of f16 values"
                    )));
                }
                let owner = owner.to_owned();
                let bytes = tensor.into_bytes().map_err(format_error)?;
                let values = bytes
                    .chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]))
                    .collect();
                scales.insert(owner, values);
            }
            None => rest.push(tensor),
        }
    }
    let mut out = Vec::with_capacity(rest.len());
    for tensor in rest {
        if tensor.dtype != DType::I8 {
            out.push(tensor);
            continue;
        }
        let (name, _, shape, param_id, bytes) = tensor.into_parts().map_err(format_error)?;
        if bytes.len() != shape.num_elements() {
            return Err(WeightError::Format(format!(
                "{name} has {} int8 values but its shape {:?} holds {}",
                bytes.len(),
                shape.to_vec(),
                shape.num_elements()
            )));
        }
        let Some(block_scales) = scales.remove(&name) else {
            return Err(WeightError::Format(format!(
                "{name} is stored in int8 but its scales are missing"
            )));
        };
        if block_scales.len() != bytes.len().div_ceil(BLOCK) {
            return Err(WeightError::Format(format!(
                "{name} has {} int8 values, which need {} scales, but the file has {}",
                bytes.len(),
                bytes.len().div_ceil(BLOCK),
                block_scales.len()
            )));
        }
        let quantised: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
        let values = dequantise_values(&quantised, &block_scales);
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.push(PackTensor::new(
            name,
            DType::F32,
            shape,
            param_id,
            Bytes::from_bytes_vec(bytes),
        ));
    }
    if let Some(orphan) = scales.keys().next() {
        return Err(WeightError::Format(format!(
            "the file has scales for {orphan} but no int8 tensor of that name"
        )));
    }
    Ok(out)
}

fn format_error(error: burn_pack::Error) -> WeightError {
    WeightError::Format(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_within_half_a_step_of_their_block() {
        // Two blocks of very different ranges: each keeps its own resolution.
        let values: Vec<f32> = (0..BLOCK)
            .map(|i| (i as f32 - 32.0) * 0.01)
            .chain((0..10).map(|i| i as f32 * 100.0))
            .collect();
        let (quantised, scales) = quantise_values(&values);
        assert_eq!(quantised.len(), values.len());
        assert_eq!(scales.len(), 2);
        // Block 0 spans ±0.32, so its step is 0.32/127; block 1's largest value is 900. The
        // scales are f16, within 2⁻¹¹ of that.
        let relative = |scale: f16, expected: f32| (scale.to_f32() - expected).abs() / expected;
        assert!(relative(scales[0], 0.32 / 127.0) < 1e-3, "{}", scales[0]);
        assert!(relative(scales[1], 900.0 / 127.0) < 1e-3, "{}", scales[1]);
        let restored = dequantise_values(&quantised, &scales);
        for (i, (v, r)) in values.iter().zip(&restored).enumerate() {
            let step = scales[i / BLOCK].to_f32();
            assert!(
                (v - r).abs() <= 0.5 * step + 1e-3 * v.abs(),
                "{i}: {v} vs {r}"
            );
        }
        // The largest magnitude of each block lands on ±127 steps, as close as f16 allows.
        assert!(
            (restored[BLOCK + 9] - 900.0).abs() < 1.0,
            "{}",
            restored[BLOCK + 9]
        );
    }

    #[test]
    fn zero_blocks_stay_zero() {
        let (quantised, scales) = quantise_values(&[0.0; 3]);
        assert_eq!(scales, [f16::ZERO]);
        assert_eq!(dequantise_values(&quantised, &scales), [0.0; 3]);
    }

    fn entry(name: &str, dtype: DType, shape: Vec<usize>, bytes: Vec<u8>) -> PackTensor {
        PackTensor::new(
            name.into(),
            dtype,
            shape,
            Some(7),
            Bytes::from_bytes_vec(bytes),
        )
    }

    fn f32_entry(name: &str, shape: Vec<usize>, values: &[f32]) -> PackTensor {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        entry(name, DType::F32, shape, bytes)
    }

    #[test]
    fn only_weights_of_rank_two_or_more_are_quantised() {
        let weight = f32_entry("fc.weight", vec![2, 3], &[1.0, -2.0, 0.5, 0.0, 3.0, -1.5]);
        let bias = f32_entry("fc.bias", vec![3], &[0.1, 0.2, 0.3]);
        let packed = quantise(vec![weight, bias]).unwrap();
        let names: Vec<_> = packed.iter().map(|t| (t.name.as_str(), t.dtype)).collect();
        assert_eq!(
            names,
            [
                ("fc.weight:scales", DType::F16),
                ("fc.weight", DType::I8),
                ("fc.bias", DType::F32)
            ]
        );
        assert!(is_quantised(&packed));
        let restored = dequantise(packed).unwrap();
        assert!(!is_quantised(&restored));
        assert_eq!(restored.len(), 2);
        assert_eq!(restored[0].name, "fc.weight");
        assert_eq!(restored[0].dtype, DType::F32);
        assert_eq!(restored[0].shape.to_vec(), [2, 3]);
        assert_eq!(restored[0].param_id, Some(7));
        let bytes = restored[0].to_bytes().unwrap();
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        // Scale 3/127: every value within half a step (and the scale's f16 rounding).
        for (v, r) in [1.0, -2.0, 0.5, 0.0, 3.0, -1.5].iter().zip(&values) {
            assert!((v - r).abs() <= 1.5 / 127.0 + 1e-3 * v.abs(), "{v} vs {r}");
        }
    }

    #[test]
    fn damaged_packs_name_the_tensor() {
        let lone = entry("w", DType::I8, vec![2, 2], vec![1, 2, 3, 4]);
        let err = dequantise(vec![lone.clone()]).unwrap_err().to_string();
        assert!(
            err.contains("w is stored in int8 but its scales are missing"),
            "{err}"
        );

        let short = entry("w:scales", DType::F16, vec![0], vec![]);
        let err = dequantise(vec![short, lone]).unwrap_err().to_string();
        assert!(
            err.contains("w has 4 int8 values, which need 1 scales, but the file has 0"),
            "{err}"
        );

        let orphan = entry(
            "gone:scales",
            DType::F16,
            vec![1],
            f16::ONE.to_le_bytes().to_vec(),
        );
        let err = dequantise(vec![orphan]).unwrap_err().to_string();
        assert!(err.contains("scales for gone but no int8 tensor"), "{err}");
    }
}
