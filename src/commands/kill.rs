use std::path::Path;

use anyhow::Result;

use crate::cli::KillArgs;

pub fn run(root: &Path, args: &KillArgs) -> Result<u8> {
    let signal = nook::signal::parse_or_probe(&args.signal)?;
    nook::container::kill(root, &args.id, signal, args.all).map_err(super::chain)?;
    Ok(0)
}
