//! Where and how the container's process runs: execCPUAffinity, ioPriority, the scheduler and
//! the personality (execution domain). Values are checked when the spec is validated; the init and
//! exec'd processes apply them with the functions here.

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType,
    Scheduler,
};

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error("{field}: {value:?} is not a CPU list like \"0-3,7\"")]
    CpuList { field: &'static str, value: String },
    #[error("{field}: set CPU affinity {value:?}: {source}")]
    Affinity {
        field: &'static str,
        value: String,
        #[source]
        source: nix::Error,
    },
    #[error("process.ioPriority.priority: {0} is outside 0-7")]
    IoLevel(i64),
    #[error("process.ioPriority: ioprio_set: {0}")]
    IoPriority(#[source] nix::Error),
    #[error("linux.personality.flags: unknown flag {0:?} (the names of linux/personality.h, such as ADDR_NO_RANDOMIZE)")]
    PersonalityFlag(String),
    #[error("linux.memoryPolicy.{field}: {why}")]
    MemoryPolicyValue { field: &'static str, why: String },
    #[error("linux.memoryPolicy: set_mempolicy {mode} (is it newer than this kernel?): {source}")]
    MemoryPolicy {
        mode: String,
        #[source]
        source: nix::Error,
    },
    #[error("linux.personality: {0}")]
    Personality(#[source] nix::Error),
    #[error("process.scheduler.policy: {0} does not exist in Linux")]
    Policy(String),
    #[error("process.scheduler.{field}: {why}")]
    SchedValue {
        field: &'static str,
        why: &'static str,
    },
    #[error("process.scheduler: sched_setattr: {0}")]
    Scheduler(#[source] nix::Error),
}

/// The kernel's sched_attr for the spec's scheduler, or why it cannot be one.
pub fn sched_attr(s: &Scheduler) -> Result<sys::SchedAttr, SchedError> {
    use LinuxSchedulerPolicy as P;
    let policy = match s.policy() {
        P::SchedOther => 0,
        P::SchedFifo => 1,
        P::SchedRr => 2,
        P::SchedBatch => 3,
        P::SchedIso => return Err(SchedError::Policy("SCHED_ISO".into())),
        P::SchedIdle => 5,
        P::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(SchedError::SchedValue {
            field: "nice",
            why: "must be between -20 and 19",
        });
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = matches!(s.policy(), P::SchedFifo | P::SchedRr);
    if realtime && !(1..=99).contains(&priority) || !realtime && priority != 0 {
        return Err(SchedError::SchedValue {
            field: "priority",
            why: "must be 1-99 for SCHED_FIFO and SCHED_RR, and 0 (or absent) otherwise",
        });
    }
    let deadline = matches!(s.policy(), P::SchedDeadline);
    let (runtime, dl, period) = (
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    );
    if deadline && (runtime == 0 || runtime > dl || (period != 0 && dl > period)) {
        return Err(SchedError::SchedValue {
            field: "runtime",
            why: "SCHED_DEADLINE needs 0 < runtime <= deadline <= period",
        });
    }
    Ok(sys::SchedAttr {
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime,
        deadline: dl,
        period,
        ..Default::default()
    })
}

pub fn set_scheduler(s: &Scheduler) -> Result<(), SchedError> {
    sys::sched_setattr(&sched_attr(s)?).map_err(SchedError::Scheduler)
}

/// "0-3,7" → the CPUs it names.
pub fn parse_cpu_list(field: &'static str, value: &str) -> Result<CpuSet, SchedError> {
    let bad = || SchedError::CpuList {
        field,
        value: value.to_string(),
    };
    let mut set = CpuSet::new();
    let mut any = false;
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: usize = lo.parse().map_err(|_| bad())?;
        let hi: usize = hi.parse().map_err(|_| bad())?;
        if lo > hi || hi >= CpuSet::count() {
            return Err(bad());
        }
        for cpu in lo..=hi {
            set.set(cpu).map_err(|_| bad())?;
            any = true;
        }
    }
    if any {
        Ok(set)
    } else {
        Err(bad())
    }
}

pub fn set_affinity(field: &'static str, value: &str) -> Result<(), SchedError> {
    let set = parse_cpu_list(field, value)?;
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|source| SchedError::Affinity {
        field,
        value: value.to_string(),
        source,
    })
}

/// Every CPU the process's cpuset allows: the kernel narrows a full mask to the cpuset's CPUs,
/// so one call does it without reading the cgroup. Best effort, as in runc: a failure leaves
/// the inherited affinity, which is still a valid one.
pub fn reset_affinity() {
    let mut all = CpuSet::new();
    for cpu in 0..CpuSet::count() {
        let _ = all.set(cpu);
    }
    let _ = sched_setaffinity(Pid::from_raw(0), &all);
}

fn io_class(class: IOPriorityClass) -> u32 {
    match class {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    }
}

pub fn check_io_priority(p: &LinuxIOPriority) -> Result<(), SchedError> {
    if !(0..=7).contains(&p.priority()) {
        return Err(SchedError::IoLevel(p.priority()));
    }
    Ok(())
}

pub fn set_io_priority(p: &LinuxIOPriority) -> Result<(), SchedError> {
    check_io_priority(p)?;
    sys::set_io_priority(io_class(p.class()), p.priority() as u32).map_err(SchedError::IoPriority)
}

/// The personality flags of linux/personality.h, by name.
const PERSONALITY_FLAGS: [(&str, u64); 11] = [
    ("UNAME26", 0x0020000),
    ("ADDR_NO_RANDOMIZE", 0x0040000),
    ("FDPIC_FUNCPTRS", 0x0080000),
    ("MMAP_PAGE_ZERO", 0x0100000),
    ("ADDR_COMPAT_LAYOUT", 0x0200000),
    ("READ_IMPLIES_EXEC", 0x0400000),
    ("ADDR_LIMIT_32BIT", 0x0800000),
    ("SHORT_INODE", 0x1000000),
    ("WHOLE_SECONDS", 0x2000000),
    ("STICKY_TIMEOUTS", 0x4000000),
    ("ADDR_LIMIT_3GB", 0x8000000),
];

/// The persona personality(2) takes: the domain with its flags.
pub fn persona(p: &LinuxPersonality) -> Result<u64, SchedError> {
    const PER_LINUX: u64 = 0x0000;
    const PER_LINUX32: u64 = 0x0008;
    let mut persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    for flag in p.flags().iter().flatten() {
        let bit = PERSONALITY_FLAGS
            .iter()
            .find(|(name, _)| name == flag)
            .ok_or_else(|| SchedError::PersonalityFlag(flag.clone()))?;
        persona |= bit.1;
    }
    Ok(persona)
}

pub fn check_personality(p: &LinuxPersonality) -> Result<(), SchedError> {
    persona(p).map(drop)
}

pub fn set_personality(p: &LinuxPersonality) -> Result<(), SchedError> {
    sys::set_personality(persona(p)? as _).map_err(SchedError::Personality)
}

/// The highest node number a nodes list may name (the kernel's MAX_NUMNODES at most).
const MAX_NODES: usize = 1024;

/// "0-3,7" → the node numbers it names, sorted.
pub fn parse_node_list(value: &str) -> Result<Vec<usize>, String> {
    let mut nodes = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |n: &str| n.trim().parse::<usize>().ok().filter(|&n| n < MAX_NODES);
        match (parse(lo), parse(hi)) {
            (Some(lo), Some(hi)) if lo <= hi => nodes.extend(lo..=hi),
            _ => {
                return Err(format!(
                    "{value:?} is not a node list like \"0-3,7\" (nodes below {MAX_NODES})"
                ))
            }
        }
    }
    nodes.sort_unstable();
    nodes.dedup();
    Ok(nodes)
}

/// The mode word (mode | flags) and node list for set_mempolicy, or why the policy is invalid.
pub fn memory_policy(p: &LinuxMemoryPolicy) -> Result<(i32, Vec<usize>), SchedError> {
    use MemoryPolicyFlagType as F;
    use MemoryPolicyModeType as M;
    let bad = |field, why: &str| SchedError::MemoryPolicyValue {
        field,
        why: why.to_string(),
    };
    let nodes = parse_node_list(p.nodes().as_deref().unwrap_or("")).map_err(|why| {
        SchedError::MemoryPolicyValue {
            field: "nodes",
            why,
        }
    })?;
    let (mode, needs_nodes) = match p.mode() {
        M::MpolDefault => (0, Some(false)),
        M::MpolPreferred => (1, None),
        M::MpolBind => (2, Some(true)),
        M::MpolInterleave => (3, Some(true)),
        M::MpolLocal => (4, Some(false)),
        M::MpolPreferredMany => (5, Some(true)),
        M::MpolWeightedInterleave => (6, Some(true)),
    };
    match needs_nodes {
        Some(true) if nodes.is_empty() => {
            return Err(bad("nodes", &format!("{} needs nodes", p.mode())))
        }
        Some(false) if !nodes.is_empty() => {
            return Err(bad("nodes", &format!("{} takes no nodes", p.mode())))
        }
        _ => {}
    }
    let mut flags = 0;
    for f in p.flags().iter().flatten() {
        flags |= match f {
            F::MpolFNumaBalancing => 1 << 13,
            F::MpolFRelativeNodes => 1 << 14,
            F::MpolFStaticNodes => 1 << 15,
        };
    }
    if flags & (3 << 14) == 3 << 14 {
        return Err(bad(
            "flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    if flags != 0 && mode == 0 {
        return Err(bad("flags", "MPOL_DEFAULT takes no flags"));
    }
    Ok((mode | flags, nodes))
}

/// Nodes the host has online (/sys/devices/system/node/online; a kernel without NUMA has node 0).
fn online_nodes() -> Vec<usize> {
    std::fs::read_to_string("/sys/devices/system/node/online")
        .ok()
        .and_then(|text| parse_node_list(text.trim()).ok())
        .unwrap_or_else(|| vec![0])
}

/// Every node named exists on this host (relative nodes aside: they are numbered within the
/// cpuset's and may name more). Checked at create, before anything is made.
pub fn check_memory_policy_host(p: &LinuxMemoryPolicy) -> Result<(), SchedError> {
    let (mode, nodes) = memory_policy(p)?;
    if mode & (1 << 14) != 0 {
        return Ok(());
    }
    let online = online_nodes();
    if let Some(n) = nodes.iter().find(|n| !online.contains(n)) {
        return Err(SchedError::MemoryPolicyValue {
            field: "nodes",
            why: format!(
                "node {n} is not online on this host (online: {})",
                std::fs::read_to_string("/sys/devices/system/node/online")
                    .map(|t| t.trim().to_string())
                    .unwrap_or_else(|_| "0".into())
            ),
        });
    }
    Ok(())
}

pub fn set_memory_policy(p: &LinuxMemoryPolicy) -> Result<(), SchedError> {
    let (mode, nodes) = memory_policy(p)?;
    let bits = libc::c_ulong::BITS as usize;
    let mut mask: Vec<libc::c_ulong> = Vec::new();
    if let Some(&max) = nodes.last() {
        mask.resize(max / bits + 1, 0);
        for n in nodes {
            mask[n / bits] |= 1 << (n % bits);
        }
    }
    sys::set_mempolicy(mode, &mask).map_err(|source| SchedError::MemoryPolicy {
        mode: p.mode().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        let s = parse_cpu_list("f", "0-2,5").unwrap();
        for cpu in [0, 1, 2, 5] {
            assert!(s.is_set(cpu).unwrap(), "{cpu}");
        }
        assert!(!s.is_set(3).unwrap());
        assert!(parse_cpu_list("f", " 1 ").unwrap().is_set(1).unwrap());
        for bad in ["", "a", "3-1", "1-", "-2", "0,,x", "99999"] {
            assert!(parse_cpu_list("f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn io_priority_levels() {
        let ok: LinuxIOPriority =
            serde_json::from_str(r#"{"class":"IOPRIO_CLASS_IDLE","priority":7}"#).unwrap();
        check_io_priority(&ok).unwrap();
        let bad: LinuxIOPriority =
            serde_json::from_str(r#"{"class":"IOPRIO_CLASS_BE","priority":8}"#).unwrap();
        assert!(check_io_priority(&bad).is_err());
        assert_eq!(io_class(ok.class()), 3);
    }

    #[test]
    fn scheduler_values() {
        let s: Scheduler = serde_json::from_str(
            r#"{"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_RESET_ON_FORK"]}"#,
        )
        .unwrap();
        let a = sched_attr(&s).unwrap();
        assert_eq!((a.policy, a.nice, a.flags), (3, 5, 1));
        for bad in [
            r#"{"policy":"SCHED_FIFO"}"#,
            r#"{"policy":"SCHED_OTHER","priority":5}"#,
            r#"{"policy":"SCHED_ISO"}"#,
            r#"{"policy":"SCHED_OTHER","nice":40}"#,
            r#"{"policy":"SCHED_DEADLINE","runtime":10,"deadline":5}"#,
        ] {
            let s: Scheduler = serde_json::from_str(bad).unwrap();
            assert!(sched_attr(&s).is_err(), "{bad}");
        }
    }

    #[test]
    fn personality_flags() {
        let p: LinuxPersonality = serde_json::from_str(
            r#"{"domain":"LINUX32","flags":["ADDR_NO_RANDOMIZE","READ_IMPLIES_EXEC"]}"#,
        )
        .unwrap();
        assert_eq!(persona(&p).unwrap(), 0x0008 | 0x0040000 | 0x0400000);
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX32"}"#).unwrap();
        assert_eq!(persona(&p).unwrap(), 8);
        let p: LinuxPersonality =
            serde_json::from_str(r#"{"domain":"LINUX","flags":["NO_SUCH_FLAG"]}"#).unwrap();
        let err = check_personality(&p).unwrap_err().to_string();
        assert!(err.starts_with("linux.personality.flags:"), "{err}");
    }

    #[test]
    fn memory_policies() {
        let policy = |json: &str| -> LinuxMemoryPolicy { serde_json::from_str(json).unwrap() };
        let p = policy(r#"{"mode":"MPOL_BIND","nodes":"0-2,5","flags":["MPOL_F_STATIC_NODES"]}"#);
        assert_eq!(memory_policy(&p).unwrap(), (2 | 1 << 15, vec![0, 1, 2, 5]));
        let p = policy(r#"{"mode":"MPOL_DEFAULT"}"#);
        assert_eq!(memory_policy(&p).unwrap(), (0, vec![]));
        let p = policy(r#"{"mode":"MPOL_PREFERRED"}"#);
        assert_eq!(memory_policy(&p).unwrap().0, 1);
        let p = policy(
            r#"{"mode":"MPOL_WEIGHTED_INTERLEAVE","nodes":"0","flags":["MPOL_F_NUMA_BALANCING"]}"#,
        );
        assert_eq!(memory_policy(&p).unwrap().0, 6 | 1 << 13);
        for bad in [
            r#"{"mode":"MPOL_BIND"}"#,
            r#"{"mode":"MPOL_LOCAL","nodes":"0"}"#,
            r#"{"mode":"MPOL_DEFAULT","flags":["MPOL_F_STATIC_NODES"]}"#,
            r#"{"mode":"MPOL_INTERLEAVE","nodes":"3-1"}"#,
            r#"{"mode":"MPOL_INTERLEAVE","nodes":"x"}"#,
            r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_STATIC_NODES","MPOL_F_RELATIVE_NODES"]}"#,
        ] {
            let err = memory_policy(&policy(bad)).unwrap_err().to_string();
            assert!(err.starts_with("linux.memoryPolicy."), "{bad}: {err}");
        }
        assert!(serde_json::from_str::<LinuxMemoryPolicy>(r#"{"mode":"MPOL_NOPE"}"#).is_err());
        assert!(serde_json::from_str::<LinuxMemoryPolicy>(
            r#"{"mode":"MPOL_BIND","nodes":"0","flags":["MPOL_F_NOPE"]}"#
        )
        .is_err());
    }
}
