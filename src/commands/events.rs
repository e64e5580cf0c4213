use std::io::Write;
use std::path::Path;

use anyhow::Result;
use nook::cgroups::{stats::Stats, Cgroup};
use nook::container;
use serde::Serialize;

use crate::cli::EventsArgs;

/// One line of `events`, in runc's field order: `type` and `id` first, `data` only on stats.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Stats>,
}

/// `events`: with --stats one stats line; otherwise a stats line every --interval and an
/// "oom" line whenever the kernel OOM-killed a process in the container, until it stops.
pub fn run(root: &Path, args: &EventsArgs) -> Result<u8> {
    let interval =
        nook::interval::parse(&args.interval).map_err(|e| anyhow::anyhow!("--interval {e}"))?;
    let (cgroup, _) = container::live_cgroup(root, &args.id).map_err(super::chain)?;
    // The init's network namespace holds the interfaces the stats list.
    let (record, _) = container::load(root, &args.id).map_err(super::chain)?;
    let mut out = std::io::stdout();
    let stats_line = |cg: &Cgroup| -> Result<String> {
        let stats = container::stats(cg, &record).map_err(super::chain)?;
        let event = Event {
            kind: "stats",
            id: &args.id,
            data: Some(&stats),
        };
        Ok(serde_json::to_string(&event)?)
    };
    if args.stats {
        writeln!(out, "{}", stats_line(&cgroup)?)?;
        return Ok(0);
    }
    let oom = serde_json::to_string(&Event {
        kind: "oom",
        id: &args.id,
        data: None,
    })?;
    let mut ooms = cgroup.oom_kills();
    loop {
        // OOM first: an OOM kill of the init also ends the container, and must still show.
        let now = cgroup.oom_kills();
        if now > ooms {
            writeln!(out, "{oom}")?;
            ooms = now;
        }
        if container::live_cgroup(root, &args.id).is_err() {
            out.flush()?;
            return Ok(0); // the container stopped: the stream ends
        }
        writeln!(out, "{}", stats_line(&cgroup)?)?;
        out.flush()?;
        std::thread::sleep(interval);
    }
}
