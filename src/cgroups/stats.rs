//! Usage numbers of a container's cgroup, in the shape `runc events` prints them
//! (`{"type":"stats","id":…,"data":{"cpu":…,"cpuset":…,"memory":…,"pids":…,"blkio":…,
//! "hugetlb":…,"intel_rdt":…,"network_interfaces":…}}`), read from v1 or v2 files.
//! Field order and which zero fields are left out follow runc's Go structs (`omitempty`), so a
//! consumer that parses runc's lines parses ours. Parsing is pure; the backends only say which
//! directory holds which controller.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files;
use super::CgroupError;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub cpu: CpuStats,
    pub cpuset: CpusetStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    /// By page size as the kernel names it in file names ("2MB", "1GB").
    pub hugetlb: BTreeMap<String, HugetlbStats>,
    /// Always empty: nook reads no resctrl counters (a container's group is in its state record).
    pub intel_rdt: IntelRdtStats,
    /// The interfaces of the container's network namespace; filled by the caller, which knows
    /// the init's pid (`None` prints as null, as runc prints a container without any).
    pub network_interfaces: Option<Vec<NetworkInterface>>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
    /// cgroup v2 `cpu.pressure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// Pressure stall information (v2 `<resource>.pressure`): the share of time some (or all)
/// tasks of the cgroup waited on the resource over 10, 60 and 300 seconds, in percent, and
/// the total wait in microseconds.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct PsiStats {
    pub some: PsiData,
    pub full: PsiData,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct PsiData {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total: u64,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// v1 cpuset files; v2 has no counterpart runc reports, so there it stays zero.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct CpusetStats {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryStats {
    /// Page cache bytes (v1 memory.stat `cache`, v2 `file`).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    /// Memory plus swap, on v2 too (summed there), as v1 counts it.
    pub swap: MemoryEntry,
    /// v1 memory.kmem.*; zero where the kernel has no such files (v2).
    pub kernel: MemoryEntry,
    /// v1 memory.kmem.tcp.*.
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// The kernel's own counters (memory.stat), verbatim.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    /// cgroup v2 `memory.pressure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// `limit` 0 means unlimited, as runc reports pids.max "max".
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BlkioStats {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(
        rename = "ioServiceTimeRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
    /// cgroup v2 `io.pressure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

#[derive(Debug, Default, Serialize, PartialEq, Clone)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct HugetlbStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct IntelRdtStats {}

/// One line of /proc/<pid>/net/dev, with runc's (untagged Go) field names.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
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

/// A cpuset list (`0-3,8,10-11`) as its members; malformed parts are skipped.
pub fn cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
            out.extend(lo..=hi);
        }
    }
    out
}

/// v1 blkio lines: `8:0 Read 4096` (op files), `8:0 12` (sectors, times); `Total` skipped.
pub fn blkio_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let (dev, op, value) = match fields.as_slice() {
                [dev, op, value] => (*dev, *op, *value),
                [dev, value] => (*dev, "", *value),
                _ => return None,
            };
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`) as v1's two lists,
/// bytes and operations, with the ops named as v1 names them.
pub fn io_stat(text: &str) -> BlkioStats {
    let mut s = BlkioStats::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some((major, minor)) = words.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for (key, value) in words.filter_map(|w| w.split_once('=')) {
            let (list, op) = match key {
                "rbytes" => (&mut s.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.io_service_bytes_recursive, "Write"),
                "dbytes" => (&mut s.io_service_bytes_recursive, "Discard"),
                "rios" => (&mut s.io_serviced_recursive, "Read"),
                "wios" => (&mut s.io_serviced_recursive, "Write"),
                "dios" => (&mut s.io_serviced_recursive, "Discard"),
                _ => continue,
            };
            let value = value.parse().unwrap_or(0);
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    s
}

/// A `.pressure` file: `some avg10=0.12 avg60=0.05 avg300=0.01 total=12345` and a `full` line
/// (absent from cpu.pressure before Linux 5.13: then zero). None when neither line parses.
pub fn pressure(text: &str) -> Option<PsiStats> {
    let mut out = PsiStats::default();
    let mut seen = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let data = match words.next() {
            Some("some") => &mut out.some,
            Some("full") => &mut out.full,
            _ => continue,
        };
        for (key, value) in words.filter_map(|w| w.split_once('=')) {
            match key {
                "avg10" => data.avg10 = value.parse().unwrap_or(0.0),
                "avg60" => data.avg60 = value.parse().unwrap_or(0.0),
                "avg300" => data.avg300 = value.parse().unwrap_or(0.0),
                "total" => data.total = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        seen = true;
    }
    seen.then_some(out)
}

/// A `.pressure` file of `dir`; None where the kernel has no PSI (or it is off:
/// `psi=0`, where reading fails with EOPNOTSUPP).
fn read_pressure(dir: &Path, file: &str) -> Option<PsiStats> {
    files::read(dir, file).ok().and_then(|t| pressure(&t))
}

/// /proc/<pid>/net/dev: two header lines, then `name: 8 receive counters 8 transmit counters`.
pub fn net_dev(text: &str) -> Vec<NetworkInterface> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let n: Vec<u64> = rest
                .split_whitespace()
                .map(|w| w.parse().unwrap_or(0))
                .collect();
            if n.len() < 12 {
                return None;
            }
            Some(NetworkInterface {
                name: name.trim().to_string(),
                rx_bytes: n[0],
                rx_packets: n[1],
                rx_errors: n[2],
                rx_dropped: n[3],
                tx_bytes: n[8],
                tx_packets: n[9],
                tx_errors: n[10],
                tx_dropped: n[11],
            })
        })
        .collect()
}

/// The interfaces of the network namespace `pid` lives in; `None` when it cannot be read.
pub fn network_interfaces(pid: i32) -> Option<Vec<NetworkInterface>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).ok()?;
    Some(net_dev(&text))
}

/// Huge page sizes the kernel offers, as cgroup file names spell them (`hugepages-2048kB` is
/// `2MB`).
fn huge_page_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<String> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(page_size_name(kb))
        })
        .collect();
    sizes.sort();
    sizes
}

fn page_size_name(kb: u64) -> String {
    let units = ["KB", "MB", "GB", "TB", "PB"];
    let (mut n, mut unit) = (kb, 0);
    while n >= 1024 && n % 1024 == 0 && unit + 1 < units.len() {
        n /= 1024;
        unit += 1;
    }
    format!("{n}{}", units[unit])
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

/// pids.max: "max" is reported as 0 (no limit), as runc does.
fn read_pids(dir: &Path) -> PidsStats {
    let limit = match files::read(dir, "pids.max") {
        Ok(t) if t.trim() == "max" => 0,
        Ok(t) => number(&t),
        Err(_) => 0,
    };
    PidsStats {
        current: read_number(dir, "pids.current"),
        limit,
    }
}

/// The directory of each v1 controller the cgroup has (absent controllers are `None`).
pub(crate) struct V1Dirs {
    pub cpuacct: Option<PathBuf>,
    pub cpu: Option<PathBuf>,
    pub cpuset: Option<PathBuf>,
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub blkio: Option<PathBuf>,
    pub hugetlb: Option<PathBuf>,
}

/// cgroup v1: each controller in its own hierarchy.
pub(crate) fn v1(dirs: &V1Dirs) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(dir) = &dirs.cpuacct {
        v1_cpuacct(dir, &mut s.cpu.usage);
    }
    if let Some(dir) = &dirs.cpu {
        let stat = read_kv(dir, "cpu.stat");
        s.cpu.throttling = Throttling {
            periods: stat.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: stat.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(dir) = &dirs.cpuset {
        s.cpuset = v1_cpuset(dir);
    }
    if let Some(dir) = &dirs.memory {
        let entry = |prefix: &str| MemoryEntry {
            limit: read_number(dir, &format!("{prefix}.limit_in_bytes")),
            usage: read_number(dir, &format!("{prefix}.usage_in_bytes")),
            max: read_number(dir, &format!("{prefix}.max_usage_in_bytes")),
            failcnt: read_number(dir, &format!("{prefix}.failcnt")),
        };
        s.memory.usage = entry("memory");
        s.memory.swap = entry("memory.memsw");
        s.memory.kernel = entry("memory.kmem");
        s.memory.kernel_tcp = entry("memory.kmem.tcp");
        s.memory.raw = read_kv(dir, "memory.stat");
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(dir) = &dirs.pids {
        s.pids = read_pids(dir);
    }
    if let Some(dir) = &dirs.blkio {
        s.blkio = v1_blkio(dir);
    }
    if let Some(dir) = &dirs.hugetlb {
        for size in huge_page_sizes() {
            let file = |f: &str| format!("hugetlb.{size}.{f}");
            let stats = HugetlbStats {
                usage: read_number(dir, &file("usage_in_bytes")),
                max: read_number(dir, &file("max_usage_in_bytes")),
                failcnt: read_number(dir, &file("failcnt")),
            };
            s.hugetlb.insert(size, stats);
        }
    }
    Ok(s)
}

fn v1_cpuacct(dir: &Path, usage: &mut CpuUsage) {
    usage.total = read_number(dir, "cpuacct.usage");
    usage.percpu = files::read(dir, "cpuacct.usage_percpu")
        .map(|t| t.split_whitespace().map(number).collect())
        .unwrap_or_default();
    // `cpu user system` per cpu, nanoseconds, after a header line.
    if let Ok(all) = files::read(dir, "cpuacct.usage_all") {
        for line in all.lines().skip(1) {
            let n: Vec<u64> = line.split_whitespace().map(number).collect();
            if let [_, user, system] = n.as_slice() {
                usage.percpu_user.push(*user);
                usage.percpu_kernel.push(*system);
            }
        }
    }
    let stat = read_kv(dir, "cpuacct.stat");
    // USER_HZ ticks to nanoseconds.
    let tick = 1_000_000_000 / 100;
    usage.user = stat.get("user").copied().unwrap_or(0) * tick;
    usage.kernel = stat.get("system").copied().unwrap_or(0) * tick;
}

fn v1_cpuset(dir: &Path) -> CpusetStats {
    let list = |f: &str| {
        files::read(dir, f)
            .map(|t| cpu_list(&t))
            .unwrap_or_default()
    };
    let n = |f: &str| read_number(dir, &format!("cpuset.{f}"));
    CpusetStats {
        cpus: list("cpuset.cpus"),
        cpu_exclusive: n("cpu_exclusive"),
        mems: list("cpuset.mems"),
        mem_hardwall: n("mem_hardwall"),
        mem_exclusive: n("mem_exclusive"),
        memory_migrate: n("memory_migrate"),
        memory_spread_page: n("memory_spread_page"),
        memory_spread_slab: n("memory_spread_slab"),
        memory_pressure: n("memory_pressure"),
        sched_load_balance: n("sched_load_balance"),
        sched_relax_domain_level: files::read(dir, "cpuset.sched_relax_domain_level")
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0),
    }
}

/// Which blkio files hold the counters depends on the I/O scheduler: BFQ (with or without its
/// debug files), then CFQ, then the throttle layer that always counts. The first family whose
/// first file exists is read whole, as runc picks.
fn v1_blkio(dir: &Path) -> BlkioStats {
    type Field = fn(&mut BlkioStats) -> &mut Vec<BlkioEntry>;
    let bytes: Field = |s| &mut s.io_service_bytes_recursive;
    let ios: Field = |s| &mut s.io_serviced_recursive;
    let debug_family = |prefix: &'static str| -> Vec<(String, Field)> {
        vec![
            (format!("{prefix}sectors_recursive"), |s| {
                &mut s.sectors_recursive
            }),
            (format!("{prefix}io_service_time_recursive"), |s| {
                &mut s.io_service_time_recursive
            }),
            (format!("{prefix}io_wait_time_recursive"), |s| {
                &mut s.io_wait_time_recursive
            }),
            (format!("{prefix}io_merged_recursive"), |s| {
                &mut s.io_merged_recursive
            }),
            (format!("{prefix}io_queued_recursive"), |s| {
                &mut s.io_queued_recursive
            }),
            (format!("{prefix}time_recursive"), |s| {
                &mut s.io_time_recursive
            }),
            (format!("{prefix}io_serviced_recursive"), ios),
            (format!("{prefix}io_service_bytes_recursive"), bytes),
        ]
    };
    let families: [Vec<(String, Field)>; 5] = [
        debug_family("blkio.bfq."),
        vec![
            ("blkio.bfq.io_serviced_recursive".into(), ios),
            ("blkio.bfq.io_service_bytes_recursive".into(), bytes),
        ],
        debug_family("blkio."),
        vec![
            ("blkio.throttle.io_serviced_recursive".into(), ios),
            ("blkio.throttle.io_service_bytes_recursive".into(), bytes),
        ],
        vec![
            ("blkio.throttle.io_serviced".into(), ios),
            ("blkio.throttle.io_service_bytes".into(), bytes),
        ],
    ];
    let mut s = BlkioStats::default();
    for family in families {
        if !family.first().is_some_and(|(f, _)| dir.join(f).exists()) {
            continue;
        }
        for (file, field) in family {
            if let Ok(text) = files::read(dir, &file) {
                *field(&mut s) = blkio_entries(&text);
            }
        }
        break;
    }
    s
}

/// cgroup v2: everything in one directory.
pub(crate) fn v2(dir: &Path) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    let cpu = read_kv(dir, "cpu.stat");
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage = CpuUsage {
        total: us("usage_usec"),
        kernel: us("system_usec"),
        user: us("user_usec"),
        ..CpuUsage::default()
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
    // v1 counts swap together with memory; runc reports v2's the same way.
    let swap_limit = read_number(dir, "memory.swap.max");
    s.memory.swap = MemoryEntry {
        limit: match swap_limit {
            u64::MAX => u64::MAX,
            l => l.saturating_add(s.memory.usage.limit),
        },
        usage: read_number(dir, "memory.swap.current").saturating_add(s.memory.usage.usage),
        max: read_number(dir, "memory.swap.peak"),
        failcnt: read_kv(dir, "memory.swap.events")
            .get("fail")
            .copied()
            .unwrap_or(0),
    };
    s.memory.raw = read_kv(dir, "memory.stat");
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids = read_pids(dir);
    s.blkio = files::read(dir, "io.stat")
        .map(|t| io_stat(&t))
        .unwrap_or_default();
    s.cpu.psi = read_pressure(dir, "cpu.pressure");
    s.memory.psi = read_pressure(dir, "memory.pressure");
    s.blkio.psi = read_pressure(dir, "io.pressure");
    for size in huge_page_sizes() {
        let current = format!("hugetlb.{size}.current");
        if !dir.join(&current).exists() {
            continue;
        }
        let stats = HugetlbStats {
            usage: read_number(dir, &current),
            max: 0,
            failcnt: read_kv(dir, &format!("hugetlb.{size}.events"))
                .get("max")
                .copied()
                .unwrap_or(0),
        };
        s.hugetlb.insert(size, stats);
    }
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
