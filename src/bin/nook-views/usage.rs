//! What `top` and `monitor` show: one row per container under `--root`, built from the same
//! statistics `events --stats` prints (`nook::container::stats`), which each row carries whole
//! in `stats`, plus the few numbers a table shows (CPU %, memory and its limit, pids, block and
//! network bytes, uptime). Only those two verbs reach this module.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use nook::cgroups::stats::Stats;
use nook::cgroups::Cgroup;
use nook::state::{Record, Status};
use serde::Serialize;

/// A limit at or above this is "no limit": cgroup v1 reports an unlimited memory.limit_in_bytes
/// as the largest page-aligned i64 (9223372036854771712), v2 "max" reads as u64::MAX.
const UNLIMITED: u64 = 1 << 62;

/// The document `top --format json` prints and `monitor` serves at /api/containers
/// (`to_json`: the rows with their `stats`).
pub struct Snapshot {
    /// When the numbers were read, seconds since the Unix epoch.
    pub time: f64,
    pub containers: Vec<Row>,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Row {
    pub id: String,
    pub status: String,
    /// Host pid of the init; 0 once stopped.
    pub pid: i32,
    pub bundle: PathBuf,
    pub created: String,
    /// Seconds since create.
    pub uptime_seconds: Option<u64>,
    /// Share of one CPU since the previous sample (100 = one CPU busy); null on the first.
    pub cpu_percent: Option<f64>,
    /// `stats.cpu.usage.total`, nanoseconds.
    pub cpu_total_ns: Option<u64>,
    /// `stats.memory.usage.usage`, bytes.
    pub memory_usage: Option<u64>,
    /// `stats.memory.usage.limit`; null when unlimited.
    pub memory_limit: Option<u64>,
    /// `stats.pids.current`.
    pub pids: Option<u64>,
    /// `stats.pids.limit`; null when unlimited.
    pub pids_limit: Option<u64>,
    /// Sums of `stats.blkio.ioServiceBytesRecursive` entries by op.
    pub block_read_bytes: Option<u64>,
    pub block_write_bytes: Option<u64>,
    /// Sums over `stats.network_interfaces` other than `lo`; null without a readable netns.
    pub net_rx_bytes: Option<u64>,
    pub net_tx_bytes: Option<u64>,
    /// The `data` of `events --stats`, verbatim; null for a stopped container.
    #[serde(skip)]
    pub stats_json: Option<serde_json::Value>,
}

/// Reads rows; remembers each container's CPU time to turn the next reading into a percentage.
#[derive(Default)]
pub struct Sampler {
    previous: HashMap<String, (Instant, u64)>,
}

impl Sampler {
    pub fn sample(&mut self, root: &Path) -> Result<Snapshot> {
        let now = Instant::now();
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        // A missing state directory lists as no containers.
        let containers = nook::container::list(root).map_err(crate::chain)?;
        let mut rows = Vec::with_capacity(containers.len());
        let mut seen = HashMap::new();
        for (record, status) in containers {
            let stats = live_stats(&record, status);
            let mut row = row(&record, status, stats.as_ref(), time);
            if let Some(total) = row.cpu_total_ns {
                if let Some((then, before)) = self.previous.get(&record.id) {
                    let wall = now.duration_since(*then).as_nanos() as f64;
                    if wall > 0.0 && total >= *before {
                        row.cpu_percent = Some(round1((total - before) as f64 / wall * 100.0));
                    }
                }
                seen.insert(record.id.clone(), (now, total));
            }
            row.stats_json = stats.as_ref().and_then(|s| serde_json::to_value(s).ok());
            rows.push(row);
        }
        self.previous = seen;
        Ok(Snapshot {
            time,
            containers: rows,
        })
    }
}

impl Snapshot {
    /// The JSON document, each row with its `stats`.
    pub fn to_json(&self) -> Result<String> {
        let rows: Vec<serde_json::Value> = self
            .containers
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r)?;
                if let serde_json::Value::Object(map) = &mut v {
                    map.insert(
                        "stats".into(),
                        r.stats_json.clone().unwrap_or(serde_json::Value::Null),
                    );
                }
                Ok(v)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        Ok(serde_json::to_string(&serde_json::json!({
            "time": self.time,
            "containers": rows,
        }))?)
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The container's statistics while it has processes (created, running, paused).
fn live_stats(record: &Record, status: Status) -> Option<Stats> {
    if matches!(status, Status::Stopped | Status::Creating) {
        return None;
    }
    let cgroup = Cgroup::of_record(&record.cgroup_path, &record.id).ok()?;
    nook::container::stats(&cgroup, record).ok()
}

/// The table's numbers from one `events --stats` reading (pure, for unit tests).
pub fn row(record: &Record, status: Status, stats: Option<&Stats>, now: f64) -> Row {
    let limit = |l: u64| (l != 0 && l < UNLIMITED).then_some(l);
    let blkio_sum = |op: &str| {
        stats.map(|s| {
            s.blkio
                .io_service_bytes_recursive
                .iter()
                .filter(|e| e.op.eq_ignore_ascii_case(op))
                .map(|e| e.value)
                .sum()
        })
    };
    let net = stats
        .and_then(|s| s.network_interfaces.as_ref())
        .map(|ifs| {
            ifs.iter()
                .filter(|i| i.name != "lo")
                .fold((0u64, 0u64), |(rx, tx), i| {
                    (rx + i.rx_bytes, tx + i.tx_bytes)
                })
        });
    Row {
        id: record.id.clone(),
        status: status.to_string(),
        pid: if status == Status::Stopped {
            0
        } else {
            record.pid
        },
        bundle: record.bundle.clone(),
        created: record.created.clone(),
        uptime_seconds: chrono::DateTime::parse_from_rfc3339(&record.created)
            .ok()
            .map(|t| (now - t.timestamp() as f64).max(0.0) as u64),
        cpu_percent: None,
        cpu_total_ns: stats.map(|s| s.cpu.usage.total),
        memory_usage: stats.map(|s| s.memory.usage.usage),
        memory_limit: stats.and_then(|s| limit(s.memory.usage.limit)),
        pids: stats.map(|s| s.pids.current),
        pids_limit: stats.and_then(|s| limit(s.pids.limit)),
        block_read_bytes: blkio_sum("Read"),
        block_write_bytes: blkio_sum("Write"),
        net_rx_bytes: net.map(|n| n.0),
        net_tx_bytes: net.map(|n| n.1),
        stats_json: None,
    }
}

/// 1536 -> "1.5KiB"; for the table.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

/// 3725 -> "1h02m"; for the table.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nook::cgroups::stats::{BlkioEntry, NetworkInterface};

    fn record() -> Record {
        Record {
            id: "c1".into(),
            pid: 42,
            created: "2026-01-01T00:00:00Z".into(),
            ..Record::default()
        }
    }

    #[test]
    fn a_row_takes_its_numbers_from_the_stats() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5_000;
        s.memory.usage.usage = 1 << 20;
        s.memory.usage.limit = 9223372036854771712; // v1 "unlimited"
        s.pids.current = 3;
        s.pids.limit = 10;
        s.blkio.io_service_bytes_recursive = vec![
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 100,
            },
            BlkioEntry {
                major: 8,
                minor: 16,
                op: "Read".into(),
                value: 20,
            },
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 7,
            },
        ];
        s.network_interfaces = Some(vec![
            NetworkInterface {
                name: "lo".into(),
                rx_bytes: 1000,
                tx_bytes: 1000,
                ..NetworkInterface::default()
            },
            NetworkInterface {
                name: "eth0".into(),
                rx_bytes: 5,
                tx_bytes: 6,
                ..NetworkInterface::default()
            },
        ]);
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .timestamp() as f64;
        let r = row(&record(), Status::Running, Some(&s), start + 61.5);
        assert_eq!(r.pid, 42);
        assert_eq!(r.status, "running");
        assert_eq!(r.uptime_seconds, Some(61));
        assert_eq!(r.cpu_total_ns, Some(5_000));
        assert_eq!(r.memory_usage, Some(1 << 20));
        assert_eq!(r.memory_limit, None);
        assert_eq!((r.pids, r.pids_limit), (Some(3), Some(10)));
        assert_eq!(
            (r.block_read_bytes, r.block_write_bytes),
            (Some(120), Some(7))
        );
        assert_eq!((r.net_rx_bytes, r.net_tx_bytes), (Some(5), Some(6)));
    }

    #[test]
    fn a_stopped_row_has_no_numbers() {
        let r = row(&record(), Status::Stopped, None, 0.0);
        assert_eq!(r.pid, 0);
        assert_eq!(r.memory_usage, None);
        assert_eq!(r.net_rx_bytes, None);
        assert_eq!(r.uptime_seconds, Some(0));
    }

    #[test]
    fn units() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(3 << 30), "3.0GiB");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(3725), "1h02m");
        assert_eq!(duration(90000), "1d01h");
    }
}
