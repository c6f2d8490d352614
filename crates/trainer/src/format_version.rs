//! The `format_version` of the JSON files the commands exchange (`run.json`, `eval.json`):
//! a file without one is version 1, and a file newer than this trainer is refused rather
//! than misread.

use std::path::Path;

use anyhow::{Result, bail};

/// The version of a file that does not say: serde's default for the field.
pub fn version_1() -> u32 {
    1
}

/// Refuses `found`, the version of the file at `path`, when it is newer than `known`.
pub fn check(path: &Path, found: u32, known: u32) -> Result<()> {
    if found > known {
        bail!("{} has format version {found}, newer than this trainer's {known}: update Woofcam", path.display());
    }
    Ok(())
}
