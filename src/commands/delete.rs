use std::path::Path;

use anyhow::Result;

use crate::cli::DeleteArgs;

pub fn run(root: &Path, args: &DeleteArgs) -> Result<u8> {
    nook::container::delete(root, &args.id, args.force).map_err(super::chain)?;
    Ok(0)
}
