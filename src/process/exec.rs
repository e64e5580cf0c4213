//! `exec`: a new process inside a running container.
//!
//! The runtime opens the init's namespace files (/proc/<init>/ns/*) and enters its pid and
//! time namespaces itself (they apply to children), then forks the process straight into the
//! container's cgroup where the kernel allows. The child makes itself non-dumpable and closes
//! every runtime fd before it joins anything, so nothing in the container can ptrace it or reach
//! a host fd through it (CVE-2016-9962 class); it joins the user namespace first, the mount
//! namespace last, and then takes on the process definition exactly as the init does.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;

use nix::unistd::{setsid, Pid};
use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::channel::{self, Failure, InitEnd};
use super::entry::{self, InitError};
use super::launch::{LaunchError, Pending};
use crate::cgroups::Cgroup;
use crate::namespaces::{proc_name, NsError, Opened, JOIN_ORDER};
use crate::security::{lsm, seccomp};
use crate::sys::{self, Forked};
use crate::tty;

pub struct ExecRequest<'a> {
    pub init_pid: Pid,
    pub process: &'a Process,
    pub cgroup: &'a Cgroup,
    pub preserve_fds: i32,
    pub console: Option<&'a UnixStream>,
    /// The container's seccomp profile: an exec'd process is filtered like the init.
    pub seccomp: Option<&'a oci_spec::runtime::LinuxSeccomp>,
    /// `linux.memoryPolicy` of the container, set as in the init.
    pub memory_policy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
    /// The container state, for the seccomp agent.
    pub state_json: &'a str,
}

/// The init's namespaces that are not ours, opened now (while /proc/<init> is the process we
/// checked) in join order.
fn container_namespaces(init: Pid) -> Result<Vec<Opened>, NsError> {
    let mut out = Vec::new();
    for typ in JOIN_ORDER {
        let name = proc_name(typ);
        let ns = match Opened::open(typ, format!("/proc/{init}/ns/{name}").into()) {
            Ok(ns) => ns,
            // A kernel without this namespace type: nothing to join.
            Err(NsError::Open { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                continue
            }
            Err(e) => return Err(e),
        };
        let open_err = |source| NsError::Open {
            typ,
            path: ns.path.clone(),
            source,
        };
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}")).map_err(open_err)?;
        let theirs = ns.file.metadata().map_err(open_err)?;
        if (ours.dev(), ours.ino()) != (theirs.dev(), theirs.ino()) {
            out.push(ns);
        }
    }
    Ok(out)
}

/// Fork the exec'd process and drive it to Ready; `commit` on the result lets it execve.
pub fn spawn_exec(args: ExecRequest<'_>) -> Result<Pending, LaunchError> {
    let namespaces = container_namespaces(args.init_pid)?;
    let (parent_end, init_end) = channel::pair()?;
    let cgroup_fd = args.cgroup.clone_into_fd()?;
    let cgroup_tasks = args.cgroup.self_join_files()?;
    // pid and time namespaces apply to children: enter them here, just before the fork. An
    // unprivileged runtime has no right to join them from outside the container's user
    // namespace, which it owns: it joins that first (root keeps its host privileges instead).
    let user_too = !nix::unistd::geteuid().is_root();
    let (for_parent, for_child): (Vec<Opened>, Vec<Opened>) =
        namespaces.into_iter().partition(|n| match n.typ {
            LinuxNamespaceType::Pid | LinuxNamespaceType::Time => true,
            LinuxNamespaceType::User => user_too,
            _ => false,
        });
    for ns in &for_parent {
        ns.join()?;
    }
    // SAFETY: the runtime is single-threaded until execve (no thread, no async runtime).
    let forked = unsafe { sys::fork_with(0, cgroup_fd.as_ref().map(|f| f.as_fd())) }
        .map_err(LaunchError::Fork)?;
    let pid = match forked {
        Forked::Child => {
            drop(parent_end);
            // First, so that nothing the process does is accounted outside the container.
            if let Err(e) = crate::cgroups::join_self(&cgroup_tasks) {
                let reason = format!("join the container's cgroup: {e}");
                // Go first: closing with it unread would reset the connection, and the
                // runtime would see ECONNRESET instead of the reason.
                let _ = init_end.wait_go();
                let _ = init_end.failed(&Failure::Setup(reason));
                std::process::exit(1);
            }
            child(&args, &for_child, init_end)
        }
        Forked::Parent(pid) => pid,
    };
    drop(init_end);
    let mut pending = Pending::new(pid, parent_end);
    if cgroup_fd.is_none() && cgroup_tasks.is_empty() {
        args.cgroup.add_process(pid)?;
    }
    drop(cgroup_tasks);
    pending.go_and_wait_ready("{}")?;
    Ok(pending)
}

fn child(args: &ExecRequest<'_>, namespaces: &[Opened], chan: InitEnd) -> ! {
    let mut keep = vec![chan.as_raw_fd()];
    keep.extend(namespaces.iter().map(|n| n.file.as_raw_fd()));
    keep.extend(args.console.map(|c| c.as_raw_fd()));
    // SAFETY: `keep` holds every fd this process still uses (channel, namespaces, console);
    // nothing else of the runtime is used in the child again.
    let result = unsafe { sys::close_fds_from_except(3 + args.preserve_fds, &keep) }
        .map_err(InitError::Cloexec)
        .and_then(|()| prepare_exec(args, namespaces, &chan));
    match result {
        Ok(exec) => {
            // The channel is close-on-exec: the runtime sees EOF once execve succeeded.
            let (reason, status) = entry::finish(exec);
            let _ = chan.failed(&Failure::Exec(reason));
            std::process::exit(status);
        }
        Err(e) => {
            let _ = chan.failed(&Failure::Setup(crate::error_chain(&e)));
            std::process::exit(1);
        }
    }
}

fn prepare_exec(
    args: &ExecRequest<'_>,
    namespaces: &[Opened],
    chan: &InitEnd,
) -> Result<entry::Exec, InitError> {
    entry::prologue(false)?;
    chan.wait_go()?;
    entry::initial_affinity(args.process)?;
    // Built (and its agent, a host path, connected) before the mount namespace changes.
    let filter = args.seccomp.map(seccomp::Prepared::new).transpose()?;
    for ns in namespaces {
        ns.join()?;
    }
    let process = args.process;
    if let Some(socket) = args.console {
        setsid().map_err(InitError::Setsid)?;
        let size = process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        tty::setup_console(socket, size, process.user().uid(), false)?;
    }
    let mut exec = entry::resolve_exec(process)?;
    // As in the init: labels before any seccomp filter, inside the container's /proc.
    lsm::apply_exec_labels(process)?;
    if let Some(policy) = args.memory_policy {
        super::sched::set_memory_policy(policy)?;
    }
    exec.caps_after_filter = entry::become_process(process, filter.is_some())?;
    entry::handshake(chan, args.preserve_fds)?;
    // Loaded by entry::finish, with nothing but execve (and, without no_new_privs, the
    // capability sets) after it.
    if filter.is_some() {
        // The state goes to the seccomp agent with the notify fd.
        exec.state_json = args.state_json.to_string();
    }
    exec.seccomp = filter;
    Ok(exec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespaces_are_not_joined() {
        let me = Pid::from_raw(std::process::id() as i32);
        let list = container_namespaces(me).unwrap();
        assert!(
            list.is_empty(),
            "joined {} of our own namespaces",
            list.len()
        );
    }
}
