//! `linux.resources` on cgroup v1: one function per controller, each a function of the spec
//! section and the controller's cgroup directory.

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxHugepageLimit, LinuxMemory, LinuxPids,
    LinuxResources,
};

use super::{files, limits, CgroupError};

fn unsupported(field: &'static str, why: &'static str) -> CgroupError {
    CgroupError::Unsupported {
        field,
        version: "v1",
        why,
    }
}

/// Everything nook cannot apply on v1, refused before the first write so a refused spec
/// leaves no half-applied limits behind.
pub(crate) fn check_supported(r: &LinuxResources) -> Result<(), CgroupError> {
    if r.unified().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(unsupported(
            "linux.resources.unified",
            "unified keys are cgroup v2 files; this host uses cgroup v1",
        ));
    }
    Ok(())
}

pub(crate) fn apply_memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if m.check_before_update() == Some(true) {
        check_not_below_usage(dir, m.limit(), "memory.usage_in_bytes")?;
    }
    if let Some(h) = m.use_hierarchy() {
        files::write(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    apply_limit_and_swap(dir, m.limit(), m.swap())?;
    if let Some(r) = m.reservation() {
        files::write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        limits::check_swappiness(s)?;
        files::write(dir, "memory.swappiness", &s.to_string())?;
    }
    if let Some(d) = m.disable_oom_killer() {
        files::write(dir, "memory.oom_control", if d { "1" } else { "0" })?;
    }
    apply_kernel_memory(dir, m)
}

/// The spec lets a runtime ignore `kernel` (deprecated: Linux 5.4 deprecated kernel memory
/// limits, 6.x writes them without effect) and `kernelTCP` where the kernel lacks it: warned
/// about, as runc does. `kernelTCP` is written where the file exists.
#[allow(deprecated)] // memory.kernel is deprecated precisely because kernels dropped it
fn apply_kernel_memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    if m.kernel().is_some() {
        crate::logging::warn(
            "linux.resources.memory.kernel is deprecated and ignored: kernel memory limits were \
             removed from Linux",
        );
    }
    if let Some(tcp) = m.kernel_tcp() {
        let file = "memory.kmem.tcp.limit_in_bytes";
        if dir.join(file).exists() {
            files::write(dir, file, &tcp.to_string())?;
        } else {
            crate::logging::warn(&format!(
                "linux.resources.memory.kernelTCP ignored: this kernel has no {file}"
            ));
        }
    }
    Ok(())
}

/// The kernel keeps memory.limit <= memory.memsw.limit at every instant, so the order of
/// the two writes depends on whether memsw grows or shrinks.
fn apply_limit_and_swap(
    dir: &Path,
    limit: Option<i64>,
    swap: Option<i64>,
) -> Result<(), CgroupError> {
    let memsw = "memory.memsw.limit_in_bytes";
    // Lifting the memory limit without naming swap lifts memsw too, or the old memsw
    // would keep capping memory.
    let swap = match (limit, swap) {
        (Some(-1), None) if dir.join(memsw).exists() => Some(-1),
        (_, Some(0)) => None,
        (_, s) => s,
    };
    let Some(swap) = swap else {
        if let Some(l) = limit {
            files::write(dir, "memory.limit_in_bytes", &l.to_string())?;
        }
        return Ok(());
    };
    if swap < -1 {
        return Err(CgroupError::InvalidValue {
            field: "linux.resources.memory.swap",
            value: swap.to_string(),
            why: "must be -1 (unlimited) or positive",
        });
    }
    let current: u64 = files::read_trimmed(dir, memsw)?.parse().unwrap_or(0);
    let grows = swap == -1 || swap as u64 > current;
    if grows {
        files::write(dir, memsw, &swap.to_string())?;
    }
    if let Some(l) = limit {
        files::write(dir, "memory.limit_in_bytes", &l.to_string())?;
    }
    if !grows {
        files::write(dir, memsw, &swap.to_string())?;
    }
    Ok(())
}

/// `checkBeforeUpdate`: refuse a limit the cgroup already exceeds instead of letting the
/// kernel reclaim or OOM-kill to meet it.
pub(crate) fn check_not_below_usage(
    dir: &Path,
    limit: Option<i64>,
    usage_file: &str,
) -> Result<(), CgroupError> {
    let Some(limit) = limit.filter(|l| *l > 0) else {
        return Ok(());
    };
    let usage = files::read_trimmed(dir, usage_file)?;
    let usage: i64 = usage.parse().map_err(|_| CgroupError::Parse {
        path: dir.join(usage_file),
        content: usage.clone(),
    })?;
    if limit < usage {
        return Err(CgroupError::InvalidValue {
            field: "linux.resources.memory.limit",
            value: limit.to_string(),
            why: "below current usage and checkBeforeUpdate is set",
        });
    }
    Ok(())
}

pub(crate) fn apply_pids(dir: &Path, p: &LinuxPids) -> Result<(), CgroupError> {
    match limits::pids_value(p.limit()) {
        Some(v) => files::write(dir, "pids.max", &v),
        None => Ok(()),
    }
}

pub(crate) fn has_cpu_fields(c: &LinuxCpu) -> bool {
    c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || c.realtime_runtime().is_some()
        || c.realtime_period().is_some()
}

pub(crate) fn has_cpuset_fields(c: &LinuxCpu) -> bool {
    c.cpus().as_deref().is_some_and(|s| !s.is_empty())
        || c.mems().as_deref().is_some_and(|s| !s.is_empty())
}

/// Files only some kernels have, checked before the first write.
fn check_cpu_files(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if c.burst().is_some() {
        let why = "CFS burst needs Linux 5.14 or later";
        files::require(dir, "cpu.cfs_burst_us", "linux.resources.cpu.burst", why)?;
    }
    if c.idle().is_some() {
        let why = "SCHED_IDLE cgroups need Linux 5.15 or later";
        files::require(dir, "cpu.idle", "linux.resources.cpu.idle", why)?;
    }
    let why = "realtime group scheduling needs a kernel built with CONFIG_RT_GROUP_SCHED";
    if c.realtime_period().is_some_and(|p| p != 0) {
        let field = "linux.resources.cpu.realtimePeriod";
        files::require(dir, "cpu.rt_period_us", field, why)?;
    }
    if c.realtime_runtime().is_some() {
        let field = "linux.resources.cpu.realtimeRuntime";
        files::require(dir, "cpu.rt_runtime_us", field, why)?;
    }
    Ok(())
}

pub(crate) fn apply_cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    check_cpu_files(dir, c)?;
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        files::write(dir, "cpu.shares", &s.to_string())?;
    }
    let period = c.period().filter(|p| *p != 0).map(|p| p.to_string());
    let quota = c.quota().filter(|q| *q != 0).map(|q| q.max(-1).to_string());
    write_pair(
        dir,
        ("cpu.cfs_period_us", period),
        ("cpu.cfs_quota_us", quota),
    )?;
    if let Some(b) = c.burst() {
        files::write(dir, "cpu.cfs_burst_us", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        files::write(dir, "cpu.idle", &i.to_string())?;
    }
    let rt_period = c
        .realtime_period()
        .filter(|p| *p != 0)
        .map(|p| p.to_string());
    let rt_runtime = c.realtime_runtime().map(|r| r.to_string());
    write_pair(
        dir,
        ("cpu.rt_period_us", rt_period),
        ("cpu.rt_runtime_us", rt_runtime),
    )
}

/// Period and quota (or runtime) are validated against each other and the parent on every
/// write, so one order can fail where the other succeeds: try period first, then the
/// reverse, and report the first failure if both do.
fn write_pair(
    dir: &Path,
    first: (&str, Option<String>),
    second: (&str, Option<String>),
) -> Result<(), CgroupError> {
    let write = |(file, v): &(&str, Option<String>)| match v {
        Some(v) => files::write(dir, file, v),
        None => Ok(()),
    };
    let forward = write(&first).and_then(|()| write(&second));
    match forward {
        Ok(()) => Ok(()),
        Err(e) => write(&second).and_then(|()| write(&first)).map_err(|_| e),
    }
}

pub(crate) fn apply_cpuset(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        files::write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        files::write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// Give `dir` its parent's cpus/mems when it has none yet.
pub(crate) fn inherit_cpuset(parent: &Path, dir: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if files::read_trimmed(dir, file)?.is_empty() {
            files::write(dir, file, &files::read_trimmed(parent, file)?)?;
        }
    }
    Ok(())
}

pub(crate) fn apply_blkio(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // 0 means "not set" (docker always sends it), as for the other weights.
    let weights = b.weight().filter(|w| *w != 0);
    let devices = b.weight_device().as_deref().unwrap_or_default();
    if weights.is_some() || !devices.is_empty() {
        // CFQ's files, or on kernels without CFQ (5.0 on) BFQ's, as runc picks them.
        let (weight_file, device_file) = if dir.join("blkio.weight").exists() {
            ("blkio.weight", "blkio.weight_device")
        } else {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        };
        if let Some(w) = weights {
            files::write(dir, weight_file, &w.to_string())?;
        }
        for d in devices {
            if let Some(w) = d.weight().filter(|w| *w != 0) {
                let line = format!("{}:{} {w}", d.major(), d.minor());
                files::write(dir, device_file, &line)?;
            }
        }
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        files::write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for d in devices {
        if let Some(w) = d.leaf_weight().filter(|w| *w != 0) {
            let line = format!("{}:{} {w}", d.major(), d.minor());
            files::write(dir, "blkio.leaf_weight_device", &line)?;
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, devices) in throttles {
        for d in devices.as_deref().unwrap_or_default() {
            let rule = format!("{}:{} {}", d.major(), d.minor(), d.rate());
            files::write(dir, file, &rule)?;
        }
    }
    Ok(())
}

/// The limit caps faults, and where the kernel has reservation accounting (5.7 on) the same
/// limit caps reservations too (`.rsvd.`): the spec's limit is "of reservations (if
/// supported) or usage", and a mapping that reserves pages it never touches is then caught at
/// mmap instead of by a SIGBUS at first touch.
pub(crate) fn apply_hugetlb(dir: &Path, limits_: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for h in limits_ {
        limits::check_page_size(h.page_size())?;
        let value = h.limit().to_string();
        files::write(
            dir,
            &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
            &value,
        )?;
        let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", h.page_size());
        if dir.join(&rsvd).exists() {
            files::write(dir, &rsvd, &value)?;
        }
    }
    Ok(())
}

/// Rules go in spec order: each write edits the kernel's list, and `a` rules reset it.
pub(crate) fn apply_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let lines: Vec<(bool, String)> = rules
        .iter()
        .map(|r| limits::device_rule(r).map(|line| (r.allow(), line)))
        .collect::<Result<_, _>>()?;
    // One rule per write(2), in order, through one open file each.
    let mut allow_file = files::Writer::new(dir, "devices.allow");
    let mut deny_file = files::Writer::new(dir, "devices.deny");
    for (allow, line) in lines {
        match allow {
            true => allow_file.write(&line)?,
            false => deny_file.write(&line)?,
        }
    }
    Ok(())
}

/// net_cls.classid and net_prio.ifpriomap (each in its own hierarchy).
pub(crate) fn apply_net_cls(dir: &Path, class_id: u32) -> Result<(), CgroupError> {
    files::write(dir, "net_cls.classid", &class_id.to_string())
}

pub(crate) fn apply_net_prio(
    dir: &Path,
    priorities: &[oci_spec::runtime::LinuxInterfacePriority],
) -> Result<(), CgroupError> {
    for p in priorities {
        files::write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}
