//! Where and how the container's process runs: execCPUAffinity, ioPriority and the
//! personality (execution domain). Values are checked when the spec is validated; the init and
//! exec'd processes apply them with the functions here.

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain,
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
    fn personality_flags_refused() {
        let p: LinuxPersonality =
            serde_json::from_str(r#"{"domain":"LINUX32","flags":["ADDR_NO_RANDOMIZE"]}"#).unwrap();
        assert!(check_personality(&p).is_err());
        let p: LinuxPersonality = serde_json::from_str(r#"{"domain":"LINUX32"}"#).unwrap();
        check_personality(&p).unwrap();
    }
}
