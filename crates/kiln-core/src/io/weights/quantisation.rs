//! Integer weight files: every weight matrix and kernel stored as small signed integers with one
//! f16 scale per block of consecutive values (symmetric absmax quantisation). [`Bits::Eight`]
//! follows GGML's `Q8_0` with a wider block: a quarter of an f32 file, plus 1/32 for the scales.
//! [`Bits::Four`] is GGML's `Q4_0` layout with symmetric levels: two values a byte, one scale per
//! 32 of them, about 14 % of an f32 file.
//!
//! Quantisation works on the burnpack entries, not on the model: [`quantise`] rewrites an f32
//! pack, and [`dequantise`] turns such a pack back into f32 entries before a module ever sees
//! them, so every backend computes in f32 exactly as with an f32 file. Biases and norm weights
//! (rank-1 tensors, a few hundred values each) stay in f32: quantising them would save almost
//! nothing and cost their precision.
//!
//! In the pack, an int8 weight `w` is the entry `w` (i8, its own shape) beside `w:scales` (f16);
//! a 4-bit one is `w:int4` (the packed bytes, low nibble first), `w:scales` and `w:shape` (u32,
//! the dimensions `w` loads with).

use std::collections::HashMap;

use burn::tensor::{Bytes, DType, f16};
use burn_pack::Tensor as PackTensor;

use super::error::WeightError;

/// The name of the scales of quantised tensor `name` is `name` + this suffix. A `:` cannot occur
/// in a module path, so it never collides with a parameter.
const SCALES_SUFFIX: &str = ":scales";
/// Suffix of a 4-bit tensor's packed values.
const INT4_SUFFIX: &str = ":int4";
/// Suffix of a 4-bit tensor's dimensions.
const SHAPE_SUFFIX: &str = ":shape";

/// How many bits each quantised weight takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bits {
    Eight,
    Four,
}

impl Bits {
    /// Values per scale. Smaller blocks follow the weights' local range more closely at 2 bytes
    /// of scale each: 64 keeps int8's scales at 1/32 of its values; 4-bit values have only 15
    /// levels, so they get GGML's blocks of 32.
    pub const fn block(self) -> usize {
        match self {
            Bits::Eight => 64,
            Bits::Four => 32,
        }
    }

    /// The largest magnitude stored symmetrically (int8: −127…127, −128 unused; 4 bits: −7…7).
    pub const fn levels(self) -> f32 {
        match self {
            Bits::Eight => 127.0,
            Bits::Four => 7.0,
        }
    }
}

impl std::fmt::Display for Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bits::Eight => "int8",
            Bits::Four => "int4",
        })
    }
}

/// Whether a tensor of this dtype and shape is quantised: f32 weights of rank ≥ 2.
fn is_quantised_weight(dtype: DType, rank: usize) -> bool {
    dtype == DType::F32 && rank >= 2
}

/// The integer values and per-block scales of `values`: block `b` holds
/// `values[b·block..]`, scaled by its largest magnitude over the levels, rounded to f16 (an
/// all-zero block gets scale 0). The values are quantised with the rounded scale, so the stored
/// pair is exactly what loads.
pub fn quantise_values(values: &[f32], bits: Bits) -> (Vec<i8>, Vec<f16>) {
    let levels = bits.levels();
    let mut quantised = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len().div_ceil(bits.block()));
    for block in values.chunks(bits.block()) {
        let largest = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = f16::from_f32(largest / levels);
        let inverse = if scale.to_f32() > 0.0 {
            1.0 / scale.to_f32()
        } else {
            0.0
        };
        // The rounded scale may be a little below largest/levels: clamp to the symmetric range.
        quantised.extend(
            block
                .iter()
                .map(|v| (v * inverse).round().clamp(-levels, levels) as i8),
        );
        scales.push(scale);
    }
    (quantised, scales)
}

/// The f32 values that `quantised` and `scales` ([`quantise_values`]) stand for.
pub fn dequantise_values(quantised: &[i8], scales: &[f16], bits: Bits) -> Vec<f32> {
    quantised
        .chunks(bits.block())
        .zip(scales)
        .flat_map(|(block, scale)| block.iter().map(move |&q| f32::from(q) * scale.to_f32()))
        .collect()
}

/// 4-bit values (−8…7) two to a byte, the first in the low nibble; an odd count leaves the
/// last high nibble 0.
fn pack_nibbles(values: &[i8]) -> Vec<u8> {
    values
        .chunks(2)
        .map(|pair| {
            let high = pair.get(1).copied().unwrap_or(0);
            (pair[0] as u8 & 0x0f) | ((high as u8) << 4)
        })
        .collect()
}

/// The first `count` values of [`pack_nibbles`]'s bytes, sign-extended.
fn unpack_nibbles(bytes: &[u8], count: usize) -> Vec<i8> {
    bytes
        .iter()
        .flat_map(|&b| [((b << 4) as i8) >> 4, (b as i8) >> 4])
        .take(count)
        .collect()
}

/// The entries of an f32 pack with every weight of rank ≥ 2 quantised to `bits`, each beside its
/// scales (and a 4-bit one its shape); other entries unchanged.
pub fn quantise(tensors: Vec<PackTensor>, bits: Bits) -> Result<Vec<PackTensor>, WeightError> {
    let mut out = Vec::with_capacity(3 * tensors.len());
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
        let (quantised, scales) = quantise_values(&values, bits);
        if scales.iter().any(|s| !s.is_finite()) {
            return Err(WeightError::Format(format!(
                "{name} has weights too large for {bits} with f16 scales (above {})",
                f32::from(f16::MAX) * bits.levels()
            )));
        }
        let scale_bytes: Vec<u8> = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
        out.push(PackTensor::new(
            format!("{name}{SCALES_SUFFIX}"),
            DType::F16,
            vec![scales.len()],
            None,
            Bytes::from_bytes_vec(scale_bytes),
        ));
        match bits {
            Bits::Eight => {
                let value_bytes: Vec<u8> = quantised.iter().map(|&q| q as u8).collect();
                out.push(PackTensor::new(
                    name,
                    DType::I8,
                    shape,
                    param_id,
                    Bytes::from_bytes_vec(value_bytes),
                ));
            }
            Bits::Four => {
                let dims: Vec<u8> = shape
                    .to_vec()
                    .into_iter()
                    .map(|d| u32::try_from(d).map(u32::to_le_bytes))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| WeightError::Format(format!("{name} is too large for int4")))?
                    .concat();
                out.push(PackTensor::new(
                    format!("{name}{SHAPE_SUFFIX}"),
                    DType::U32,
                    vec![shape.num_dims()],
                    None,
                    Bytes::from_bytes_vec(dims),
                ));
                let packed = pack_nibbles(&quantised);
                out.push(PackTensor::new(
                    format!("{name}{INT4_SUFFIX}"),
                    DType::U8,
                    vec![packed.len()],
                    param_id,
                    Bytes::from_bytes_vec(packed),
                ));
            }
        }
    }
    Ok(out)
}

/// Whether `tensors` hold quantised weights that [`dequantise`] must expand.
pub fn is_quantised(tensors: &[PackTensor]) -> bool {
    tensors.iter().any(|t| t.name.ends_with(SCALES_SUFFIX))
}

/// The narrowest width among `tensors`' quantised weights, if any.
pub fn bits_of(tensors: &[PackTensor]) -> Option<Bits> {
    if tensors.iter().any(|t| t.name.ends_with(INT4_SUFFIX)) {
        Some(Bits::Four)
    } else {
        is_quantised(tensors).then_some(Bits::Eight)
    }
}

/// The entries of a pack with every quantised weight expanded back to f32 and its scales (and
/// shape) dropped. A damaged pack (values without their scales, scales of the wrong length or
/// without their values, a 4-bit tensor without its shape) is a format error naming the tensor.
pub fn dequantise(tensors: Vec<PackTensor>) -> Result<Vec<PackTensor>, WeightError> {
    let mut scales: HashMap<String, Vec<f16>> = HashMap::new();
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    let mut rest = Vec::with_capacity(tensors.len());
    for tensor in tensors {
        if let Some(owner) = tensor.name.strip_suffix(SCALES_SUFFIX) {
            let owner = owner.to_owned();
            let words = list_words::<2>(tensor, DType::F16, || {
                format!("the scales of {owner} must be a list of f16 values")
            })?;
            scales.insert(owner, words.into_iter().map(f16::from_le_bytes).collect());
        } else if let Some(owner) = tensor.name.strip_suffix(SHAPE_SUFFIX) {
            let owner = owner.to_owned();
            let words = list_words::<4>(tensor, DType::U32, || {
                format!("the shape of {owner} must be a list of u32 values")
            })?;
            let dims = words.into_iter().map(|w| u32::from_le_bytes(w) as usize);
            shapes.insert(owner, dims.collect());
        } else {
            rest.push(tensor);
        }
    }
    let mut out = Vec::with_capacity(rest.len());
    for tensor in rest {
        let bits = if tensor.dtype == DType::I8 {
            Bits::Eight
        } else if tensor.dtype == DType::U8 && tensor.name.ends_with(INT4_SUFFIX) {
            Bits::Four
        } else {
            out.push(tensor);
            continue;
        };
        let (stored_name, _, stored_shape, param_id, bytes) =
            tensor.into_parts().map_err(format_error)?;
        let (name, shape, quantised) = match bits {
            Bits::Eight => {
                let shape = stored_shape.to_vec();
                if bytes.len() != stored_shape.num_elements() {
                    return Err(WeightError::Format(format!(
                        "{stored_name} has {} int8 values but its shape {shape:?} holds {}",
                        bytes.len(),
                        stored_shape.num_elements()
                    )));
                }
                let values = bytes.iter().map(|&b| b as i8).collect();
                (stored_name, shape, values)
            }
            Bits::Four => {
                let name = stored_name[..stored_name.len() - INT4_SUFFIX.len()].to_owned();
                let Some(shape) = shapes.remove(&name) else {
                    return Err(WeightError::Format(format!(
                        "{name} is stored in 4 bits but its shape is missing"
                    )));
                };
                let count = shape
                    .iter()
                    .try_fold(1usize, |n, &d| n.checked_mul(d))
                    .filter(|&n| n.div_ceil(2) == bytes.len());
                let Some(count) = count else {
                    return Err(WeightError::Format(format!(
                        "{name} has {} bytes of int4 values, which its shape {shape:?} does not hold",
                        bytes.len()
                    )));
                };
                (name, shape, unpack_nibbles(&bytes, count))
            }
        };
        let Some(block_scales) = scales.remove(&name) else {
            return Err(WeightError::Format(format!(
                "{name} is stored in {bits} but its scales are missing"
            )));
        };
        let needed = quantised.len().div_ceil(bits.block());
        if block_scales.len() != needed {
            return Err(WeightError::Format(format!(
                "{name} has {} {bits} values, which need {needed} scales, but the file has {}",
                quantised.len(),
                block_scales.len()
            )));
        }
        let values = dequantise_values(&quantised, &block_scales, bits);
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.push(PackTensor::new(
            name,
            DType::F32,
            shape,
            param_id,
            Bytes::from_bytes_vec(bytes),
        ));
    }
    if let Some(orphan) = scales.keys().chain(shapes.keys()).next() {
        return Err(WeightError::Format(format!(
            "the file has scales or a shape for {orphan} but no quantised tensor of that name"
        )));
    }
    Ok(out)
}

/// The little-endian words of a list entry (scales, a shape) of `dtype`; a format error saying
/// `wrong()` if the entry is not a list of that type.
fn list_words<const N: usize>(
    tensor: PackTensor,
    dtype: DType,
    wrong: impl FnOnce() -> String,
) -> Result<Vec<[u8; N]>, WeightError> {
    if tensor.dtype != dtype || tensor.shape.num_dims() != 1 {
        return Err(WeightError::Format(wrong()));
    }
    let bytes = tensor.into_bytes().map_err(format_error)?;
    Ok(bytes.as_chunks::<N>().0.to_vec())
}

fn format_error(error: burn_pack::Error) -> WeightError {
    WeightError::Format(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_within_half_a_step_of_their_block() {
        const BLOCK: usize = Bits::Eight.block();
        // Two blocks of very different ranges: each keeps its own resolution.
        let values: Vec<f32> = (0..BLOCK)
            .map(|i| (i as f32 - 32.0) * 0.01)
            .chain((0..10).map(|i| i as f32 * 100.0))
            .collect();
        let (quantised, scales) = quantise_values(&values, Bits::Eight);
        assert_eq!(quantised.len(), values.len());
        assert_eq!(scales.len(), 2);
        // Block 0 spans ±0.32, so its step is 0.32/127; block 1's largest value is 900. The
        // scales are f16, within 2⁻¹¹ of that.
        let relative = |scale: f16, expected: f32| (scale.to_f32() - expected).abs() / expected;
        assert!(relative(scales[0], 0.32 / 127.0) < 1e-3, "{}", scales[0]);
        assert!(relative(scales[1], 900.0 / 127.0) < 1e-3, "{}", scales[1]);
        let restored = dequantise_values(&quantised, &scales, Bits::Eight);
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
    fn nibbles_round_trip_every_four_bit_value() {
        let values: Vec<i8> = (-8..=7).chain([3]).collect(); // an odd count
        let packed = pack_nibbles(&values);
        assert_eq!(packed.len(), 9);
        assert_eq!(packed[8], 3, "the last high nibble is 0");
        assert_eq!(unpack_nibbles(&packed, values.len()), values);
    }

    #[test]
    fn four_bit_values_stay_within_half_a_step() {
        // A ramp over ±1 in one block, a block of small values, a partial block of three.
        let values: Vec<f32> = (0..32)
            .map(|i| (i as f32 - 16.0) / 16.0)
            .chain((0..32).map(|i| i as f32 * 1e-3))
            .chain([0.5, -0.25, 0.0])
            .collect();
        let (quantised, scales) = quantise_values(&values, Bits::Four);
        assert_eq!(scales.len(), 3);
        assert!(quantised.iter().all(|q| (-7..=7).contains(q)));
        let restored = dequantise_values(&quantised, &scales, Bits::Four);
        for (i, (v, r)) in values.iter().zip(&restored).enumerate() {
            let step = scales[i / 32].to_f32();
            assert!(
                (v - r).abs() <= 0.5 * step + 1e-3 * v.abs(),
                "{i}: {v} vs {r}"
            );
        }
    }

    #[test]
    fn zero_blocks_stay_zero() {
        let (quantised, scales) = quantise_values(&[0.0; 3], Bits::Eight);
        assert_eq!(scales, [f16::ZERO]);
        assert_eq!(
            dequantise_values(&quantised, &scales, Bits::Eight),
            [0.0; 3]
        );
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

    /// A dequantised entry: f32 under its own name and shape, keeping the parameter id
    /// [`entry`] gives.
    fn assert_f32_entry(tensor: &PackTensor, name: &str, shape: &[usize]) {
        assert_eq!(tensor.name, name);
        assert_eq!(tensor.dtype, DType::F32);
        assert_eq!(tensor.shape.to_vec(), shape);
        assert_eq!(tensor.param_id, Some(7));
    }

    #[test]
    fn only_weights_of_rank_two_or_more_are_quantised() {
        let weight = f32_entry("fc.weight", vec![2, 3], &[1.0, -2.0, 0.5, 0.0, 3.0, -1.5]);
        let bias = f32_entry("fc.bias", vec![3], &[0.1, 0.2, 0.3]);
        let packed = quantise(vec![weight, bias], Bits::Eight).unwrap();
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
        assert_f32_entry(&restored[0], "fc.weight", &[2, 3]);
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
    fn four_bit_weights_keep_their_shape_and_load_as_f32() {
        let values: Vec<f32> = (0..15).map(|i| i as f32 / 7.0 - 1.0).collect();
        let weight = f32_entry("conv.weight", vec![3, 5, 1, 1], &values);
        let packed = quantise(vec![weight], Bits::Four).unwrap();
        let names: Vec<_> = packed.iter().map(|t| (t.name.as_str(), t.dtype)).collect();
        assert_eq!(
            names,
            [
                ("conv.weight:scales", DType::F16),
                ("conv.weight:shape", DType::U32),
                ("conv.weight:int4", DType::U8)
            ]
        );
        assert_eq!(packed[2].byte_len(), 8, "15 values in 8 bytes");
        assert_eq!(bits_of(&packed), Some(Bits::Four));
        let restored = dequantise(packed).unwrap();
        assert_eq!(restored.len(), 1);
        assert_f32_entry(&restored[0], "conv.weight", &[3, 5, 1, 1]);
    }

    #[test]
    fn damaged_four_bit_packs_name_the_tensor() {
        let weight = f32_entry("w", vec![2, 3], &[1.0, -2.0, 0.5, 0.0, 3.0, -1.5]);
        let packed = quantise(vec![weight], Bits::Four).unwrap();
        let without = |suffix: &str| -> Vec<PackTensor> {
            packed
                .iter()
                .filter(|t| !t.name.ends_with(suffix))
                .cloned()
                .collect()
        };
        let err = dequantise(without(":shape")).unwrap_err().to_string();
        assert!(
            err.contains("w is stored in 4 bits but its shape is missing"),
            "{err}"
        );
        let err = dequantise(without(":scales")).unwrap_err().to_string();
        assert!(
            err.contains("w is stored in int4 but its scales are missing"),
            "{err}"
        );
        let mut wrong = without(":shape");
        wrong.push(entry(
            "w:shape",
            DType::U32,
            vec![1],
            7u32.to_le_bytes().to_vec(),
        ));
        let err = dequantise(wrong).unwrap_err().to_string();
        assert!(
            err.contains("w has 3 bytes of int4 values, which its shape [7] does not hold"),
            "{err}"
        );
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
        assert!(
            err.contains("scales or a shape for gone but no quantised tensor"),
            "{err}"
        );
    }
}
