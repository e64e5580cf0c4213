//! Cgroups for an unprivileged user (runc's rootless cgroup manager): use the cgroup when it
//! can be made (a delegated subtree), else go without one as long as nothing needs it.
//!
//! runc's rules, followed here: with no `linux.cgroupsPath` and no limit asked for, a cgroup
//! that cannot be made (permission denied) is skipped; a limit without a cgroup is an error
//! naming the field; a cgroupsPath that cannot be made is an error; device rules are not
//! applied (an unprivileged user cannot write them, and the user namespace already keeps the
//! container from creating device nodes).

use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::LinuxResources;

use super::{Cgroup, CgroupError};

/// Whether cgroups are managed as an unprivileged user: `--rootless` when given, else runc's
/// auto rule as far as it costs one syscall: euid != 0. (runc also counts euid 0 in a user
/// namespace: `container::create` asks [`in_user_namespace`] once a cgroup failed.)
pub fn is_rootless(flag: Option<bool>) -> bool {
    flag.unwrap_or_else(|| !nix::unistd::geteuid().is_root())
}

/// The first field of `linux.resources` that asks for a limit, which only a cgroup can hold.
/// Device rules do not count (see the module doc); empty sections and runc's "unset" zeros
/// neither.
pub fn first_limit(r: &LinuxResources) -> Option<&'static str> {
    fn set<T: serde::Serialize>(v: &Option<T>) -> bool {
        match v.as_ref().map(serde_json::to_value) {
            Some(Ok(serde_json::Value::Object(o))) => o.values().any(|v| !v.is_null()),
            Some(Ok(serde_json::Value::Array(a))) => !a.is_empty(),
            Some(Ok(v)) => !v.is_null(),
            Some(Err(_)) => true,
            None => false,
        }
    }
    let pids = r.pids().as_ref().is_some_and(|p| p.limit() > 0);
    [
        ("linux.resources.memory", set(r.memory())),
        ("linux.resources.cpu", set(r.cpu())),
        ("linux.resources.pids", pids),
        ("linux.resources.blockIO", set(r.block_io())),
        ("linux.resources.hugepageLimits", set(r.hugepage_limits())),
        ("linux.resources.network", set(r.network())),
        (
            "linux.resources.rdma",
            r.rdma().as_ref().is_some_and(|m| !m.is_empty()),
        ),
        (
            "linux.resources.unified",
            r.unified().as_ref().is_some_and(|m| !m.is_empty()),
        ),
    ]
    .into_iter()
    .find_map(|(field, asked)| asked.then_some(field))
}

/// `resources` less its device rules.
pub fn without_devices(r: &LinuxResources) -> LinuxResources {
    let mut r = r.clone();
    r.set_devices(None);
    r
}

/// The cgroup an unprivileged user's container gets: `cgroup` when it can be made (tried, then
/// undone, so that the launch makes it as usual and a failed create removes it), else no
/// cgroup when nothing needs one, else the error saying what needed it.
pub fn for_create(
    cgroup: Cgroup,
    cgroups_path: Option<&Path>,
    resources: Option<&LinuxResources>,
) -> Result<Cgroup, CgroupError> {
    let made = cgroup.create();
    // What the try made goes either way (what it found stays).
    cgroup.undo_create()?;
    match made {
        Ok(()) => Ok(cgroup),
        Err(e) if !is_permission(&e) => Err(e),
        Err(e) if cgroups_path.is_some_and(|p| !p.as_os_str().is_empty()) => Err(e),
        Err(e) => match resources.and_then(first_limit) {
            Some(field) => Err(CgroupError::NoCgroupForLimit {
                field,
                why: crate::error_chain(&e),
            }),
            None => Ok(Cgroup::none()),
        },
    }
}

static IN_USER_NAMESPACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Whether this process is in a user namespace that does not map the whole id range (as
/// runc's RunningInUserNS decides): the initial namespace maps `0 0 4294967295`. Read once
/// per process.
pub fn in_user_namespace() -> bool {
    *IN_USER_NAMESPACE.get_or_init(|| match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
        Err(_) => false,
    })
}

/// [`in_user_namespace`]'s answer if this process already asked (for free), else None.
pub fn in_user_namespace_if_known() -> Option<bool> {
    IN_USER_NAMESPACE.get().copied()
}

/// A failure of an unprivileged user to make or write a cgroup.
pub fn is_permission(e: &CgroupError) -> bool {
    let io = |s: &std::io::Error| {
        matches!(
            s.raw_os_error().map(Errno::from_raw),
            Some(Errno::EACCES | Errno::EPERM | Errno::EROFS)
        )
    };
    match e {
        CgroupError::Mkdir { source, .. } | CgroupError::Write { source, .. } => io(source),
        // cgroup v2 device rules: root of a user namespace may not load or attach eBPF programs.
        CgroupError::Open { source, .. }
        | CgroupError::BpfLoad { source, .. }
        | CgroupError::BpfAttach { source, .. }
        | CgroupError::BpfQuery { source, .. } => {
            matches!(source, Errno::EACCES | Errno::EPERM | Errno::EROFS)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn devices_and_empty_sections_are_no_limit() {
        let r =
            res(r#"{"devices":[{"allow":false,"access":"rwm"}],"memory":{},"pids":{"limit":0}}"#);
        assert_eq!(first_limit(&r), None);
    }

    #[test]
    fn a_limit_is_named_by_its_field() {
        assert_eq!(
            first_limit(&res(r#"{"memory":{"limit":1048576}}"#)),
            Some("linux.resources.memory")
        );
        assert_eq!(
            first_limit(&res(r#"{"pids":{"limit":10}}"#)),
            Some("linux.resources.pids")
        );
    }

    #[test]
    fn without_devices_keeps_the_rest() {
        let r = without_devices(&res(
            r#"{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":1}}"#,
        ));
        assert!(r.devices().is_none());
        assert_eq!(first_limit(&r), Some("linux.resources.memory"));
    }

    #[test]
    fn device_program_refusals_are_permission_failures() {
        let path = std::path::PathBuf::from("/sys/fs/cgroup/c");
        for source in [Errno::EPERM, Errno::EACCES] {
            assert!(is_permission(&CgroupError::BpfLoad {
                path: path.clone(),
                log: String::new(),
                source,
            }));
            assert!(is_permission(&CgroupError::BpfAttach {
                path: path.clone(),
                source,
            }));
            assert!(is_permission(&CgroupError::BpfQuery {
                path: path.clone(),
                source,
            }));
        }
        assert!(!is_permission(&CgroupError::BpfLoad {
            path,
            log: String::new(),
            source: Errno::EINVAL,
        }));
    }
}
