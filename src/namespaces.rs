//! Which namespaces are created where, and which are joined where.
//!
//! The order is forced by the kernel:
//! - pid and time namespaces apply to the *children* of the caller, so joining them by path (and
//!   creating a time namespace, whose offsets must be written before anyone is inside) is done by
//!   the runtime just before it forks the init;
//! - a new pid namespace (and a new user namespace, whose id maps the runtime writes) is
//!   created by clone3 itself; the other new namespaces are unshared by the init right after
//!   it starts, while the runtime creates the cgroup and writes its limits (a network
//!   namespace alone costs about 0.6 ms: done in the child, it overlaps the runtime's work
//!   instead of adding to it). Unshared inside the new user namespace, they belong to it;
//! - the cgroup namespace is unshared by the init only after the parent placed it in its cgroup,
//!   so the namespace root is the container's cgroup;
//! - when an existing user namespace is joined, it must be joined first and everything new is
//!   created after, by unshare in the init; a new pid namespace too must belong to it, so then a
//!   short-lived helper joins it and clones the init (as a child of the runtime, CLONE_PARENT)
//!   with the new pid namespace, as runc's nsexec joins the user namespace before it clones.

use std::collections::HashMap;
use std::path::PathBuf;

use std::fs::File;

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc_clone_newtime()),
    }
}

const fn libc_clone_newtime() -> i32 {
    0x0000_0080
}

/// The order namespaces are joined in: user first (it grants the rights to join the rest),
/// mount last (it changes the paths everything else is opened by).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// The namespace's file name under /proc/<pid>/ns.
pub fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NsError {
    #[error("linux.namespaces: open {typ} namespace {path}: {source}")]
    Open {
        typ: LinuxNamespaceType,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("linux.namespaces: join {typ} namespace {path}: {source}")]
    Join {
        typ: LinuxNamespaceType,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
}

/// A namespace file opened now and joined later: opening first, while host paths still
/// resolve, keeps a later join (of a user or mount namespace) from changing what the next
/// path means.
pub struct Opened {
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
    pub file: File,
}

impl Opened {
    pub fn open(typ: LinuxNamespaceType, path: PathBuf) -> Result<Self, NsError> {
        match File::open(&path) {
            Ok(file) => Ok(Opened { typ, path, file }),
            Err(source) => Err(NsError::Open { typ, path, source }),
        }
    }

    pub fn join(&self) -> Result<(), NsError> {
        setns(&self.file, clone_flag(self.typ)).map_err(|source| NsError::Join {
            typ: self.typ,
            path: self.path.clone(),
            source,
        })
    }
}

/// A namespace to enter by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
}

/// The namespace work split between the runtime and the init.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// Joined by the runtime before forking (pid, time: they apply to children only).
    pub parent_joins: Vec<Join>,
    /// The runtime unshares a new time namespace and writes its offsets before forking.
    pub new_time: bool,
    /// Created by clone3: pid and user.
    pub clone_flags: CloneFlags,
    /// Created by the init with unshare as soon as it runs, before it waits for Go.
    pub early_unshare: CloneFlags,
    /// Joined by the init, user namespace first.
    pub child_joins: Vec<Join>,
    /// Created by the init with unshare, after the joins and after the cgroup is joined.
    pub child_unshare: CloneFlags,
    /// A new user namespace whose id maps the runtime writes.
    pub new_user: bool,
    /// A user namespace joined by path before clone3, by a helper, so that the new pid
    /// namespace clone3 creates belongs to it (then it is not in `child_joins`).
    pub user_before_clone: Option<Join>,
}

impl Plan {
    /// Whether the init ends up in a user namespace other than the runtime's.
    pub fn in_user_namespace(&self) -> bool {
        self.new_user
            || self.user_before_clone.is_some()
            || self
                .child_joins
                .iter()
                .any(|j| j.typ == LinuxNamespaceType::User)
    }
}

pub fn plan(namespaces: &[LinuxNamespace]) -> Plan {
    let mut plan = Plan {
        parent_joins: Vec::new(),
        new_time: false,
        clone_flags: CloneFlags::empty(),
        early_unshare: CloneFlags::empty(),
        child_joins: Vec::new(),
        child_unshare: CloneFlags::empty(),
        new_user: false,
        user_before_clone: None,
    };
    let by_type: HashMap<LinuxNamespaceType, Option<PathBuf>> = namespaces
        .iter()
        .map(|n| (n.typ(), n.path().clone()))
        .collect();
    let user_joined = matches!(by_type.get(&LinuxNamespaceType::User), Some(Some(_)));
    // Joins in the child in JOIN_ORDER (pid and time apply to children: the runtime joins
    // those before forking, below).
    let in_child = JOIN_ORDER
        .into_iter()
        .filter(|t| !matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time));
    for typ in in_child {
        match by_type.get(&typ) {
            Some(Some(path)) => plan.child_joins.push(Join {
                typ,
                path: path.clone(),
            }),
            Some(None) if typ == LinuxNamespaceType::Cgroup || user_joined => {
                plan.child_unshare |= clone_flag(typ)
            }
            Some(None) if typ == LinuxNamespaceType::User => plan.clone_flags |= clone_flag(typ),
            Some(None) => plan.early_unshare |= clone_flag(typ),
            None => {}
        }
    }
    for typ in [LinuxNamespaceType::Pid, LinuxNamespaceType::Time] {
        match by_type.get(&typ) {
            Some(Some(path)) => plan.parent_joins.push(Join {
                typ,
                path: path.clone(),
            }),
            Some(None) if typ == LinuxNamespaceType::Time => plan.new_time = true,
            Some(None) => plan.clone_flags |= clone_flag(typ),
            None => {}
        }
    }
    plan.new_user = matches!(by_type.get(&LinuxNamespaceType::User), Some(None));
    if user_joined && plan.clone_flags.contains(CloneFlags::CLONE_NEWPID) {
        plan.user_before_clone = Some(plan.child_joins.remove(0));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_first_mount_last() {
        assert_eq!(JOIN_ORDER[0], LinuxNamespaceType::User);
        assert_eq!(JOIN_ORDER[JOIN_ORDER.len() - 1], LinuxNamespaceType::Mount);
    }

    fn ns(typ: LinuxNamespaceType, path: Option<&str>) -> LinuxNamespace {
        let mut n = LinuxNamespace::default();
        n.set_typ(typ);
        n.set_path(path.map(PathBuf::from));
        n
    }

    #[test]
    fn pid_and_user_come_from_clone_the_rest_from_the_init() {
        use LinuxNamespaceType::*;
        let p = plan(&[
            ns(Pid, None),
            ns(Network, None),
            ns(Mount, None),
            ns(Cgroup, None),
            ns(User, None),
        ]);
        assert_eq!(
            p.clone_flags,
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUSER
        );
        assert_eq!(
            p.early_unshare,
            CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS
        );
        assert_eq!(p.child_unshare, CloneFlags::CLONE_NEWCGROUP);
        assert!(p.new_user);
        assert!(p.child_joins.is_empty() && p.parent_joins.is_empty());
    }

    #[test]
    fn pid_and_time_paths_are_joined_by_the_parent() {
        use LinuxNamespaceType::*;
        let p = plan(&[
            ns(Pid, Some("/proc/1/ns/pid")),
            ns(Time, Some("/proc/1/ns/time")),
            ns(Mount, None),
        ]);
        assert_eq!(p.parent_joins.len(), 2);
        assert_eq!(p.clone_flags, CloneFlags::empty());
        assert_eq!(p.early_unshare, CloneFlags::CLONE_NEWNS);
        let p = plan(&[ns(Time, None), ns(Mount, None)]);
        assert!(p.new_time);
    }

    #[test]
    fn joined_user_namespace_goes_first_and_the_rest_is_unshared_after() {
        use LinuxNamespaceType::*;
        let p = plan(&[
            ns(Network, Some("/run/netns/x")),
            ns(Mount, None),
            ns(User, Some("/proc/9/ns/user")),
            ns(Uts, None),
        ]);
        assert_eq!(p.child_joins[0].typ, User);
        assert_eq!(p.child_joins[1].typ, Network);
        assert_eq!(p.clone_flags, CloneFlags::empty());
        assert!(p.early_unshare.is_empty());
        assert_eq!(
            p.child_unshare,
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
        );
        assert!(!p.new_user);
        assert!(p.user_before_clone.is_none());
    }

    #[test]
    fn joined_user_namespace_with_a_new_pid_namespace_is_joined_before_clone() {
        use LinuxNamespaceType::*;
        let p = plan(&[
            ns(User, Some("/proc/9/ns/user")),
            ns(Pid, None),
            ns(Mount, None),
        ]);
        assert_eq!(p.user_before_clone.as_ref().map(|j| j.typ), Some(User));
        assert!(p.child_joins.is_empty());
        assert_eq!(p.clone_flags, CloneFlags::CLONE_NEWPID);
        assert_eq!(p.child_unshare, CloneFlags::CLONE_NEWNS);
        assert!(p.in_user_namespace());
    }
}
