use std::path::Path;

use anyhow::Result;

pub fn run(root: &Path, id: &str) -> Result<u8> {
    let (record, status) = nook::container::load(root, id).map_err(super::chain)?;
    let json = serde_json::to_string_pretty(&record.oci_state(status))?;
    println!("{json}");
    Ok(0)
}
