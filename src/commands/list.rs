use std::path::Path;

use anyhow::Result;

use crate::cli::ListArgs;

pub fn run(root: &Path, args: &ListArgs) -> Result<u8> {
    let containers = nook::container::list(root).map_err(super::chain)?;
    if args.quiet {
        for (record, _) in &containers {
            println!("{}", record.id);
        }
        return Ok(0);
    }
    if args.format == "json" {
        let docs: Vec<_> = containers.iter().map(|(r, s)| r.oci_state(*s)).collect();
        println!("{}", serde_json::to_string(&docs)?);
        return Ok(0);
    }
    let rows: Vec<[String; 6]> = containers
        .iter()
        .map(|(r, s)| {
            let pid = if *s == nook::state::Status::Stopped {
                0
            } else {
                r.pid
            };
            [
                r.id.clone(),
                pid.to_string(),
                s.to_string(),
                r.bundle.display().to_string(),
                r.created.clone(),
                if r.owner.is_empty() {
                    "root".into()
                } else {
                    r.owner.clone()
                },
            ]
        })
        .collect();
    print!(
        "{}",
        table(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], &rows)
    );
    Ok(0)
}

/// Columns padded to their widest cell plus one space, like Go's tabwriter in runc.
fn table(header: [&str; 6], rows: &[[String; 6]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$} ", w = widths[i]));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
