//! Matrix products against a layer's weights where they lie (a mapped
//! file or an owned vector; see [`Matrix`]): candle's matmul needs both
//! operands as tensors, which would mean a copy of every weight. Both ops
//! call the `gemm` crate, as candle's own CPU matmul does, with the
//! weights' strides as stored, and start the output from the bias so it
//! costs no extra pass.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use gemm::Parallelism;

use super::Matrix;
use super::{amx, contiguous, memory};

thread_local! {
    /// The packed activations of the last bf16 product on this thread:
    /// reused, so each call does not fault in fresh memory.
    static SCRATCH_B: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
}

/// `x · Wᵀ + b` over the last dimension of `x`: a linear layer.
pub(crate) struct Linear<'a> {
    pub weight: &'a Matrix,
    pub bias: Option<&'a [f32]>,
}

impl CustomOp1 for Linear<'_> {
    fn name(&self) -> &'static str {
        "spotifyart-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(storage, layout, self.name())?;
        let (n, k) = (self.weight.rows(), self.weight.cols());
        let dims = layout.shape().dims();
        if dims.last() != Some(&k) {
            candle_core::bail!("linear: input {dims:?} does not end in {k} features")
        }
        let m = x.len() / k.max(1);
        let mut dst = start(m, n, self.bias)?;
        if self.weight.bf16() {
            // (W · xᵀ)ᵀ: the activations' features pair up in place.
            let view = amx::View {
                data: x,
                rows: k,
                cols: m,
                rs: 1,
                cs: k,
            };
            let x = amx::PackedB::pack(view, SCRATCH_B.take());
            amx::matmul_t(self.weight.left(), &x, &mut dst, n, self.bias.is_some());
            SCRATCH_B.set(x.into_buffer());
        } else {
            product(
                (m, n, k),
                &mut dst,
                self.bias.is_some(),
                View {
                    data: x,
                    rs: k,
                    cs: 1,
                },
                // Wᵀ: row i of the product's right operand is column i of W.
                View {
                    data: self.weight.values(),
                    rs: 1,
                    cs: k,
                },
            );
        }
        let mut out = dims.to_vec();
        *out.last_mut().expect("checked above") = n;
        Ok((CpuStorage::F32(dst), Shape::from(out)))
    }
}

/// `W · x_b + b` for each `(k, n)` matrix `x_b` of a `(batch, k, n)`
/// input: a convolution's weights times its (unfolded) input.
pub(crate) struct WeightTimes<'a> {
    pub weight: &'a Matrix,
    /// One value per output row.
    pub bias: Option<&'a [f32]>,
}

impl CustomOp1 for WeightTimes<'_> {
    fn name(&self) -> &'static str {
        "spotifyart-weight-times"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(storage, layout, self.name())?;
        let (b, k, n) = layout.shape().dims3()?;
        let m = self.weight.rows();
        if k != self.weight.cols() {
            candle_core::bail!(
                "{}: weights of {} columns against {k} input rows",
                self.name(),
                self.weight.cols()
            )
        }
        if let Some(bias) = self.bias
            && bias.len() != m
        {
            candle_core::bail!("{}: {} biases for {m} rows", self.name(), bias.len())
        }
        let mut dst = runs_of_bias(b * m * n, n, self.bias);
        let w = self.weight.values();
        for (dst, x) in dst.chunks_mut(m * n).zip(x.chunks(k * n)) {
            if self.weight.bf16() {
                let view = amx::View {
                    data: x,
                    rows: k,
                    cols: n,
                    rs: n,
                    cs: 1,
                };
                let x = amx::PackedB::pack(view, SCRATCH_B.take());
                amx::matmul(self.weight.left(), &x, dst, n, self.bias.is_some());
                SCRATCH_B.set(x.into_buffer());
                continue;
            }
            product(
                (m, n, k),
                dst,
                self.bias.is_some(),
                View {
                    data: w,
                    rs: k,
                    cs: 1,
                },
                View {
                    data: x,
                    rs: n,
                    cs: 1,
                },
            );
        }
        Ok((CpuStorage::F32(dst), Shape::from((b, m, n))))
    }
}

/// A convolution in bf16 on AMX (see [`amx`]): the unfolded columns are
/// packed straight from the input a band of output rows at a time and
/// multiplied into the output planes in place.
pub(crate) struct ConvAmx<'a> {
    /// `(c_out, c_in·k·k)` weights.
    pub weight: &'a Matrix,
    pub bias: Option<&'a [f32]>,
    pub kernel: usize,
    pub stride: usize,
}

/// Packed column values per band of [`ConvAmx`] (16 MiB of bf16).
const AMX_BAND: usize = 8 << 20;

impl CustomOp1 for ConvAmx<'_> {
    fn name(&self) -> &'static str {
        "spotifyart-conv-amx"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous(storage, layout, self.name())?;
        let (b, cin, h, w) = layout.shape().dims4()?;
        let (cout, k) = (self.weight.rows(), self.kernel);
        if self.weight.cols() != cin * k * k || self.bias.is_some_and(|v| v.len() != cout) {
            candle_core::bail!("{}: weights do not fit {cin} channels", self.name())
        }
        let whole = super::Im2Col {
            kernel: k,
            stride: self.stride,
            padding: k / 2,
            rows: 0..usize::MAX,
        };
        let (oh, ow) = whole.out_size(h, w);
        let plane = oh * ow;
        let mut dst = runs_of_bias(b * cout * plane, plane, self.bias);
        let band = (AMX_BAND / (cin * k * k * ow).max(1)).clamp(1, oh.max(1));
        for (image, out) in x.chunks(cin * h * w).zip(dst.chunks_mut(cout * plane)) {
            for start in (0..oh).step_by(band) {
                let conv = super::Im2Col {
                    rows: start..(start + band).min(oh),
                    ..whole.clone()
                };
                let cols = amx::PackedB::unfold(image, (cin, h, w), &conv, SCRATCH_B.take());
                amx::matmul(
                    self.weight.left(),
                    &cols,
                    &mut out[start * ow..],
                    plane,
                    self.bias.is_some(),
                );
                SCRATCH_B.set(cols.into_buffer());
            }
        }
        Ok((CpuStorage::F32(dst), Shape::from((b, cout, oh, ow))))
    }
}

/// `len` values in runs of `run`, run `i` starting as `bias[i % len]` (a
/// channel-major output: one bias per output row or plane), or zeros.
fn runs_of_bias(len: usize, run: usize, bias: Option<&[f32]>) -> Vec<f32> {
    let mut dst = memory::zeros::<f32>(len);
    if let Some(bias) = bias {
        for (r, &v) in dst.chunks_mut(run.max(1)).zip(bias.iter().cycle()) {
            r.fill(v);
        }
    }
    dst
}

/// An `m × n` output, each row starting as the bias (or zeros).
fn start(m: usize, n: usize, bias: Option<&[f32]>) -> Result<Vec<f32>> {
    match bias {
        None => Ok(memory::zeros::<f32>(m * n)),
        Some(b) if b.len() == n => {
            let mut dst = memory::zeros::<f32>(m * n);
            for row in dst.chunks_mut(n) {
                row.copy_from_slice(b);
            }
            Ok(dst)
        }
        Some(b) => candle_core::bail!("linear: {} biases for {n} outputs", b.len()),
    }
}

/// A matrix operand: element `(i, j)` is `data[i·rs + j·cs]`.
struct View<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl View<'_> {
    /// Whether every element of a `rows × cols` matrix lies in `data`.
    fn holds(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// `dst (m×n, row-major) = [dst +] lhs (m×k) · rhs (k×n)`.
fn product(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: View,
    rhs: View,
) {
    assert!(
        dst.len() == m * n && lhs.holds(m, k) && rhs.holds(k, n),
        "matrix product operands do not fit {m}×{k} · {k}×{n}"
    );
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the assertion above checked that every element gemm reads
    // (lhs, rhs) or writes (dst) through these strides is inside its
    // slice; dst is borrowed mutably, so it aliases neither input.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::kernels::tests::max_diff;

    #[test]
    fn products_match_candles_matmul() -> Result<()> {
        let dev = Device::Cpu;
        for (rows, k, n) in [(1, 7, 5), (3, 64, 33), (130, 96, 257)] {
            let w = Tensor::randn(0f32, 1., (n, k), &dev)?;
            let b = Tensor::randn(0f32, 1., n, &dev)?;
            let weight = Matrix::from_tensor(&w)?;
            let bias = b.to_vec1::<f32>()?;
            let x = Tensor::randn(0f32, 1., (2, rows, k), &dev)?;
            let want = x.broadcast_matmul(&w.t()?)?;
            let ours = x.apply_op1_no_bwd(&Linear {
                weight: &weight,
                bias: None,
            })?;
            assert!(max_diff(&ours, &want) < 1e-3, "linear {rows} {k} {n}");
            let ours = x.apply_op1_no_bwd(&Linear {
                weight: &weight,
                bias: Some(&bias),
            })?;
            assert!(max_diff(&ours, &want.broadcast_add(&b)?) < 1e-3);

            // (n, k) weights times (2, k, rows) inputs, bias per output row.
            let x = Tensor::randn(0f32, 1., (2, k, rows), &dev)?;
            let want = w.broadcast_matmul(&x)?;
            let ours = x.apply_op1_no_bwd(&WeightTimes {
                weight: &weight,
                bias: None,
            })?;
            assert!(max_diff(&ours, &want) < 1e-3, "weight-times {rows} {k} {n}");
            let ours = x.apply_op1_no_bwd(&WeightTimes {
                weight: &weight,
                bias: Some(&bias),
            })?;
            let want = want.broadcast_add(&b.reshape((n, 1))?)?;
            assert!(max_diff(&ours, &want) < 1e-3);
        }
        let weight = Matrix::from_tensor(&Tensor::zeros((4, 3), candle_core::DType::F32, &dev)?)?;
        let x = Tensor::zeros((2, 5), candle_core::DType::F32, &dev)?;
        let e = x
            .apply_op1_no_bwd(&Linear {
                weight: &weight,
                bias: None,
            })
            .unwrap_err();
        assert!(e.to_string().contains("does not end in 3"), "{e}");
        Ok(())
    }

    /// AMX convolutions (bf16) against candle's f32: shapes with padding,
    /// stride 2, widths off the tile size and an image in two bands.
    #[test]
    fn amx_convolution_matches_candles_within_bf16() -> Result<()> {
        if !amx::available() {
            eprintln!("no AMX on this CPU: nothing to test");
            return Ok(());
        }
        let dev = Device::Cpu;
        for (b, cin, cout, h, w, k, s) in [
            (2, 3, 5, 7, 9, 3, 1),
            (1, 16, 40, 12, 20, 3, 2),
            (1, 64, 8, 130, 128, 3, 1),
            (1, 5, 3, 6, 6, 1, 1),
        ] {
            let x = Tensor::rand(-1f32, 1., (b, cin, h, w), &dev)?;
            let wt = Tensor::rand(-1f32, 1., (cout, cin, k, k), &dev)?;
            let bias = Tensor::rand(-1f32, 1., cout, &dev)?;
            let want = x
                .conv2d(&wt, k / 2, s, 1, 1)?
                .broadcast_add(&bias.reshape((1, cout, 1, 1))?)?;
            let weight = Matrix::from_tensor(&wt)?.with_bf16(true);
            let bias = bias.to_vec1::<f32>()?;
            let ours = x.apply_op1_no_bwd(&ConvAmx {
                weight: &weight,
                bias: Some(&bias),
                kernel: k,
                stride: s,
            })?;
            assert_eq!(ours.dims(), want.dims());
            let scale = want.abs()?.max_all()?.to_scalar::<f32>()?;
            let d = max_diff(&ours, &want);
            assert!(
                d < 0.02 * scale + 1e-3,
                "{b}x{cin}→{cout} {h}x{w} k{k} s{s}: {d} of {scale}"
            );
        }
        Ok(())
    }
}
