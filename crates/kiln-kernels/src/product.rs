//! A matrix product for the wasm CPU path, in tiles of 4 rows × 8 columns of sums.
//!
//! burn-flex multiplies through gemm, whose simd128 kernel sums a 12 × 4 tile. In V8 a 4 × 8
//! tile, the right-hand side packed into panels of 8 columns and taken 8 panels at a time, ran
//! the products of the decoders' and the UNet's first upsampling 1.17–1.30× as fast from 16
//! images up (at 16 digits 16.5–18.5 G multiply-adds a second against gemm's 13.5–15.5), and at
//! 0.9× for one image (BENCHMARKS.md, "Kiln's own product on wasm").
//!
//! Each sum is taken in order of depth, one multiply then one add (no fused multiply-add), with
//! the vector tile on wasm with simd128 and the same arithmetic one value at a time elsewhere.
//! So a row of the product does not depend on the other rows, and every target gives the same
//! bits.

/// Rows of `lhs` summed at once, each in vector registers.
const TILE_ROWS: usize = 4;
/// Columns of a panel of `rhs`: two 4-lane vectors.
const TILE_COLUMNS: usize = 8;
/// Panels taken against each run of rows before the next: 8 panels of depth 64 are 16 KiB, which
/// stay in the L1 cache while the rows stream past.
const PANELS_PER_BLOCK: usize = 8;

/// `lhs · rhs`, row-major: `lhs` is `[rows, depth]`, `rhs` `[depth, columns]`, the product
/// `[rows, columns]`.
///
/// # Panics
/// If `lhs` or `rhs` does not hold as many values as those sizes say.
pub fn multiply(lhs: &[f32], rhs: &[f32], [rows, depth, columns]: [usize; 3]) -> Vec<f32> {
    assert_eq!(lhs.len(), rows * depth, "lhs is not [rows, depth]");
    assert_eq!(rhs.len(), depth * columns, "rhs is not [depth, columns]");
    let mut product = vec![0.0; rows * columns];
    if product.is_empty() || depth == 0 {
        return product;
    }
    let panels = pack_panels(rhs, depth, columns);
    let panel_len = depth * TILE_COLUMNS;
    let panel_count = columns.div_ceil(TILE_COLUMNS);
    for first_panel in (0..panel_count).step_by(PANELS_PER_BLOCK) {
        let block = first_panel..(first_panel + PANELS_PER_BLOCK).min(panel_count);
        let mut row = 0;
        while row < rows {
            let run = if rows - row >= TILE_ROWS {
                TILE_ROWS
            } else {
                1
            };
            let lhs_rows = &lhs[row * depth..(row + run) * depth];
            for panel in block.clone() {
                let column = panel * TILE_COLUMNS;
                let panel = &panels[panel * panel_len..(panel + 1) * panel_len];
                let out = Destination {
                    values: &mut product[row * columns + column..],
                    stride: columns,
                    width: TILE_COLUMNS.min(columns - column),
                };
                if run == TILE_ROWS {
                    tile::<TILE_ROWS>(lhs_rows, panel, out);
                } else {
                    tile::<1>(lhs_rows, panel, out);
                }
            }
            row += run;
        }
    }
    product
}

/// `rhs` as panels of [`TILE_COLUMNS`] columns, each `[depth, TILE_COLUMNS]` row-major, the last
/// one padded with zeros: a tile reads its panel front to back.
fn pack_panels(rhs: &[f32], depth: usize, columns: usize) -> Vec<f32> {
    let panel_count = columns.div_ceil(TILE_COLUMNS);
    let mut panels = vec![0.0; panel_count * depth * TILE_COLUMNS];
    for (k, rhs_row) in rhs.chunks_exact(columns).enumerate() {
        for (panel, values) in rhs_row.chunks(TILE_COLUMNS).enumerate() {
            let at = (panel * depth + k) * TILE_COLUMNS;
            panels[at..at + values.len()].copy_from_slice(values);
        }
    }
    panels
}

/// Where a tile's sums go: its rows `stride` apart in `values`, the first `width` columns of each
/// (fewer than [`TILE_COLUMNS`] in the last panel).
struct Destination<'a> {
    values: &'a mut [f32],
    stride: usize,
    width: usize,
}

/// Writes the sums of `ROWS` rows of `lhs` (each `depth` long, one after the other) with one
/// panel of `depth` rows.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn tile<const ROWS: usize>(lhs_rows: &[f32], panel: &[f32], out: Destination) {
    use core::arch::wasm32::{f32x4_add, f32x4_mul, f32x4_splat, v128, v128_load};

    let depth = panel.len() / TILE_COLUMNS;
    let Destination {
        values,
        stride,
        width,
    } = out;
    assert!(lhs_rows.len() >= ROWS * depth && values.len() >= (ROWS - 1) * stride + width);
    let (lhs_rows, panel) = (lhs_rows.as_ptr(), panel.as_ptr());
    let mut sums = [[f32x4_splat(0.0); 2]; ROWS];
    for k in 0..depth {
        // SAFETY: k < depth and r < ROWS, so every read is inside the slices measured above;
        // wasm loads need no alignment.
        unsafe {
            let columns = panel.add(k * TILE_COLUMNS);
            let left = v128_load(columns.cast::<v128>());
            let right = v128_load(columns.add(4).cast::<v128>());
            for (r, [sum_left, sum_right]) in sums.iter_mut().enumerate() {
                let value = f32x4_splat(*lhs_rows.add(r * depth + k));
                *sum_left = f32x4_add(*sum_left, f32x4_mul(value, left));
                *sum_right = f32x4_add(*sum_right, f32x4_mul(value, right));
            }
        }
    }
    for (r, [left, right]) in sums.into_iter().enumerate() {
        let row = &mut values[r * stride..r * stride + width];
        // Straight into the product where the panel is whole: through an array, every tile
        // copied once more, measured slower.
        match <&mut [f32; TILE_COLUMNS]>::try_from(&mut *row) {
            Ok(row) => store(row, left, right),
            Err(_) => {
                let mut whole = [0.0; TILE_COLUMNS];
                store(&mut whole, left, right);
                row.copy_from_slice(&whole[..width]);
            }
        }
    }
}

/// `left` and `right` into the 8 floats of `to`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn store(
    to: &mut [f32; TILE_COLUMNS],
    left: core::arch::wasm32::v128,
    right: core::arch::wasm32::v128,
) {
    use core::arch::wasm32::{v128, v128_store};
    // SAFETY: `to` holds 8 floats, two v128; wasm stores need no alignment.
    unsafe {
        v128_store(to.as_mut_ptr().cast::<v128>(), left);
        v128_store(to.as_mut_ptr().add(4).cast::<v128>(), right);
    }
}

/// Writes the sums of `ROWS` rows of `lhs` with one panel, one value at a time: the arithmetic of
/// the simd128 tile, in the same order.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn tile<const ROWS: usize>(lhs_rows: &[f32], panel: &[f32], out: Destination) {
    let depth = panel.len() / TILE_COLUMNS;
    let mut sums = [[0.0f32; TILE_COLUMNS]; ROWS];
    for (k, columns) in panel.chunks_exact(TILE_COLUMNS).enumerate() {
        for (r, sums) in sums.iter_mut().enumerate() {
            let value = lhs_rows[r * depth + k];
            for (sum, column) in sums.iter_mut().zip(columns) {
                *sum += value * column;
            }
        }
    }
    for (r, sums) in sums.iter().enumerate() {
        let at = r * out.stride;
        out.values[at..at + out.width].copy_from_slice(&sums[..out.width]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The product by its definition, each sum in order of depth.
    fn by_definition(lhs: &[f32], rhs: &[f32], [rows, depth, columns]: [usize; 3]) -> Vec<f32> {
        let mut product = vec![0.0f32; rows * columns];
        for i in 0..rows {
            for j in 0..columns {
                product[i * columns + j] = (0..depth).fold(0.0, |sum, k| {
                    sum + lhs[i * depth + k] * rhs[k * columns + j]
                });
            }
        }
        product
    }

    /// Values in [-1, 1) that are not round, so that any change of order would show.
    fn values(count: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_the_definition_bit_for_bit_at_every_edge() {
        // Rows around the 4-row tile, columns around the 8-column panel and the 64-column block.
        for rows in [1, 3, 4, 5, 9] {
            for columns in [1, 7, 8, 9, 64, 70] {
                for depth in [1, 3, 64] {
                    let sizes = [rows, depth, columns];
                    let lhs = values(rows * depth, 1);
                    let rhs = values(depth * columns, 2);
                    assert_eq!(
                        multiply(&lhs, &rhs, sizes),
                        by_definition(&lhs, &rhs, sizes),
                        "{sizes:?}"
                    );
                }
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_decoders_upsampling_shape_matches_the_definition() {
        let sizes = [16 * 49 + 1, 64, 512];
        let lhs = values(sizes[0] * sizes[1], 3);
        let rhs = values(sizes[1] * sizes[2], 4);
        assert_eq!(
            multiply(&lhs, &rhs, sizes),
            by_definition(&lhs, &rhs, sizes)
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn empty_sizes_give_zeros_or_nothing() {
        assert_eq!(multiply(&[], &[], [0, 3, 0]), Vec::<f32>::new());
        assert_eq!(multiply(&[], &[], [2, 0, 3]), vec![0.0; 6]);
        assert_eq!(multiply(&[], &[0.5; 3], [0, 1, 3]), Vec::<f32>::new());
    }

    #[test]
    #[should_panic(expected = "lhs is not [rows, depth]")]
    fn a_short_lhs_is_refused() {
        multiply(&[1.0; 5], &[1.0; 6], [2, 3, 2]);
    }
}
