//! Which device runs the models.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;
use spotifyart_core::{Error, Result};

/// A device request: `auto` picks CUDA, then Metal, then the CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The best device this build and machine have.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// NVIDIA GPU `n` (build with `--features cuda`).
    Cuda(usize),
    /// Apple GPU `n` (build with `--features metal`).
    Metal(usize),
}

impl DeviceChoice {
    /// Opens the device, with a message saying which feature a build lacks.
    pub fn device(self) -> Result<Device> {
        let fail = |what: &str, feature: &str, e: candle_core::Error| {
            Error::model(format!(
                "cannot open {what}: {e} (this needs a build with `--features {feature}` and the device present)"
            ))
        };
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Cuda(n) => {
                Device::new_cuda(n).map_err(|e| fail(&format!("CUDA device {n}"), "cuda", e))
            }
            Self::Metal(n) => {
                Device::new_metal(n).map_err(|e| fail(&format!("Metal device {n}"), "metal", e))
            }
            Self::Auto => {
                if candle_core::utils::cuda_is_available()
                    && let Ok(d) = Device::new_cuda(0)
                {
                    return Ok(d);
                }
                if candle_core::utils::metal_is_available()
                    && let Ok(d) = Device::new_metal(0)
                {
                    return Ok(d);
                }
                Ok(Device::Cpu)
            }
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal(n) => write!(f, "metal:{n}"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let (kind, n) = match s.split_once(':') {
            Some((k, n)) => (
                k,
                n.parse::<usize>()
                    .map_err(|_| format!("bad device index in {s:?}"))?,
            ),
            None => (s, 0),
        };
        match kind {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(n)),
            "metal" => Ok(Self::Metal(n)),
            _ => Err(format!(
                "unknown device {s:?}; choose auto, cpu, cuda[:N] or metal[:N]"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "cuda:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(1)
        );
        assert_eq!(
            "metal".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Metal(0)
        );
        assert!("tpu".parse::<DeviceChoice>().is_err());
        assert_eq!(DeviceChoice::Cuda(2).to_string(), "cuda:2");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn missing_cuda_names_the_feature() {
        let e = DeviceChoice::Cuda(0).device().unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
    }
}
