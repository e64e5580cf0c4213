//! Usage numbers of a container's cgroup, in the shape `runc events` prints them
//! (`{"type":"stats","id":…,"data":{"cpu":…,"memory":…,"pids":…}}`), read from v1 or v2 files.
//! Parsing is pure; the backends only say which file holds what.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::files;
use super::CgroupError;

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuUsage {
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Throttling {
    pub periods: u64,
    #[serde(rename = "throttledPeriods")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryStats {
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    /// The kernel's own counters (memory.stat), verbatim.
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct PidsStats {
    pub current: u64,
    pub limit: u64,
}

/// `key value` lines (memory.stat, cpu.stat, memory.events) as a map; other lines skipped.
pub fn key_values(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A single number; "max" (v2's unlimited) reads as u64::MAX like runc reports it.
pub fn number(text: &str) -> u64 {
    match text.trim() {
        "max" => u64::MAX,
        t => t.parse().unwrap_or(0),
    }
}

/// A file's number, or 0 when the kernel does not have that file.
fn read_number(dir: &Path, file: &str) -> u64 {
    files::read(dir, file).map(|t| number(&t)).unwrap_or(0)
}

fn read_kv(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    files::read(dir, file)
        .map(|t| key_values(&t))
        .unwrap_or_default()
}

/// cgroup v1: cpuacct, memory and pids each in their own hierarchy.
pub(crate) fn v1(
    cpuacct: Option<&Path>,
    cpu: Option<&Path>,
    memory: Option<&Path>,
    pids: Option<&Path>,
) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(dir) = cpuacct {
        s.cpu.usage.total = read_number(dir, "cpuacct.usage");
        s.cpu.usage.percpu = files::read(dir, "cpuacct.usage_percpu")
            .map(|t| t.split_whitespace().map(number).collect())
            .unwrap_or_default();
        let stat = read_kv(dir, "cpuacct.stat");
        // USER_HZ ticks to nanoseconds.
        let tick = 1_000_000_000 / 100;
        s.cpu.usage.user = stat.get("user").copied().unwrap_or(0) * tick;
        s.cpu.usage.kernel = stat.get("system").copied().unwrap_or(0) * tick;
    }
    if let Some(dir) = cpu {
        let stat = read_kv(dir, "cpu.stat");
        s.cpu.throttling = Throttling {
            periods: stat.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: stat.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(dir) = memory {
        let entry = |prefix: &str| MemoryEntry {
            limit: read_number(dir, &format!("{prefix}.limit_in_bytes")),
            usage: read_number(dir, &format!("{prefix}.usage_in_bytes")),
            max: read_number(dir, &format!("{prefix}.max_usage_in_bytes")),
            failcnt: read_number(dir, &format!("{prefix}.failcnt")),
        };
        s.memory.usage = entry("memory");
        s.memory.swap = entry("memory.memsw");
        s.memory.raw = read_kv(dir, "memory.stat");
    }
    if let Some(dir) = pids {
        s.pids = PidsStats {
            current: read_number(dir, "pids.current"),
            limit: read_number(dir, "pids.max"),
        };
    }
    Ok(s)
}

/// cgroup v2: everything in one directory.
pub(crate) fn v2(dir: &Path) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    let cpu = read_kv(dir, "cpu.stat");
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage = CpuUsage {
        total: us("usage_usec"),
        percpu: Vec::new(),
        kernel: us("system_usec"),
        user: us("user_usec"),
    };
    s.cpu.throttling = Throttling {
        periods: cpu.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: us("throttled_usec"),
    };
    let events = read_kv(dir, "memory.events");
    s.memory.usage = MemoryEntry {
        limit: read_number(dir, "memory.max"),
        usage: read_number(dir, "memory.current"),
        max: read_number(dir, "memory.peak"),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    s.memory.swap = MemoryEntry {
        limit: read_number(dir, "memory.swap.max"),
        usage: read_number(dir, "memory.swap.current"),
        max: read_number(dir, "memory.swap.peak"),
        failcnt: 0,
    };
    s.memory.raw = read_kv(dir, "memory.stat");
    s.pids = PidsStats {
        current: read_number(dir, "pids.current"),
        limit: read_number(dir, "pids.max"),
    };
    Ok(s)
}

/// How many processes the kernel has OOM-killed in the cgroup so far (v1 memory.oom_control,
/// v2 memory.events); `events` reports an "oom" event when it grows.
pub(crate) fn oom_kills(dir: &Path, v2: bool) -> u64 {
    let file = if v2 {
        "memory.events"
    } else {
        "memory.oom_control"
    };
    read_kv(dir, file).get("oom_kill").copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_files() {
        let kv = key_values("usage_usec 120\nnr_periods 3\nbogus\nname=x 1\n");
        assert_eq!(kv.get("usage_usec"), Some(&120));
        assert_eq!(kv.get("nr_periods"), Some(&3));
        assert_eq!(kv.len(), 3);
        assert_eq!(number("max\n"), u64::MAX);
        assert_eq!(number("42\n"), 42);
    }

    #[test]
    fn v1_and_v2_trees() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("cpuacct.usage"), "5000\n").unwrap();
        std::fs::write(d.join("cpuacct.usage_percpu"), "3000 2000 \n").unwrap();
        std::fs::write(d.join("cpuacct.stat"), "user 2\nsystem 1\n").unwrap();
        std::fs::write(d.join("memory.usage_in_bytes"), "4096\n").unwrap();
        std::fs::write(d.join("memory.limit_in_bytes"), "8192\n").unwrap();
        std::fs::write(d.join("pids.current"), "3\n").unwrap();
        std::fs::write(d.join("pids.max"), "max\n").unwrap();
        let s = v1(Some(d), Some(d), Some(d), Some(d)).unwrap();
        assert_eq!(s.cpu.usage.total, 5000);
        assert_eq!(s.cpu.usage.percpu, vec![3000, 2000]);
        assert_eq!(s.cpu.usage.user, 20_000_000);
        assert_eq!((s.memory.usage.usage, s.memory.usage.limit), (4096, 8192));
        assert_eq!((s.pids.current, s.pids.limit), (3, u64::MAX));

        let t2 = tempfile::tempdir().unwrap();
        let d2 = t2.path();
        std::fs::write(
            d2.join("cpu.stat"),
            "usage_usec 7\nuser_usec 5\nsystem_usec 2\n",
        )
        .unwrap();
        std::fs::write(d2.join("memory.current"), "100\n").unwrap();
        std::fs::write(d2.join("memory.max"), "max\n").unwrap();
        std::fs::write(d2.join("memory.events"), "max 4\noom 1\noom_kill 1\n").unwrap();
        let s = v2(d2).unwrap();
        assert_eq!(s.cpu.usage.total, 7000);
        assert_eq!(s.memory.usage.failcnt, 4);
        assert_eq!(oom_kills(d2, true), 1);
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["cpu"]["throttling"].get("throttledPeriods").is_some());
    }
}
