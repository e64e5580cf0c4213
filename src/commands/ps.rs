use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cli::PsArgs;

pub fn run(root: &Path, args: &PsArgs) -> Result<u8> {
    let pids = nook::container::pids(root, &args.id).map_err(super::chain)?;
    if args.format == "json" {
        let raw: Vec<i32> = pids.iter().map(|p| p.as_raw()).collect();
        println!("{}", serde_json::to_string(&raw)?);
        return Ok(0);
    }
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args.clone()
    };
    let out = Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.iter().any(|q| q.as_raw() == p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
