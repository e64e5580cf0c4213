use std::path::Path;

use anyhow::Result;

pub fn pause(root: &Path, id: &str) -> Result<u8> {
    nook::container::pause(root, id).map_err(super::chain)?;
    Ok(0)
}

pub fn resume(root: &Path, id: &str) -> Result<u8> {
    nook::container::resume(root, id).map_err(super::chain)?;
    Ok(0)
}
