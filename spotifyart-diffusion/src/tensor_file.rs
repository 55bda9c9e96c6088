//! A safetensors file mapped into memory. Weights whose dtype and layout
//! already fit the run (f32 on the CPU) are used where they lie: the
//! layers multiply the mapped bytes ([`Matrix`](crate::kernels::Matrix)),
//! so loading copies nothing, touches no fresh memory and adds no second
//! copy of a weight at the peak (the page cache holds it once). Everything
//! else (biases, norms, f16 files, GPUs) is copied out per tensor when a
//! layer asks for it. The header is parsed and checked by the
//! `safetensors` crate.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::Init;
use candle_nn::var_builder::SimpleBackend;
use half::{bf16, f16};
use memmap2::{Advice, Mmap};
use rayon::prelude::*;
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensors};
use spotifyart_core::{Error, Result};

/// One mapped safetensors file.
pub(crate) struct TensorFile {
    path: PathBuf,
    map: Mmap,
    /// Where tensor data starts (after the length and the header).
    base: usize,
    tensors: HashMap<String, TensorInfo>,
}

impl std::fmt::Debug for TensorFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TensorFile")
            .field("path", &self.path)
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl TensorFile {
    /// Maps `path` and checks its header against its length.
    pub(crate) fn open(path: &Path) -> Result<Arc<Self>> {
        let bad = |why: String| Error::model(format!("cannot read {}: {why}", path.display()));
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only and private to this process; like
        // every reader that maps weights (candle, safetensors, PyTorch),
        // it relies on nobody truncating or rewriting a model file while
        // a model runs from it. Model files are written once, before use.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        // Start reading ahead when the file is not in the page cache yet;
        // a hint only, so a kernel that refuses it changes nothing.
        let _ = map.advise(Advice::WillNeed);
        let (n, meta): (usize, Metadata) = SafeTensors::read_metadata(&map).map_err(|e| {
            bad(match e {
                safetensors::SafeTensorError::MetadataIncompleteBuffer => {
                    "its tensor data is truncated or padded".into()
                }
                safetensors::SafeTensorError::HeaderTooSmall
                | safetensors::SafeTensorError::InvalidHeaderLength
                | safetensors::SafeTensorError::HeaderTooLarge => {
                    "not a safetensors file (its header length is wrong)".into()
                }
                other => format!("not a safetensors file ({other})"),
            })
        })?;
        let tensors = meta
            .tensors()
            .into_iter()
            .map(|(name, info)| (name, info.clone()))
            .collect();
        Ok(Arc::new(Self {
            path: path.to_path_buf(),
            map,
            base: 8 + n,
            tensors,
        }))
    }

    /// Whether the file holds `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    fn info(&self, name: &str) -> candle_core::Result<&TensorInfo> {
        self.tensors.get(name).ok_or_else(|| {
            candle_core::Error::Msg(format!(
                "{} has no tensor {name}",
                self.path.file_name().unwrap_or_default().to_string_lossy()
            ))
        })
    }

    fn bytes(&self, info: &TensorInfo) -> &[u8] {
        let (start, end) = info.data_offsets;
        &self.map[self.base + start..self.base + end]
    }

    /// The byte range of `name`'s values when they are f32 values of
    /// exactly `shape` that can be read in place (4-byte aligned), for
    /// [`TensorFile::f32s`].
    pub(crate) fn f32_range(&self, name: &str, shape: &[usize]) -> Option<Range<usize>> {
        let info = self.tensors.get(name)?;
        let (start, end) = info.data_offsets;
        let range = self.base + start..self.base + end;
        (info.dtype == Dtype::F32
            && info.shape == shape
            && bytemuck::try_cast_slice::<u8, f32>(&self.map[range.clone()]).is_ok())
        .then_some(range)
    }

    /// The f32 values in `range`, as [`TensorFile::f32_range`] returned it.
    pub(crate) fn f32s(&self, range: Range<usize>) -> &[f32] {
        bytemuck::cast_slice(&self.map[range])
    }

    /// A copy of `name` as a tensor of `dtype` on `device`.
    pub(crate) fn tensor(
        &self,
        name: &str,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let info = self.info(name)?;
        let bytes = self.bytes(info);
        let shape = info.shape.clone();
        let cpu = &Device::Cpu;
        let t = match info.dtype {
            Dtype::F32 => {
                Tensor::from_vec(bytemuck::pod_collect_to_vec::<u8, f32>(bytes), shape, cpu)?
            }
            Dtype::F16 | Dtype::BF16 if dtype == DType::F32 => {
                // Straight to f32, in parallel: a real f16 UNet is 860M values.
                let bits = bytemuck::pod_collect_to_vec::<u8, u16>(bytes);
                let wide: Vec<f32> = if info.dtype == Dtype::F16 {
                    bits.par_iter()
                        .map(|&b| f16::from_bits(b).to_f32())
                        .collect()
                } else {
                    bits.par_iter()
                        .map(|&b| bf16::from_bits(b).to_f32())
                        .collect()
                };
                Tensor::from_vec(wide, shape, cpu)?
            }
            Dtype::F16 => {
                let bits = bytemuck::pod_collect_to_vec::<u8, u16>(bytes);
                Tensor::from_vec(
                    bits.into_iter().map(f16::from_bits).collect::<Vec<_>>(),
                    shape,
                    cpu,
                )?
            }
            Dtype::BF16 => {
                let bits = bytemuck::pod_collect_to_vec::<u8, u16>(bytes);
                Tensor::from_vec(
                    bits.into_iter().map(bf16::from_bits).collect::<Vec<_>>(),
                    shape,
                    cpu,
                )?
            }
            other => {
                let stored = match other {
                    Dtype::U8 => DType::U8,
                    Dtype::U32 => DType::U32,
                    Dtype::I64 => DType::I64,
                    Dtype::F64 => DType::F64,
                    _ => candle_core::bail!("{name}: values of type {other:?} are not supported"),
                };
                Tensor::from_raw_buffer(bytes, stored, &shape, cpu)?
            }
        };
        t.to_dtype(dtype)?.to_device(device)
    }
}

/// The file as a candle-nn weight source (copies per tensor).
pub(crate) struct Backend(pub Arc<TensorFile>);

impl SimpleBackend for Backend {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let info = self.0.info(name)?;
        if info.shape != s.dims() {
            candle_core::bail!(
                "shape mismatch for {name}: the model expects {s:?}, the file holds {:?}",
                info.shape
            )
        }
        self.0.tensor(name, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.0.tensor(name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_candle_writes_and_refuses_damaged_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let a = Tensor::arange(0f32, 24.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 3, 4))
            .unwrap();
        let b = a.to_dtype(DType::F16).unwrap();
        let c = a.to_dtype(DType::BF16).unwrap();
        let ids = Tensor::arange(0i64, 5, &Device::Cpu).unwrap();
        let all: HashMap<String, Tensor> = [("a", a), ("b", b), ("c", c), ("ids", ids)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        candle_core::safetensors::save(&all, &path).unwrap();
        let file = TensorFile::open(&path).unwrap();
        for (k, v) in &all {
            for dtype in [v.dtype(), DType::F32] {
                let got = file.tensor(k, dtype, &Device::Cpu).unwrap();
                assert_eq!(got.dtype(), dtype, "{k}");
                assert_eq!(got.dims(), v.dims(), "{k}");
                let diff = (got.to_dtype(DType::F64).unwrap() - v.to_dtype(DType::F64).unwrap())
                    .unwrap()
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap();
                assert_eq!(diff, 0.0, "{k}");
            }
        }
        // f32 values of the right shape are readable in place, others not.
        let range = file.f32_range("a", &[2, 3, 4]).unwrap();
        assert_eq!(file.f32s(range)[5], 5.0);
        assert!(file.f32_range("a", &[6, 4]).is_none());
        assert!(file.f32_range("b", &[2, 3, 4]).is_none());
        assert!(file.f32_range("missing", &[1]).is_none());
        let e = file
            .tensor("missing", DType::F32, &Device::Cpu)
            .unwrap_err();
        assert!(e.to_string().contains("has no tensor missing"), "{e}");
        drop(file);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = TensorFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(&path, b"{\"not\": \"safetensors\"}").unwrap();
        let e = TensorFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");
        std::fs::write(&path, b"").unwrap();
        let e = TensorFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");
        let e = TensorFile::open(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
