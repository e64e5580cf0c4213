//! `linux.resources` as the systemd unit properties runc sets for a scope. Only what systemd
//! itself would otherwise reset on its next reload or `SetUnitProperties`; every limit is
//! still written to the cgroup files afterwards, as runc does.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::super::limits::{shares_to_weight, v2_swap_max};
use super::super::{CgroupError, Version};
use super::Value;

/// systemd's "infinity" for byte and task counts and for CPU quota.
const INFINITY: u64 = u64::MAX;
/// The kernel's default CFS period, assumed when only a quota is given.
const DEFAULT_PERIOD: u64 = 100_000;

fn bytes(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// The resource properties for cgroup `version`, in runc's names and units.
pub fn resource_properties(
    version: Version,
    r: &LinuxResources,
) -> Result<Vec<(&'static str, Value)>, CgroupError> {
    let mut props = Vec::new();
    let v2 = version == Version::V2;
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit().filter(|l| *l != 0) {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            props.push((name, Value::U64(bytes(limit))));
        }
        if v2 {
            if let Some(low) = m.reservation().filter(|l| *l != 0) {
                props.push(("MemoryLow", Value::U64(bytes(low))));
            }
            if let Some(swap) = v2_swap_max(m.limit(), m.swap())? {
                let n = swap.parse().unwrap_or(INFINITY);
                props.push(("MemorySwapMax", Value::U64(n)));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            props.push(match version {
                Version::V2 => ("CPUWeight", Value::U64(shares_to_weight(shares))),
                Version::V1 => ("CPUShares", Value::U64(shares)),
            });
        }
        cpu_quota(&mut props, c.quota().unwrap_or(0), c.period().unwrap_or(0));
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            props.push((
                "AllowedCPUs",
                Value::Bytes(mask("linux.resources.cpu.cpus", cpus)?),
            ));
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            let bits = mask("linux.resources.cpu.mems", mems)?;
            props.push(("AllowedMemoryNodes", Value::Bytes(bits)));
        }
    }
    if let Some(p) = r.pids() {
        let limit = p.limit();
        if limit > 0 || limit == -1 {
            props.push(("TasksMax", Value::U64(bytes(limit))));
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        // runc sets only the v1 property; on v2 io.weight goes to the file alone.
        if w != 0 && !v2 {
            props.push(("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    if v2 {
        unified(&mut props, r);
    }
    Ok(props)
}

/// `CPUQuotaPerSecUSec` is microseconds of CPU per second, which systemd keeps as a whole
/// percentage: rounded up to 10 ms so the kernel's quota is never below the spec's.
fn cpu_quota(props: &mut Vec<(&'static str, Value)>, quota: i64, period: u64) {
    if period != 0 {
        props.push(("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = INFINITY;
    if quota > 0 {
        let period = if period == 0 { DEFAULT_PERIOD } else { period };
        per_sec = (quota as u64).saturating_mul(1_000_000) / period;
        if !per_sec.is_multiple_of(10_000) {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
        }
    }
    props.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// The `linux.resources.unified` keys systemd has a property for.
fn unified(props: &mut Vec<(&'static str, Value)>, r: &LinuxResources) {
    let Some(map) = r.unified() else { return };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let v = map[key].trim();
        let name = match key.as_str() {
            "memory.max" => "MemoryMax",
            "memory.high" => "MemoryHigh",
            "memory.low" => "MemoryLow",
            "memory.min" => "MemoryMin",
            "memory.swap.max" => "MemorySwapMax",
            "pids.max" => "TasksMax",
            "cpu.weight" => "CPUWeight",
            _ => continue,
        };
        let n = if v == "max" {
            Some(INFINITY)
        } else {
            v.parse().ok()
        };
        // A value systemd cannot take is refused by the file write that follows.
        if let Some(n) = n {
            props.push((name, Value::U64(n)));
        }
    }
}

/// A cpu or node list ("0-3,7") as systemd's bitmask: bit n of byte n/8.
pub fn mask(field: &'static str, list: &str) -> Result<Vec<u8>, CgroupError> {
    let bad = || CgroupError::InvalidValue {
        field,
        value: list.to_string(),
        why: "must be a list of numbers and ranges like 0-3,7",
    };
    let mut bits = Vec::new();
    for part in list.trim().split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<usize>(), b.trim().parse::<usize>()),
            None => (part.trim().parse(), part.trim().parse()),
        };
        let (lo, hi) = (lo.map_err(|_| bad())?, hi.map_err(|_| bad())?);
        if lo > hi || hi >= 8192 {
            return Err(bad());
        }
        for n in lo..=hi {
            if bits.len() <= n / 8 {
                bits.resize(n / 8 + 1, 0);
            }
            bits[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(bits)
}

/// `DevicePolicy`/`DeviceAllow` for the device rules. systemd's list is the allowed set or a
/// superset of it (a deny after a deny-all is not expressible there); nook's own device
/// rules (v1 files, v2 eBPF program) enforce the exact set, and a device must pass both.
/// `names`: /proc/devices' name of a (block, major), for rules with any minor.
pub fn device_properties(
    r: &LinuxResources,
    names: &dyn Fn(bool, i64) -> Option<String>,
) -> Vec<(&'static str, Value)> {
    let Some(rules) = r.devices().as_ref().filter(|d| !d.is_empty()) else {
        return Vec::new();
    };
    let mut strict = false;
    let mut allow: Vec<(String, String)> = Vec::new();
    for rule in rules {
        let all_types = matches!(rule.typ(), None | Some(LinuxDeviceType::A));
        let everything = all_types && rule.major().is_none() && rule.minor().is_none();
        if everything {
            strict = !rule.allow();
            allow.clear();
        } else if rule.allow() {
            allow.extend(allow_entries(rule, names));
        }
    }
    if !strict {
        return vec![
            ("DevicePolicy", Value::Str("auto".into())),
            ("DeviceAllow", Value::StrPairs(Vec::new())),
        ];
    }
    vec![
        ("DevicePolicy", Value::Str("strict".into())),
        ("DeviceAllow", Value::StrPairs(allow)),
    ]
}

fn allow_entries(
    rule: &LinuxDeviceCgroup,
    names: &dyn Fn(bool, i64) -> Option<String>,
) -> Vec<(String, String)> {
    let access: String = rule
        .access()
        .as_deref()
        .unwrap_or("rwm")
        .chars()
        .filter(|c| "rwm".contains(*c))
        .collect();
    let kinds: &[bool] = match rule.typ() {
        Some(LinuxDeviceType::B) => &[true],
        Some(LinuxDeviceType::C | LinuxDeviceType::U) => &[false],
        None | Some(LinuxDeviceType::A) => &[false, true],
        Some(LinuxDeviceType::P) => &[],
    };
    kinds
        .iter()
        .filter_map(|&block| {
            let (dir, class) = if block {
                ("block", "block")
            } else {
                ("char", "char")
            };
            let entry = match (rule.major(), rule.minor()) {
                (Some(maj), Some(min)) => format!("/dev/{dir}/{maj}:{min}"),
                (None, _) => format!("{class}-*"),
                (Some(maj), None) => format!("{class}-{}", names(block, maj)?),
            };
            Some((entry, access.clone()))
        })
        .collect()
}

/// The driver name of a major number, from /proc/devices.
pub fn proc_devices(block: bool, major: i64) -> Option<String> {
    let text = std::fs::read_to_string("/proc/devices").ok()?;
    devices_name(&text, block, major)
}

pub fn devices_name(text: &str, block: bool, major: i64) -> Option<String> {
    let section = if block {
        "Block devices:"
    } else {
        "Character devices:"
    };
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim() != section)
        .skip(1)
        .take_while(|l| !l.trim().is_empty());
    lines.find_map(|l| {
        let (num, name) = l.trim().split_once(' ')?;
        (num.parse::<i64>().ok()? == major).then(|| name.trim().to_string())
    })
}
