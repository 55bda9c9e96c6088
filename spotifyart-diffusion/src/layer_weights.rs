//! What the model constructors read their weights through: candle-nn's
//! `VarBuilder` (names, prefixes, shape checks, test initialisers) plus,
//! when the weights come from a mapped file, that file, so the large
//! matrices are used in place (`LayerWeights::matrix`).

use std::sync::Arc;

use candle_core::{DType, Device, Result, Shape};
use candle_nn::{Init, VarBuilder};

use crate::kernels::Matrix;
use crate::tensor_file::{Backend, TensorFile};

/// A `VarBuilder`, and the mapped file behind it if there is one. Any
/// `VarBuilder` converts into one (tests build models from VarMaps).
#[derive(Clone)]
pub struct LayerWeights<'a> {
    vb: VarBuilder<'a>,
    file: Option<Arc<TensorFile>>,
    /// Matrices multiply in bf16 on AMX ([`crate::Precision`]).
    bf16: bool,
}

impl<'a> From<VarBuilder<'a>> for LayerWeights<'a> {
    fn from(vb: VarBuilder<'a>) -> Self {
        Self {
            vb,
            file: None,
            bf16: false,
        }
    }
}

impl LayerWeights<'static> {
    /// The weights in the safetensors file at `path`, mapped.
    pub fn open(
        path: &std::path::Path,
        dtype: DType,
        device: &Device,
    ) -> spotifyart_core::Result<Self> {
        Ok(Self::mapped(TensorFile::open(path)?, dtype, device))
    }

    /// Weights from a mapped file, converted to `dtype` on `device` where
    /// they are copied.
    pub(crate) fn mapped(file: Arc<TensorFile>, dtype: DType, device: &Device) -> Self {
        Self {
            vb: VarBuilder::from_backend(Box::new(Backend(file.clone())), dtype, device.clone()),
            file: Some(file),
            bf16: false,
        }
    }
}

impl<'a> LayerWeights<'a> {
    /// The weights under `name`.
    pub fn pp(&self, name: impl ToString) -> Self {
        Self {
            vb: self.vb.pp(name),
            file: self.file.clone(),
            bf16: self.bf16,
        }
    }

    /// Matrices multiply in bf16 on AMX when `on` and the CPU has it
    /// (see [`crate::Precision`]).
    pub fn with_bf16(mut self, on: bool) -> Self {
        self.bf16 = on && crate::kernels::amx::available();
        self
    }

    /// Whether matrices multiply in bf16.
    pub(crate) fn bf16(&self) -> bool {
        self.bf16
    }

    /// The candle-nn builder, for candle-nn's layer constructors.
    pub fn vb(&self) -> VarBuilder<'a> {
        self.vb.clone()
    }

    /// Whether `name` is present (always false for initialisers).
    pub fn contains_tensor(&self, name: &str) -> bool {
        self.vb.contains_tensor(name)
    }

    /// Where the layers run.
    pub fn device(&self) -> &Device {
        self.vb.device()
    }

    /// The dtype the layers run in.
    pub fn dtype(&self) -> DType {
        self.vb.dtype()
    }

    /// A tensor, made with `hints` when the builder initialises weights.
    pub fn get_with_hints(
        &self,
        shape: impl Into<Shape>,
        name: &str,
        hints: Init,
    ) -> Result<candle_core::Tensor> {
        self.vb.get_with_hints(shape, name, hints)
    }

    /// A tensor of `shape`.
    pub fn get(&self, shape: impl Into<Shape>, name: &str) -> Result<candle_core::Tensor> {
        self.vb.get(shape, name)
    }

    /// The weight matrix `name` of `shape` (flattened after its first
    /// dimension) for the CPU kernels: in place when the file holds it as
    /// f32, else a copy of what the builder gives (made with `hints`).
    pub(crate) fn matrix(&self, name: &str, shape: &[usize], hints: Init) -> Result<Matrix> {
        if let Some(file) = &self.file {
            let prefix = self.vb.prefix();
            let full = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            if self.dtype() == DType::F32
                && self.device().is_cpu()
                && let Some(range) = file.f32_range(&full, shape)
            {
                return Ok(Matrix::mapped(file.clone(), range, shape[0]).with_bf16(self.bf16));
            }
        }
        Ok(Matrix::from_tensor(&self.vb.get_with_hints(shape, name, hints)?)?.with_bf16(self.bf16))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::Tensor;

    use super::*;

    #[test]
    fn f32_matrices_are_read_in_place_and_others_copied() {
        let dir = tempfile::tempdir().unwrap();
        let w = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((3, 4))
            .unwrap();
        let all: HashMap<String, Tensor> = [
            ("block.f32.weight".to_string(), w.clone()),
            (
                "block.f16.weight".to_string(),
                w.to_dtype(DType::F16).unwrap(),
            ),
        ]
        .into_iter()
        .collect();
        let path = dir.path().join("w.safetensors");
        candle_core::safetensors::save(&all, &path).unwrap();
        let file = TensorFile::open(&path).unwrap();
        let cpu = &Device::Cpu;
        let hints = Init::Const(0.);

        let vb = LayerWeights::mapped(file.clone(), DType::F32, cpu).pp("block");
        let m = vb.pp("f32").matrix("weight", &[3, 4], hints).unwrap();
        assert!(m.is_mapped());
        assert_eq!((m.rows(), m.cols(), m.values()[7]), (3, 4, 7.0));
        let m = vb.pp("f16").matrix("weight", &[3, 4], hints).unwrap();
        assert!(!m.is_mapped());
        assert_eq!(m.values()[7], 7.0);
        // A shape that does not fit is candle's shape error, not a misread.
        let e = vb.pp("f32").matrix("weight", &[4, 3], hints).unwrap_err();
        assert!(e.to_string().contains("shape mismatch"), "{e}");
        // Other dtypes than f32 copy.
        let vb = LayerWeights::mapped(file, DType::F16, cpu).pp("block");
        assert!(
            !vb.pp("f32")
                .matrix("weight", &[3, 4], hints)
                .unwrap()
                .is_mapped()
        );
    }
}
