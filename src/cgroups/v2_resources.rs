//! `linux.resources` on cgroup v2: every controller's files sit in the one leaf directory.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxPids, LinuxResources,
};

use super::{files, limits, v1_resources::check_not_below_usage, v2_devices, CgroupError};

fn unsupported(field: &'static str, why: &'static str) -> CgroupError {
    CgroupError::Unsupported {
        field,
        version: "v2",
        why,
    }
}

/// Everything nook cannot apply on v2, refused before the first write. Device rules are
/// compiled here too, so an invalid or unrepresentable rule list is refused up front.
#[allow(deprecated)] // memory.kernel is deprecated precisely because kernels dropped it
pub(crate) fn check_supported(r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(d) = r.devices() {
        v2_devices::compile(d)?;
    }
    if let Some(m) = r.memory() {
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            crate::logging::warn(
                "linux.resources.memory.kernel and kernelTCP are ignored: cgroup v2 has no \
                 separate kernel memory limits",
            );
        }
        if m.swappiness().is_some() {
            return Err(unsupported(
                "linux.resources.memory.swappiness",
                "v2 has no per-cgroup swappiness",
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(unsupported(
                "linux.resources.memory.disableOOMKiller",
                "v2 cannot disable the OOM killer per cgroup",
            ));
        }
        if m.use_hierarchy() == Some(false) {
            return Err(unsupported(
                "linux.resources.memory.useHierarchy",
                "v2 accounting is always hierarchical",
            ));
        }
    }
    if let Some(c) = r.cpu() {
        if c.realtime_runtime().is_some_and(|r| r != 0) {
            return Err(unsupported(
                "linux.resources.cpu.realtimeRuntime",
                "v2 has no realtime bandwidth controller",
            ));
        }
        if c.realtime_period().is_some_and(|p| p != 0) {
            return Err(unsupported(
                "linux.resources.cpu.realtimePeriod",
                "v2 has no realtime bandwidth controller",
            ));
        }
    }
    if let Some(b) = r.block_io() {
        let leaf_device = b
            .weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some());
        if b.leaf_weight().is_some_and(|w| w != 0) || leaf_device {
            return Err(unsupported(
                "linux.resources.blockIO.leafWeight",
                "v2 has no leaf weights",
            ));
        }
    }
    if r.network().is_some() {
        return Err(unsupported(
            "linux.resources.network",
            "v2 has no net_cls/net_prio controllers",
        ));
    }
    if let Some(u) = r.unified() {
        for key in u.keys() {
            check_unified_key(key)?;
        }
    }
    Ok(())
}

/// A unified key becomes a file name in the leaf. Only controller interface files are let
/// through: no path separators, and no `cgroup.*` core files (`cgroup.procs` would move
/// arbitrary host processes into the container, `cgroup.subtree_control` changes its shape).
fn check_unified_key(key: &str) -> Result<(), CgroupError> {
    let valid = match key.split_once('.') {
        Some((controller, rest)) => {
            !controller.is_empty()
                && controller != "cgroup"
                && !rest.is_empty()
                && !key.contains('/')
                && key != "."
                && key != ".."
        }
        None => false,
    };
    if valid {
        Ok(())
    } else {
        Err(CgroupError::InvalidValue {
            field: "linux.resources.unified",
            value: key.to_string(),
            why: "keys must be controller files like \"memory.high\"; cgroup.* files are refused",
        })
    }
}

pub(crate) fn apply_memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if m.check_before_update() == Some(true) {
        check_not_below_usage(dir, m.limit(), "memory.current")?;
    }
    // Checked before any write: a bad swap value must not leave a new memory.max behind.
    let swap = limits::v2_swap_max(m.limit(), m.swap())?;
    if let Some(l) = m.limit() {
        files::write(dir, "memory.max", &limits::v2_bytes(l))?;
    }
    if let Some(s) = swap {
        files::write(dir, "memory.swap.max", &s)?;
    }
    if let Some(r) = m.reservation() {
        files::write(dir, "memory.low", &limits::v2_bytes(r))?;
    }
    Ok(())
}

pub(crate) fn apply_pids(dir: &Path, p: &LinuxPids) -> Result<(), CgroupError> {
    match limits::pids_value(p.limit()) {
        Some(v) => files::write(dir, "pids.max", &v),
        None => Ok(()),
    }
}

pub(crate) fn apply_cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if c.burst().is_some() {
        let why = "cpu.max.burst needs Linux 5.14 or later";
        files::require(dir, "cpu.max.burst", "linux.resources.cpu.burst", why)?;
    }
    if c.idle().is_some() {
        let why = "cpu.idle needs Linux 5.15 or later";
        files::require(dir, "cpu.idle", "linux.resources.cpu.idle", why)?;
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        files::write(dir, "cpu.weight", &limits::shares_to_weight(s).to_string())?;
    }
    if let Some(max) = cpu_max(dir, c.quota(), c.period())? {
        files::write(dir, "cpu.max", &max)?;
    }
    if let Some(b) = c.burst() {
        files::write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        files::write(dir, "cpu.idle", &i.to_string())?;
    }
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        files::write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        files::write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// `cpu.max` holds "$QUOTA $PERIOD" in one file; a spec setting only one of them keeps the
/// other as the kernel has it.
fn cpu_max(
    dir: &Path,
    quota: Option<i64>,
    period: Option<u64>,
) -> Result<Option<String>, CgroupError> {
    let quota = quota.filter(|q| *q != 0);
    let period = period.filter(|p| *p != 0);
    if quota.is_none() && period.is_none() {
        return Ok(None);
    }
    let current = files::read_trimmed(dir, "cpu.max")?;
    let mut fields = current.split_whitespace();
    let (cur_quota, cur_period) = (fields.next().unwrap_or("max"), fields.next());
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        Some(_) => "max".to_string(),
        None => cur_quota.to_string(),
    };
    Ok(Some(
        match period
            .map(|p| p.to_string())
            .or(cur_period.map(String::from))
        {
            Some(p) => format!("{quota} {p}"),
            None => quota,
        },
    ))
}

pub(crate) fn apply_io(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // With BFQ, io.bfq.weight takes blkio's 1..1000 scale as is; io.weight needs converting.
    let bfq = dir.join("io.bfq.weight").exists();
    let weight = |w: u16| {
        if bfq {
            ("io.bfq.weight", w.to_string())
        } else {
            ("io.weight", limits::blkio_to_io_weight(w).to_string())
        }
    };
    // 0 means "not set" (docker always sends it).
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        let (file, value) = weight(w);
        files::write(dir, file, &value)?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            let (file, value) = weight(w);
            files::write(dir, file, &format!("{}:{} {value}", d.major(), d.minor()))?;
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, devices) in throttles {
        for d in devices.iter().flatten() {
            // v1 takes 0 as "no limit"; v2 spells it "max".
            let rate = match d.rate() {
                0 => "max".to_string(),
                r => r.to_string(),
            };
            files::write(
                dir,
                "io.max",
                &format!("{}:{} {key}={rate}", d.major(), d.minor()),
            )?;
        }
    }
    Ok(())
}

/// `hugetlb.<size>.max`, and `hugetlb.<size>.rsvd.max` where the kernel has it (see v1's).
pub(crate) fn apply_hugetlb(dir: &Path, limits_: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for h in limits_ {
        limits::check_page_size(h.page_size())?;
        let value = limits::v2_bytes(h.limit());
        files::write(dir, &format!("hugetlb.{}.max", h.page_size()), &value)?;
        let rsvd = format!("hugetlb.{}.rsvd.max", h.page_size());
        if dir.join(&rsvd).exists() {
            files::write(dir, &rsvd, &value)?;
        }
    }
    Ok(())
}

pub(crate) fn apply_unified(
    dir: &Path,
    unified: &HashMap<String, String>,
) -> Result<(), CgroupError> {
    // Sorted so repeated runs write in the same order.
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        check_unified_key(key)?;
        files::write(dir, key, &unified[key])?;
    }
    Ok(())
}
