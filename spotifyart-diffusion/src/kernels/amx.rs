//! Matrix products on Intel's AMX tile units (Sapphire Rapids and later):
//! operands rounded to bf16, products accumulated in f32. One
//! `tdpbf16ps` does 16×16×32 multiply-adds: on the 2-core Xeon this was
//! written on, a 320×2880×4096 product (a UNet convolution) ran at
//! 0.85–1.4 TFLOP/s, so the convolutions stop being bound by arithmetic
//! and packing and memory traffic are what is left.
//!
//! The operands are packed into the tiles' layouts first: the left one
//! as rows of 32 bf16 (`A`), the right one in pairs of rows interleaved
//! (`B`, the "VNNI" layout the instruction reads). A layer's weights are
//! packed once, on first use; activations per call.
//!
//! This is the one module with inline assembly: Rust has no stable AMX
//! intrinsics. Each `asm!` block names the tile registers it uses; the
//! compiler never uses them itself, so tiles live across blocks.

use std::arch::asm;
use std::sync::OnceLock;

use rayon::prelude::*;

use super::memory::reuse;

/// Rows and k-values of one block: two tiles of 16 rows, 32 bf16 each.
const BLOCK: usize = 32;
/// bf16 values in one 16×32 tile.
const TILE: usize = 16 * 32;

/// Whether the CPU has AMX-BF16 and the kernel lets this process use the
/// tile registers (Linux asks each process to request them).
pub(crate) fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| cpu_has_amx() && request_tiles())
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_amx() -> bool {
    use std::arch::x86_64::__cpuid_count;
    if __cpuid_count(0, 0).eax < 7 {
        return false;
    }
    let leaf7 = __cpuid_count(7, 0);
    // EDX bit 22: AMX-BF16; bit 24: AMX-TILE.
    leaf7.edx & (1 << 22) != 0 && leaf7.edx & (1 << 24) != 0
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_amx() -> bool {
    false
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_tiles() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: a plain system call with integer arguments.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    r == 0
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn request_tiles() -> bool {
    false
}

/// An f32 matrix operand: element `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl View<'_> {
    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }

    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// f32 → bf16, rounding to nearest even (NaN payloads aside).
#[inline(always)]
fn bf16(x: f32) -> u16 {
    let b = x.to_bits();
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// A left operand (`rows × k`) in tile order: blocks of 32 rows, then
/// k in steps of 32, then the 32 rows of 32 values (zero-padded).
pub(crate) struct PackedA {
    data: Vec<u16>,
    rows: usize,
    k: usize,
}

/// A right operand (`k × cols`) in tile order: k in steps of 32, then
/// blocks of 32 columns, then two tiles of 16 columns, each 16 pairs of
/// k rows with the pair interleaved per column (zero-padded).
pub(crate) struct PackedB {
    data: Vec<u32>,
    k: usize,
    cols: usize,
}

impl PackedA {
    pub(crate) fn new(v: View) -> Self {
        assert!(v.fits(), "amx: left operand out of bounds");
        let (mb, ks) = (v.rows.div_ceil(BLOCK), v.cols.div_ceil(BLOCK));
        let mut data = super::memory::zeros(mb * ks * BLOCK * BLOCK);
        data.par_chunks_mut(ks * BLOCK * BLOCK)
            .enumerate()
            .for_each(|(bi, block)| {
                for r in 0..BLOCK.min(v.rows - bi * BLOCK) {
                    let i = bi * BLOCK + r;
                    if v.cs == 1 {
                        let row = &v.data[i * v.rs..i * v.rs + v.cols];
                        for (s, part) in row.chunks(BLOCK).enumerate() {
                            let out = &mut block[s * BLOCK * BLOCK + r * BLOCK..][..part.len()];
                            for (o, &x) in out.iter_mut().zip(part) {
                                *o = bf16(x);
                            }
                        }
                    } else {
                        for kk in 0..v.cols {
                            block[(kk / BLOCK) * BLOCK * BLOCK + r * BLOCK + kk % BLOCK] =
                                bf16(v.at(i, kk));
                        }
                    }
                }
            });
        Self {
            data,
            rows: v.rows,
            k: v.cols,
        }
    }
}

impl PackedB {
    /// Packs `v` into `buf`'s memory.
    pub(crate) fn pack(v: View, buf: Vec<u32>) -> Self {
        assert!(v.fits(), "amx: right operand out of bounds");
        let (nb, ks) = (v.cols.div_ceil(BLOCK), v.rows.div_ceil(BLOCK));
        let mut data = reuse(buf, nb * ks * BLOCK * BLOCK / 2);
        // One task per step of 32 k rows, across every column block; each
        // u32 is one column's pair of k rows. Every value is written,
        // padding included (the buffer holds the last call's values).
        data.par_chunks_mut(nb * BLOCK * BLOCK / 2)
            .enumerate()
            .for_each(|(step, out)| {
                for pair in 0..BLOCK / 2 {
                    let k0 = step * BLOCK + pair * 2;
                    if k0 >= v.rows {
                        zero_pair(out, pair, 0);
                        continue;
                    }
                    zero_pair(out, pair, v.cols);
                    let second = k0 + 1 < v.rows;
                    if v.cs == 1 {
                        // Contiguous rows: 16 pairs per tile row.
                        let r0 = &v.data[k0 * v.rs..k0 * v.rs + v.cols];
                        let r1 = if second {
                            &v.data[(k0 + 1) * v.rs..(k0 + 1) * v.rs + v.cols]
                        } else {
                            r0
                        };
                        let keep = if second { u32::MAX } else { 0xffff };
                        for (half, (p0, p1)) in r0.chunks(16).zip(r1.chunks(16)).enumerate() {
                            let at = half * TILE / 2 + pair * 16;
                            for ((o, &x0), &x1) in out[at..at + p0.len()].iter_mut().zip(p0).zip(p1)
                            {
                                *o = (bf16(x0) as u32 | (bf16(x1) as u32) << 16) & keep;
                            }
                        }
                    } else if v.rs == 1 && second {
                        // Columns contiguous (a transposed operand): the
                        // pair is two adjacent values.
                        for j in 0..v.cols {
                            let p = &v.data[j * v.cs + k0..j * v.cs + k0 + 2];
                            out[(j / 16) * TILE / 2 + pair * 16 + j % 16] =
                                bf16(p[0]) as u32 | (bf16(p[1]) as u32) << 16;
                        }
                    } else {
                        for j in 0..v.cols {
                            let x1 = if second { bf16(v.at(k0 + 1, j)) } else { 0 };
                            out[(j / 16) * TILE / 2 + pair * 16 + j % 16] =
                                bf16(v.at(k0, j)) as u32 | (x1 as u32) << 16;
                        }
                    }
                }
            });
        Self {
            data,
            k: v.rows,
            cols: v.cols,
        }
    }

    /// The columns a convolution multiplies (see [`super::Im2Col`]),
    /// packed straight from one `(cin, h, w)` image for output rows
    /// `rows`, without the f32 columns in between: column `j` is output
    /// pixel `j` of the band, row `kk` is input channel, kernel row and
    /// column, as PyTorch orders conv weights.
    pub(crate) fn unfold(
        image: &[f32],
        (cin, h, w): (usize, usize, usize),
        conv: &super::Im2Col,
        buf: Vec<u32>,
    ) -> Self {
        let (k, s, pad) = (conv.kernel, conv.stride, conv.padding);
        let (_, ow) = conv.out_size(h, w);
        let rows = conv.rows.clone();
        assert!(image.len() == cin * h * w, "amx: image of the wrong size");
        let (kdim, n) = (cin * k * k, rows.len() * ow);
        let (nb, ks) = (n.div_ceil(BLOCK), kdim.div_ceil(BLOCK));
        let mut data = reuse(buf, nb * ks * BLOCK * BLOCK / 2);
        // Output row `oy` of kernel tap `kk`: the input row it reads,
        // shifted, zero outside the image.
        let fill = |kk: usize, oy: usize, row: &mut [f32]| {
            row.fill(0.0);
            if kk >= kdim {
                return;
            }
            let (ci, ky, kx) = (kk / (k * k), (kk / k) % k, kk % k);
            let iy = (oy * s + ky) as isize - pad as isize;
            if iy < 0 || iy >= h as isize {
                return;
            }
            let input = &image[(ci * h + iy as usize) * w..][..w];
            let lo = pad.saturating_sub(kx).div_ceil(s);
            let hi = ((w + pad).saturating_sub(kx)).div_ceil(s).min(ow);
            if lo >= hi {
                return;
            }
            let at = lo * s + kx - pad;
            if s == 1 {
                row[lo..hi].copy_from_slice(&input[at..at + hi - lo]);
            } else {
                for (o, x) in row[lo..hi].iter_mut().zip(input[at..].iter().step_by(s)) {
                    *o = *x;
                }
            }
        };
        data.par_chunks_mut(nb * BLOCK * BLOCK / 2)
            .enumerate()
            .for_each(|(step, out)| {
                let (mut r0, mut r1) = (vec![0f32; ow], vec![0f32; ow]);
                for pair in 0..BLOCK / 2 {
                    let k0 = step * BLOCK + pair * 2;
                    if k0 >= kdim {
                        zero_pair(out, pair, 0);
                        continue;
                    }
                    zero_pair(out, pair, n);
                    for (r, oy) in rows.clone().enumerate() {
                        fill(k0, oy, &mut r0);
                        fill(k0 + 1, oy, &mut r1);
                        if ow % 16 == 0 {
                            // Whole tile rows: 16 pairs side by side.
                            for (c, (p0, p1)) in r0.chunks(16).zip(r1.chunks(16)).enumerate() {
                                let at = (r * ow / 16 + c) * TILE / 2 + pair * 16;
                                for ((o, &x0), &x1) in out[at..at + 16].iter_mut().zip(p0).zip(p1) {
                                    *o = bf16(x0) as u32 | (bf16(x1) as u32) << 16;
                                }
                            }
                        } else {
                            for (ox, (&x0, &x1)) in r0.iter().zip(&r1).enumerate() {
                                let j = r * ow + ox;
                                out[(j / 16) * TILE / 2 + pair * 16 + j % 16] =
                                    bf16(x0) as u32 | (bf16(x1) as u32) << 16;
                            }
                        }
                    }
                }
            });
        Self {
            data,
            k: kdim,
            cols: n,
        }
    }

    /// The buffer, for the next [`PackedB::pack`].
    pub(crate) fn into_buffer(self) -> Vec<u32> {
        self.data
    }
}

/// Zeros pair row `pair` of one k step of a [`PackedB`] from column
/// `from` to the end of its last block (the padding a reused buffer
/// would otherwise hold stale values in).
fn zero_pair(out: &mut [u32], pair: usize, from: usize) {
    let cols = out.len() / 16;
    for j in from..cols {
        out[(j / 16) * TILE / 2 + pair * 16 + j % 16] = 0;
    }
}

/// Palette 1, eight tiles of 16 rows × 64 bytes: C in tmm0–3, A in
/// tmm4–5, B in tmm6–7.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

const CONFIG: TileConfig = TileConfig {
    palette: 1,
    start_row: 0,
    reserved: [0; 14],
    colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
    rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
};

/// `dst (rows × cols, row stride ldc) = [dst +] a · b`. Panics unless
/// [`available`] (callers check) and the shapes agree.
pub(crate) fn matmul(a: &PackedA, b: &PackedB, dst: &mut [f32], ldc: usize, accumulate: bool) {
    let (m, n) = check(a, b, dst, ldc, false);
    if m == 0 || n == 0 {
        return;
    }
    // Each thread owns a band of output rows (blocks of `a`).
    sweep(
        dst,
        ldc,
        m.div_ceil(BLOCK),
        n.div_ceil(BLOCK),
        a.k,
        |tiles, mb, nb, out, base_row| {
            let c = tiles.block(a, b, mb, nb);
            let (rows, cols) = (BLOCK.min(m - mb * BLOCK), BLOCK.min(n - nb * BLOCK));
            let base = base_row * ldc + nb * BLOCK;
            for r in 0..rows {
                let row = &mut out[base + r * ldc..][..cols];
                let src = &c[r * BLOCK..][..cols];
                if accumulate {
                    for (d, s) in row.iter_mut().zip(src) {
                        *d += s;
                    }
                } else {
                    row.copy_from_slice(src);
                }
            }
        },
    );
}

/// The schedule both products share: each thread owns a band of `owned`
/// blocks of one operand (whose output rows are its chunk of `dst`) and
/// sweeps them in chunks that stay in L2 while every one of the `others`
/// blocks of the other operand passes. `f(tiles, own, other, out,
/// base_row)` computes and writes block (own, other); `base_row` is
/// where the owned block's rows start in `out`.
fn sweep(
    dst: &mut [f32],
    ldc: usize,
    owned: usize,
    others: usize,
    k: usize,
    f: impl Fn(&Tiles, usize, usize, &mut [f32], usize) + Sync,
) {
    let group = owned.div_ceil(rayon::current_num_threads()).max(1);
    let chunk = l2_blocks(k.div_ceil(BLOCK));
    dst.par_chunks_mut(group * BLOCK * ldc)
        .take(owned.div_ceil(group))
        .enumerate()
        .for_each(|(g, out)| {
            let tiles = Tiles::new();
            let own = g * group..((g + 1) * group).min(owned);
            for first in own.clone().step_by(chunk) {
                for other in 0..others {
                    for mine in first..(first + chunk).min(own.end) {
                        f(&tiles, mine, other, out, (mine - own.start) * BLOCK);
                    }
                }
            }
        });
}

/// Blocks of one operand (each `ks` steps of 2 KiB) that fit in about
/// 1 MiB of L2 alongside the other operand's block.
fn l2_blocks(ks: usize) -> usize {
    (512 / ks.max(1)).max(1)
}

/// [`matmul`] with the product written transposed: `dst (cols × rows,
/// row stride ldc) = [dst +] (a · b)ᵀ`. A linear layer `x · Wᵀ` is
/// `(W · xᵀ)ᵀ`: the weights stay the left operand, packed as they are
/// stored, and the activations' pairs of features are adjacent in memory.
pub(crate) fn matmul_t(a: &PackedA, b: &PackedB, dst: &mut [f32], ldc: usize, accumulate: bool) {
    let (m, n) = check(a, b, dst, ldc, true);
    if m == 0 || n == 0 {
        return;
    }
    // Each thread owns a band of the product's columns (blocks of `b`).
    sweep(
        dst,
        ldc,
        n.div_ceil(BLOCK),
        m.div_ceil(BLOCK),
        a.k,
        |tiles, nb, mb, out, base_row| {
            let c = tiles.block(a, b, mb, nb);
            let (rows, cols) = (BLOCK.min(m - mb * BLOCK), BLOCK.min(n - nb * BLOCK));
            let base = base_row * ldc + mb * BLOCK;
            for j in 0..cols {
                let row = &mut out[base + j * ldc..][..rows];
                for (r, d) in row.iter_mut().enumerate() {
                    let v = c[r * BLOCK + j];
                    *d = if accumulate { *d + v } else { v };
                }
            }
        },
    );
}

/// The product's size, after checking the operands and the output.
fn check(a: &PackedA, b: &PackedB, dst: &[f32], ldc: usize, transposed: bool) -> (usize, usize) {
    assert!(available(), "amx: not available");
    assert_eq!(a.k, b.k, "amx: inner dimensions differ");
    let (m, n) = (a.rows, b.cols);
    let ks = a.k.div_ceil(BLOCK);
    assert!(
        a.data.len() == m.div_ceil(BLOCK) * ks * BLOCK * BLOCK
            && b.data.len() * 2 == n.div_ceil(BLOCK) * ks * BLOCK * BLOCK,
        "amx: packed operands of the wrong size"
    );
    let (rows, cols) = if transposed { (n, m) } else { (m, n) };
    assert!(
        rows == 0 || cols == 0 || ((rows - 1) * ldc + cols <= dst.len() && cols <= ldc),
        "amx: output out of bounds"
    );
    (m, n)
}

/// The tile registers, configured for this thread until dropped.
struct Tiles(());

impl Tiles {
    fn new() -> Self {
        // SAFETY: CONFIG is a valid palette-1 configuration; the tile
        // registers are per thread, so each task configures its own.
        #[allow(unsafe_code)]
        unsafe {
            asm!("ldtilecfg [{0}]", in(reg) &CONFIG, options(nostack, readonly));
        }
        Self(())
    }

    /// One 32 × 32 block of `a · b`: rows `32·mb…`, columns `32·nb…`.
    fn block(&self, a: &PackedA, b: &PackedB, mb: usize, nb: usize) -> [f32; BLOCK * BLOCK] {
        let ks = a.k.div_ceil(BLOCK);
        let nbs = b.cols.div_ceil(BLOCK);
        let a = &a.data[mb * ks * BLOCK * BLOCK..(mb + 1) * ks * BLOCK * BLOCK];
        let mut c = [0f32; BLOCK * BLOCK];
        // SAFETY: each tileloadd reads 16 rows of 64 bytes at a stride of
        // 64 from inside `a` (ks whole BLOCK × BLOCK blocks, sliced above)
        // or `b.data` (ks · nbs blocks, checked by `check`); the stores
        // write 16 rows of 64 bytes at a stride of 128 bytes into `c`,
        // 32 × 32 f32.
        #[allow(unsafe_code)]
        unsafe {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem)
            );
            for s in 0..ks {
                let ap = a.as_ptr().add(s * BLOCK * BLOCK);
                let bp = b.data.as_ptr().add((s * nbs + nb) * BLOCK * BLOCK / 2);
                asm!(
                    "tileloadd tmm4, [{a} + {s64}]",
                    "tileloadd tmm5, [{a2} + {s64}]",
                    "tileloadd tmm6, [{b} + {s64}]",
                    "tileloadd tmm7, [{b2} + {s64}]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    a = in(reg) ap,
                    a2 = in(reg) ap.add(TILE),
                    b = in(reg) bp,
                    b2 = in(reg) bp.add(TILE / 2),
                    s64 = in(reg) 64usize,
                    options(nostack, readonly)
                );
            }
            let cp = c.as_mut_ptr();
            asm!(
                "tilestored [{c0} + {s128}], tmm0",
                "tilestored [{c1} + {s128}], tmm1",
                "tilestored [{c2} + {s128}], tmm2",
                "tilestored [{c3} + {s128}], tmm3",
                c0 = in(reg) cp,
                c1 = in(reg) cp.add(16),
                c2 = in(reg) cp.add(16 * BLOCK),
                c3 = in(reg) cp.add(16 * BLOCK + 16),
                s128 = in(reg) BLOCK * 4,
                options(nostack)
            );
        }
        c
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: returns this thread's tile registers; no operands.
        #[allow(unsafe_code)]
        unsafe {
            asm!("tilerelease", options(nostack, nomem));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s >> 8) as f32 / (1 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn products_match_f32_within_bf16_rounding() {
        if !available() {
            eprintln!("no AMX on this CPU: nothing to test");
            return;
        }
        for (m, n, k) in [
            (1, 1, 1),
            (5, 7, 3),
            (32, 32, 32),
            (33, 70, 65),
            (100, 40, 300),
        ] {
            let a = random(m * k, 1);
            let b = random(k * n, 2);
            let bias = random(m * n, 3);
            // A row-major, B given transposed (as a linear layer's weights).
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            for (b_view, label) in [
                (
                    View {
                        data: &b,
                        rows: k,
                        cols: n,
                        rs: n,
                        cs: 1,
                    },
                    "B",
                ),
                (
                    View {
                        data: &bt,
                        rows: k,
                        cols: n,
                        rs: 1,
                        cs: k,
                    },
                    "Bᵀ",
                ),
            ] {
                let pa = PackedA::new(View {
                    data: &a,
                    rows: m,
                    cols: k,
                    rs: k,
                    cs: 1,
                });
                // Packed into a buffer full of stale values, as reused ones are.
                let pb = PackedB::pack(b_view, vec![0x7f80_7f80; 4 * k * n + 4096]);
                let mut dst = bias.clone();
                matmul(&pa, &pb, &mut dst, n, true);
                // Transposed: bias and result as (n × m).
                let mut dst_t: Vec<f32> = (0..n * m).map(|i| bias[(i % m) * n + i / m]).collect();
                matmul_t(&pa, &pb, &mut dst_t, m, true);
                for i in 0..m {
                    for j in 0..n {
                        let exact: f64 = (0..k)
                            .map(|kk| a[i * k + kk] as f64 * b[kk * n + j] as f64)
                            .sum::<f64>()
                            + bias[i * n + j] as f64;
                        // bf16 keeps 8 bits: |error| ≲ 2⁻⁸ · Σ|a·b|.
                        let scale: f64 = (0..k)
                            .map(|kk| (a[i * k + kk] * b[kk * n + j]).abs() as f64)
                            .sum();
                        for (got, how) in [(dst[i * n + j], "C"), (dst_t[j * m + i], "Cᵀ")] {
                            let err = (got as f64 - exact).abs();
                            assert!(
                                err <= scale / 128.0 + 1e-6,
                                "{label} {how} {m}×{n}×{k} at {i},{j}: {err}"
                            );
                        }
                    }
                }
            }
        }
    }
}
