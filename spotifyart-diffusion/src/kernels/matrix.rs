//! A layer's weight matrix for the CPU kernels: f32 values read in place
//! from a mapped weights file, or owned when they had to be converted
//! (f16 files) or were made in memory (test models, candle VarMaps).

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use candle_core::{DType, Result, Tensor};

use super::amx::{PackedA, View};
use crate::tensor_file::TensorFile;

/// `rows × cols` f32 values, row-major (PyTorch's layout of linear and
/// convolution weights, flattened after the first dimension).
pub(crate) struct Matrix {
    values: Values,
    rows: usize,
    cols: usize,
    /// Multiply in bf16 on AMX ([`crate::kernels::amx`]) with the values
    /// packed for it on first use, as the left operand (linear layers
    /// compute the transposed product, see `amx::matmul_t`).
    bf16: bool,
    left: OnceLock<PackedA>,
}

impl std::fmt::Debug for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matrix")
            .field("values", &self.values)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("bf16", &self.bf16)
            .finish()
    }
}

#[derive(Debug)]
enum Values {
    Mapped(Arc<TensorFile>, Range<usize>),
    Owned(Vec<f32>),
}

impl Matrix {
    /// The values at `range` of `file` (see [`TensorFile::f32_range`]).
    pub(crate) fn mapped(file: Arc<TensorFile>, range: Range<usize>, rows: usize) -> Self {
        let len = file.f32s(range.clone()).len();
        Self::new(Values::Mapped(file, range), rows, len / rows.max(1))
    }

    /// A copy of `t` in f32, flattened after its first dimension.
    pub(crate) fn from_tensor(t: &Tensor) -> Result<Self> {
        let rows = t.dim(0)?;
        let values = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let cols = values.len() / rows.max(1);
        Ok(Self::new(Values::Owned(values), rows, cols))
    }

    fn new(values: Values, rows: usize, cols: usize) -> Self {
        Self {
            values,
            rows,
            cols,
            bf16: false,
            left: OnceLock::new(),
        }
    }

    /// The same matrix, multiplied in bf16 on AMX when `on` (callers
    /// check [`crate::kernels::amx::available`]).
    pub(crate) fn with_bf16(mut self, on: bool) -> Self {
        self.bf16 = on;
        self
    }

    pub(crate) fn bf16(&self) -> bool {
        self.bf16
    }

    /// The matrix as AMX's left operand, packed on first use.
    pub(crate) fn left(&self) -> &PackedA {
        self.left.get_or_init(|| {
            PackedA::new(View {
                data: self.values(),
                rows: self.rows,
                cols: self.cols,
                rs: self.cols,
                cs: 1,
            })
        })
    }

    pub(crate) fn values(&self) -> &[f32] {
        match &self.values {
            Values::Mapped(file, range) => file.f32s(range.clone()),
            Values::Owned(v) => v,
        }
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Whether the values are read in place from a mapped file.
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self.values, Values::Mapped(..))
    }
}
