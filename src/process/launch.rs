//! The runtime's side of creating the init: fork it into its namespaces (and cgroup), map its
//! ids, release it, and wait until it is set up and blocked before execve.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use nix::sched::unshare;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxIdMapping};

use super::channel::{self, ChannelError, Failure, ParentEnd};
use super::init::{self, InitArgs};
use crate::cgroups::{Cgroup, CgroupError};
use crate::hooks;
use crate::namespaces::{self, clone_flag, NsError, Opened, Plan};
use crate::spec::Bundle;
use crate::sys::{self, Forked};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("listen on {path}: {source}")]
    Listen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Namespace(#[from] NsError),
    #[error("linux.namespaces: create time namespace: {0}")]
    TimeNamespace(#[source] nix::Error),
    #[error("linux.timeOffsets: write /proc/self/timens_offsets: {0}")]
    TimeOffsets(#[source] std::io::Error),
    #[error("fork container init: {0}")]
    Fork(#[source] nix::Error),
    #[error(
        "fork container init into cgroup {path}: EACCES (moving a process between cgroup2 \
         cgroups needs write access to their common ancestor: an unprivileged runtime must run \
         inside the cgroup subtree delegated to it)"
    )]
    ForkIntoCgroup { path: PathBuf },
    #[error("linux.namespaces: the helper that joins the user namespace: {0}")]
    Helper(#[source] std::io::Error),
    #[error("linux.{which}: write /proc/{pid}/{which}: {source}")]
    IdMap {
        which: &'static str,
        pid: Pid,
        #[source]
        source: std::io::Error,
    },
    #[error("linux.{which}: {helper} {pid}: {detail}")]
    IdMapHelper {
        which: &'static str,
        helper: &'static str,
        pid: Pid,
        detail: String,
    },
    #[error("PR_SET_DUMPABLE around the fork of an unprivileged init: {0}")]
    Dumpable(#[source] nix::Error),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Idmap(#[from] crate::rootfs::idmap::IdmapError),
    #[error("container init: {0}")]
    Init(Failure),
    #[error("container init exited before it was ready: {0}")]
    InitDied(String),
    #[error(
        "container init was OOM-killed while it was set up ({0}): \
         linux.resources.memory.limit is too low to create the container"
    )]
    InitOom(String),
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
}

pub struct LaunchArgs<'a> {
    /// The validated config, the rootfs, and the bundle directory (the runtime-side hooks of
    /// create run there, as runc's do).
    pub bundle: &'a Bundle,
    pub start_socket: &'a Path,
    /// Created by `spawn`: the part clone3 needs before the fork, the rest (and these
    /// limits) after it, while the init creates its namespaces.
    pub cgroup: &'a Cgroup,
    pub resources: Option<&'a oci_spec::runtime::LinuxResources>,
    pub no_pivot: bool,
    pub preserve_fds: i32,
    pub console: Option<&'a std::os::unix::net::UnixStream>,
    pub session_keyring: Option<&'a str>,
    /// The OCI state JSON (status "creating") for the init's pid, handed to hooks.
    pub state_json: &'a dyn Fn(Pid) -> String,
}

/// A set-up init waiting for Commit. Dropping it without `commit` kills the init.
pub struct Pending {
    pub pid: Pid,
    chan: Option<ParentEnd>,
}

impl Pending {
    pub(crate) fn new(pid: Pid, chan: ParentEnd) -> Self {
        Pending {
            pid,
            chan: Some(chan),
        }
    }

    /// Release the child with Go and wait until it is set up (or carry back why not).
    pub(crate) fn go_and_wait_ready(&mut self, state_json: &str) -> Result<(), LaunchError> {
        let chan = self.chan.as_ref().expect("not committed yet");
        chan.go(state_json, &[])?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), LaunchError> {
        let chan = self.chan.as_ref().expect("not committed yet");
        match chan.wait_ready() {
            Ok(()) => Ok(()),
            Err(ChannelError::ChildFailed(reason)) => Err(LaunchError::Init(reason)),
            Err(ChannelError::Closed { .. }) => {
                // Reaped here, so Drop must not signal a pid that may be reused already.
                self.chan = None;
                Err(LaunchError::InitDied(exit_description(self.pid)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Let an exec'd process go and wait until its execve succeeded (or say why it failed).
    pub fn commit_and_wait_exec(mut self) -> Result<Pid, LaunchError> {
        let chan = self.chan.take().expect("commit once");
        chan.commit()?;
        match chan.wait_exec() {
            Ok(()) => Ok(self.pid),
            Err(ChannelError::ChildFailed(reason)) => {
                // It exits right after reporting; reap it so no zombie is left behind.
                let _ = waitpid(self.pid, None);
                Err(LaunchError::Init(reason))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Tell the init its state is saved; from now on it lives without us.
    pub fn commit(mut self) -> Result<Pid, ChannelError> {
        let chan = self.chan.take().expect("commit once");
        chan.commit()?;
        Ok(self.pid)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.chan.is_some() {
            reap(self.pid);
        }
    }
}

/// Kill and reap an init that will not be used.
fn reap(pid: Pid) {
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

/// Fork the init and drive it to the point where it waits for Commit.
pub fn spawn_init(args: LaunchArgs<'_>) -> Result<Pending, LaunchError> {
    let linux = args.bundle.linux();
    let plan = namespaces::plan(crate::spec::namespaces(linux));
    let listener = UnixListener::bind(args.start_socket).map_err(|source| LaunchError::Listen {
        path: args.start_socket.to_path_buf(),
        source,
    })?;
    let (parent_end, init_end) = channel::pair()?;
    let cgroup_fd = args.cgroup.create_clone_target()?;
    enter_parent_namespaces(&plan, linux)?;
    // Made as the host's root, before the init is in its user namespace (see BindSources).
    let bind_sources = crate::rootfs::BindSources::prepare(args.bundle, plan.in_user_namespace())?;

    let into_cgroup = cgroup_fd.as_ref().map(|f| f.as_fd());
    // An unprivileged runtime writes the maps of a child that must stay dumpable until then
    // (see InitArgs::dumpable_until_go): the flag is inherited through the fork.
    let unprivileged_maps = plan.new_user && !nix::unistd::geteuid().is_root();
    if unprivileged_maps {
        nix::sys::prctl::set_dumpable(true).map_err(LaunchError::Dumpable)?;
    }
    let forked = match &plan.user_before_clone {
        None => {
            // SAFETY: the runtime is single-threaded until execve (no thread, no async runtime).
            unsafe { sys::fork_with(plan.clone_flags.bits() as u64, into_cgroup) }.map_err(|e| {
                match e {
                    nix::Error::EACCES if into_cgroup.is_some() => LaunchError::ForkIntoCgroup {
                        path: args.cgroup.path().to_path_buf(),
                    },
                    e => LaunchError::Fork(e),
                }
            })?
        }
        Some(user) => fork_in_user_namespace(user, plan.clone_flags, into_cgroup)?,
    };
    let pid = match forked {
        Forked::Child => {
            drop(parent_end);
            let init_args = InitArgs {
                bundle: args.bundle,
                plan: &plan,
                no_pivot: args.no_pivot,
                preserve_fds: args.preserve_fds,
                console: args.console,
                session_keyring: args.session_keyring,
                cgroup_views: args.cgroup.v1_views(),
                bind_sources: &bind_sources,
                dumpable_until_go: unprivileged_maps,
            };
            init::run(init_args, init_end, OwnedFd::from(listener));
        }
        Forked::Parent(pid) => pid,
    };
    if unprivileged_maps {
        nix::sys::prctl::set_dumpable(false).map_err(LaunchError::Dumpable)?;
    }
    crate::logging::step("forked the init (clone with namespaces)");
    drop(init_end);
    drop(listener);
    drop(bind_sources);
    let mut pending = Pending::new(pid, parent_end);
    if plan.new_user {
        write_id_maps(pid, linux)?;
    }
    args.cgroup.place_init(pid, args.resources)?;
    // The init unshares its namespaces meanwhile; it joins the v1 hierarchies (through the
    // tasks files sent with Go) only after the limits are written.
    args.cgroup.create_rest()?;
    if let Some(resources) = args.resources {
        args.cgroup.apply(resources)?;
    }
    crate::logging::step("cgroup created and limits applied");
    let cgroup_tasks = args.cgroup.self_join_files()?;
    if cgroup_fd.is_none() && cgroup_tasks.is_empty() {
        args.cgroup.add_process(pid)?;
    }
    let chan = pending.chan.as_ref().expect("set above");
    let state_json = (args.state_json)(pid);
    if let Err(e) = chan.go(&state_json, &cgroup_tasks) {
        // The init may have failed before it read Go (creating its namespaces): its reason is
        // waiting in the socket, and says more than "broken pipe".
        let peer_gone = matches!(
            e,
            ChannelError::Send {
                source: nix::Error::EPIPE | nix::Error::ECONNRESET,
                ..
            }
        );
        let e = match peer_gone.then(|| pending.wait_ready()) {
            Some(Err(reported @ LaunchError::Init(_))) => reported,
            _ => e.into(),
        };
        return Err(oom_explained(e, args.cgroup));
    }
    drop(cgroup_tasks);
    crate::logging::step("id maps and cgroup done, go sent");
    if let Some(hooks) = args.bundle.hooks() {
        if hooks.prestart().is_some() || hooks.create_runtime().is_some() {
            wait_for(chan.wait_run_hooks())?;
            let list = |h: &Option<Vec<oci_spec::runtime::Hook>>| h.clone().unwrap_or_default();
            let dir = Some(args.bundle.dir.as_path());
            hooks::run_all_in("prestart", &list(hooks.prestart()), &state_json, dir)?;
            hooks::run_all_in(
                "createRuntime",
                &list(hooks.create_runtime()),
                &state_json,
                dir,
            )?;
            chan.hooks_done()?;
        }
    }
    pending
        .wait_ready()
        .map_err(|e| oom_explained(e, args.cgroup))?;
    Ok(pending)
}

/// Fork the init with `flags` from a helper that joined `user` first, so that the new pid
/// namespace belongs to that user namespace (the runtime itself cannot join it: it would lose
/// its privileges over the host). With CLONE_PARENT the init is still the runtime's child; the
/// helper reports its pid, or why it failed, through a socket and exits.
fn fork_in_user_namespace(
    user: &namespaces::Join,
    flags: nix::sched::CloneFlags,
    into_cgroup: Option<std::os::fd::BorrowedFd<'_>>,
) -> Result<Forked, LaunchError> {
    use std::io::{Read, Write};
    let ns = Opened::open(user.typ, user.path.clone())?;
    let (mut report_rx, mut report_tx) =
        std::os::unix::net::UnixStream::pair().map_err(LaunchError::Helper)?;
    // SAFETY: the runtime is single-threaded until execve (no thread, no async runtime).
    match unsafe { sys::fork_with(0, None) }.map_err(LaunchError::Fork)? {
        Forked::Child => {
            drop(report_rx);
            let flags = (flags | nix::sched::CloneFlags::CLONE_PARENT).bits() as u64;
            let cloned = ns.join().map_err(|e| e.to_string()).and_then(|()| {
                // SAFETY: the helper is a fork of the single-threaded runtime.
                unsafe { sys::fork_with(flags, into_cgroup) }
                    .map_err(|e| format!("fork container init: {e}"))
            });
            let report = match cloned {
                // The init: the helper's ends of the socket close as this returns.
                Ok(Forked::Child) => return Ok(Forked::Child),
                Ok(Forked::Parent(pid)) => pid.to_string(),
                Err(reason) => reason,
            };
            let _ = report_tx.write_all(report.as_bytes());
            std::process::exit(0);
        }
        Forked::Parent(helper) => {
            drop(report_tx);
            let mut report = String::new();
            let read = report_rx.read_to_string(&mut report);
            let _ = waitpid(helper, None);
            read.map_err(LaunchError::Helper)?;
            match report.parse::<i32>() {
                Ok(pid) => Ok(Forked::Parent(Pid::from_raw(pid))),
                Err(_) if report.is_empty() => Err(LaunchError::InitDied(
                    "the helper that joins the user namespace reported nothing".into(),
                )),
                Err(_) => Err(LaunchError::Init(Failure::Setup(report))),
            }
        }
    }
}

/// The init's namespaces are charged to the container's cgroup (on v2 from clone3 on): a
/// memory limit below that kills it when written. Say so rather than only "killed".
fn oom_explained(e: LaunchError, cgroup: &Cgroup) -> LaunchError {
    match e {
        LaunchError::InitDied(how) if cgroup.oom_kills() > 0 => LaunchError::InitOom(how),
        LaunchError::Channel(c) if cgroup.oom_kills() > 0 => LaunchError::InitOom(c.to_string()),
        other => other,
    }
}

/// A failure reported by the init reads as the init's own error.
fn wait_for(r: Result<(), ChannelError>) -> Result<(), LaunchError> {
    match r {
        Err(ChannelError::ChildFailed(reason)) => Err(LaunchError::Init(reason)),
        other => Ok(other?),
    }
}

fn exit_description(pid: Pid) -> String {
    use nix::sys::wait::WaitStatus;
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, code)) => format!("exit status {code}"),
        Ok(WaitStatus::Signaled(_, sig, _)) => format!("killed by {sig}"),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("wait: {e}"),
    }
}

/// pid and time namespaces apply to our children: join or create them here, just before fork.
fn enter_parent_namespaces(plan: &Plan, linux: &Linux) -> Result<(), LaunchError> {
    for join in &plan.parent_joins {
        Opened::open(join.typ, join.path.clone())?.join()?;
    }
    if plan.new_time {
        unshare(clone_flag(oci_spec::runtime::LinuxNamespaceType::Time))
            .map_err(LaunchError::TimeNamespace)?;
        if let Some(offsets) = linux.time_offsets() {
            let text = timens_offsets(offsets);
            if !text.is_empty() {
                std::fs::write("/proc/self/timens_offsets", text)
                    .map_err(LaunchError::TimeOffsets)?;
            }
        }
    }
    Ok(())
}

/// The kernel's format: one `<clock> <secs> <nanosecs>` line per clock.
pub fn timens_offsets(
    offsets: &std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset>,
) -> String {
    let mut clocks: Vec<_> = offsets.iter().collect();
    clocks.sort_by_key(|(k, _)| k.as_str());
    clocks
        .into_iter()
        .map(|(clock, o)| {
            format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            )
        })
        .collect()
}

/// The kernel's format for uid_map/gid_map: `<inside> <outside> <count>` per line.
pub fn id_map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn write_id_maps(pid: Pid, linux: &Linux) -> Result<(), LaunchError> {
    let uids = linux.uid_mappings().as_deref().unwrap_or(&[]);
    let gids = linux.gid_mappings().as_deref().unwrap_or(&[]);
    let euid = nix::unistd::geteuid();
    if euid.is_root() {
        write_map(pid, "uid_map", uids)?;
        return write_map(pid, "gid_map", gids);
    }
    // Unprivileged, the kernel takes one map line naming the writer's own id (and a gid map
    // only once setgroups is denied); anything more goes through the setuid helpers, which
    // check the ranges against /etc/subuid and /etc/subgid.
    if is_self_map(uids, euid.as_raw()) {
        write_map(pid, "uid_map", uids)?;
    } else {
        run_map_helper(pid, "uid_map", "newuidmap", uids)?;
    }
    if is_self_map(gids, nix::unistd::getegid().as_raw()) {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny").map_err(|source| {
            LaunchError::IdMap {
                which: "setgroups",
                pid,
                source,
            }
        })?;
        write_map(pid, "gid_map", gids)
    } else {
        run_map_helper(pid, "gid_map", "newgidmap", gids)
    }
}

fn write_map(pid: Pid, which: &'static str, maps: &[LinuxIdMapping]) -> Result<(), LaunchError> {
    std::fs::write(format!("/proc/{pid}/{which}"), id_map_text(maps))
        .map_err(|source| LaunchError::IdMap { which, pid, source })
}

/// One mapping of `size` 1 onto `own`: what an unprivileged process may write itself.
fn is_self_map(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.size() == 1 && m.host_id() == own)
}

/// `newuidmap <pid> <inside> <outside> <count>...` (newgidmap alike).
pub fn map_helper_args(pid: Pid, maps: &[LinuxIdMapping]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    args
}

fn run_map_helper(
    pid: Pid,
    which: &'static str,
    helper: &'static str,
    maps: &[LinuxIdMapping],
) -> Result<(), LaunchError> {
    let err = |detail: String| LaunchError::IdMapHelper {
        which,
        helper,
        pid,
        detail,
    };
    let out = std::process::Command::new(helper)
        .args(map_helper_args(pid, maps))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            err(format!(
                "{e} (mappings beyond the user's own id need {helper}, from the uidmap package)"
            ))
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(err(format!("{}: {}", out.status, stderr.trim())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_map_format() {
        let maps: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":100000,"size":65536}]"#).unwrap();
        assert_eq!(id_map_text(&maps), "0 100000 65536\n");
    }

    #[test]
    fn map_helper_takes_triples_after_the_pid() {
        let maps: Vec<LinuxIdMapping> = serde_json::from_str(
            r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#,
        )
        .unwrap();
        assert_eq!(
            map_helper_args(Pid::from_raw(42), &maps),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
        assert!(!is_self_map(&maps, 1000));
        assert!(is_self_map(&maps[..1], 1000));
        assert!(!is_self_map(&maps[..1], 1001));
    }

    #[test]
    fn timens_format_is_sorted() {
        let offsets: std::collections::HashMap<String, oci_spec::runtime::LinuxTimeOffset> =
            serde_json::from_str(
                r#"{"monotonic":{"secs":10},"boottime":{"secs":-5,"nanosecs":7}}"#,
            )
            .unwrap();
        assert_eq!(timens_offsets(&offsets), "boottime -5 7\nmonotonic 10 0\n");
    }
}
