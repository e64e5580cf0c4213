use std::path::Path;

use anyhow::Result;

pub fn run(root: &Path, id: &str) -> Result<u8> {
    nook::container::start(root, id).map_err(super::chain)?;
    Ok(0)
}
