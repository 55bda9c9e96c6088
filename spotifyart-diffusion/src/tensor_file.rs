//! Reads a safetensors file straight into tensors. candle's own loader
//! reads the whole file into one buffer and then copies every tensor out
//! of it: two copies of a 3.4 GB UNet at the peak, and two passes over
//! memory. Here each tensor is read with `pread` into the vector that
//! becomes its storage (one pass, no second copy), several tensors at
//! once on rayon's threads, so loading from the page cache runs at memory
//! speed. The header is parsed and checked by the `safetensors` crate.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use half::{bf16, f16};
use rayon::prelude::*;
use safetensors::Dtype;
use safetensors::tensor::{Metadata, TensorInfo};
use spotifyart_core::{Error, Result};

/// Largest header read (the format's own limit is 100 MB).
const MAX_HEADER: u64 = 100 << 20;

/// Every tensor in the safetensors file at `path`, on `device`.
pub(crate) fn load(path: &Path, device: &Device) -> Result<HashMap<String, Tensor>> {
    let bad = |why: String| Error::model(format!("cannot read {}: {why}", path.display()));
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut size = [0u8; 8];
    file.read_exact_at(&mut size, 0)
        .map_err(|_| bad("not a safetensors file (shorter than its header)".into()))?;
    let n = u64::from_le_bytes(size);
    if n > MAX_HEADER || n + 8 > len {
        return Err(bad(format!(
            "not a safetensors file (header of {n} bytes in a file of {len})"
        )));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact_at(&mut header, 8)
        .map_err(|e| bad(e.to_string()))?;
    let meta: Metadata = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("its header is not valid: {e}")))?;
    let base = 8 + n;
    if base + meta.data_len() as u64 != len {
        return Err(bad(format!(
            "{} bytes of tensor data expected, {} present (truncated or padded)",
            meta.data_len(),
            len - base
        )));
    }
    let mut parts: Vec<(String, &TensorInfo)> = meta.tensors().into_iter().collect();
    // Largest first, so the threads finish together.
    parts.sort_by_key(|(_, info)| std::cmp::Reverse(info.data_offsets.1 - info.data_offsets.0));
    parts
        .into_par_iter()
        .map(|(name, info)| {
            let t = read_tensor(&file, base, info)
                .and_then(|t| t.to_device(device))
                .map_err(|e| bad(format!("tensor {name}: {e}")))?;
            Ok((name, t))
        })
        .collect()
}

fn read_tensor(file: &File, base: u64, info: &TensorInfo) -> candle_core::Result<Tensor> {
    let (start, end) = info.data_offsets;
    let numel: usize = info.shape.iter().product();
    let bytes = end - start;
    if numel * info.dtype.bitsize() != bytes * 8 {
        candle_core::bail!(
            "{bytes} bytes do not hold {numel} values of {:?}",
            info.dtype
        );
    }
    let at = base + start as u64;
    let shape = info.shape.clone();
    let cpu = &Device::Cpu;
    Ok(match info.dtype {
        Dtype::F32 => {
            let mut v = vec![0f32; numel];
            file.read_exact_at(bytemuck::cast_slice_mut(&mut v), at)?;
            Tensor::from_vec(v, shape, cpu)?
        }
        Dtype::F16 | Dtype::BF16 => {
            let mut v = vec![0u16; numel];
            file.read_exact_at(bytemuck::cast_slice_mut(&mut v), at)?;
            if info.dtype == Dtype::F16 {
                Tensor::from_vec(
                    v.into_iter().map(f16::from_bits).collect::<Vec<_>>(),
                    shape,
                    cpu,
                )?
            } else {
                Tensor::from_vec(
                    v.into_iter().map(bf16::from_bits).collect::<Vec<_>>(),
                    shape,
                    cpu,
                )?
            }
        }
        other => {
            let dtype = match other {
                Dtype::U8 => DType::U8,
                Dtype::U32 => DType::U32,
                Dtype::I64 => DType::I64,
                Dtype::F64 => DType::F64,
                _ => candle_core::bail!("values of type {other:?} are not supported"),
            };
            let mut raw = vec![0u8; bytes];
            file.read_exact_at(&mut raw, at)?;
            Tensor::from_raw_buffer(&raw, dtype, &shape, cpu)?
        }
    })
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
        let back = load(&path, &Device::Cpu).unwrap();
        assert_eq!(back.len(), 4);
        for (k, v) in &all {
            let got = &back[k];
            assert_eq!(got.dtype(), v.dtype(), "{k}");
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

        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = load(&path, &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(&path, b"{\"not\": \"safetensors\"}").unwrap();
        let e = load(&path, &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");
        let e = load(&dir.path().join("missing"), &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
