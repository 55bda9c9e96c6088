//! Reading settings from the environment, shared by every adapter.

use std::path::PathBuf;

use crate::{Error, Result};

/// A setting or secret from the environment: `NAME`, or the contents of the
/// file named by `NAME_FILE` (Docker and Kubernetes secrets), trimmed.
/// Empty values count as unset; both set is an error, since which one wins
/// would be a guess.
pub fn env_secret(name: &str) -> Result<Option<String>> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let file_var = format!("{name}_FILE");
    match (var(name), var(&file_var)) {
        (Some(_), Some(_)) => Err(Error::invalid(format!(
            "both {name} and {file_var} are set; set only one"
        ))),
        (Some(v), None) => Ok(Some(v.trim().to_string())),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| Error::io(PathBuf::from(&path), e)),
        (None, None) => Ok(None),
    }
}
