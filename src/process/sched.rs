//! Where and how the container's process runs: execCPUAffinity, ioPriority, the scheduler and
//! the personality (execution domain). Values are checked when the spec is validated; the init and
//! exec'd processes apply them with the functions here.

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
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
    #[error("linux.personality.flags: personality flags are not supported (only the domain)")]
    PersonalityFlags,
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

pub fn check_personality(p: &LinuxPersonality) -> Result<(), SchedError> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(SchedError::PersonalityFlags);
    }
    Ok(())
}

pub fn set_personality(p: &LinuxPersonality) -> Result<(), SchedError> {
    check_personality(p)?;
    const PER_LINUX: u64 = 0x0000;
    const PER_LINUX32: u64 = 0x0008;
    let domain = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    sys::set_personality(domain as _).map_err(SchedError::Personality)
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
    fn personality_flags_refused() {
        let p: LinuxPersonality =
            serde_json::from_str(r#"{"domain":"LINUX32","flags":["ADDR_NO_RANDOMIZE"]}"#).unwrap();
        assert!(check_personality(&p).is_err());
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX32"}"#).unwrap();
        check_personality(&p).unwrap();
    }
}
