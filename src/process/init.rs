//! The container init: what the forked child does between clone3 and execve.
//!
//! The steps run in this order, each for a reason:
//!  1. non-dumpable and parent-death signal first, so nothing inside can ptrace or outlive a
//!     runtime that died mid-create;
//!  2. unshare the new namespaces clone3 did not create (all but pid and user), while the
//!     parent creates the cgroup and writes its limits; then wait for Go: until the parent
//!     wrote the id maps, uid 0 means nothing in a new user ns; Go carries the v1 `tasks` files,
//!     and writing "0" to each moves us into the container's cgroup before any container work
//!     (on v2, clone3 placed us there); the initial CPU affinity applies from here on; the
//!     seccomp filter is built and its agent (listenerPath, a host path) connected now,
//!     before any namespace join or pivot_root can hide that path;
//!  3. join namespaces by path (files opened before the first join, while host paths resolve),
//!     then unshare what must come after them (always the cgroup namespace: we are in the
//!     container's cgroup by now, so it becomes the namespace root);
//!  4. setsid and a fresh session keyring (so the caller's keys stay out of reach), hostname;
//!     oom_score_adj and sysctls through the host's /proc, which the image
//!     cannot have tampered with, before the rootfs replaces it;
//!  5. rootfs: mounts, pivot_root, masked and read-only paths;
//!  6. the command is looked up inside the container now, so a missing binary fails `create`;
//!     the AppArmor/SELinux exec labels are written (they take effect at execve; the filter
//!     that follows may forbid the writes);
//!  7. personality; rlimits, I/O priority and the scheduler (raising them needs privileges the
//!     user switch drops); bounding set dropped while we still hold CAP_SETPCAP; cwd entered
//!     while still root and proven to be inside the root (CVE-2024-21626); the user switch with
//!     keepcaps; then the other capability sets and no_new_privs, except that without
//!     no_new_privs and with a filter to load the sets wait for the filter (its load needs
//!     CAP_SYS_ADMIN);
//!  8. SIGPIPE back to default (Rust ignores it) and every fd past the preserved ones
//!     close-on-exec; the parent-death signal dropped, then Ready and wait for Commit: a runtime
//!     dying in between shows as EOF, and the init must outlive a `nook create` that exits
//!     right after Commit;
//!  9. block on start.sock until `nook start` connects; then `finish`: the final CPU affinity
//!     (after the cgroup join, which may have narrowed the CPUs) and a clean signal mask, the
//!     seccomp filter, the capability sets that waited for it, the startContainer hooks (programs
//!     from the image: only under the filter), execve. Everything nook itself needs happens
//!     before the filter, so a profile that denies all but the program's own calls works: with
//!     no_new_privs and no hooks, execve is the one call after the load.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

use nix::sched::{unshare, CloneFlags};
use nix::unistd::{sethostname, setsid};
use oci_spec::runtime::{Hook, LinuxNamespaceType};

use super::attrs::{self};
use super::channel::{Failure, InitEnd};
use super::entry::{
    self, become_process, finish, handshake, initial_affinity, resolve_exec, Exec, InitError,
};
use super::sched::{self};
use crate::hooks::{self};
use crate::logging;
use crate::namespaces::{Opened, Plan};
use crate::rootfs::{self};
use crate::security::lsm::{self};
use crate::security::seccomp::{self};
use crate::spec::Bundle;
use crate::sys;
use crate::tty::{self};

/// What the init needs from the runtime.
pub struct InitArgs<'a> {
    /// The validated config and the rootfs.
    pub bundle: &'a Bundle,
    pub plan: &'a Plan,
    pub no_pivot: bool,
    pub preserve_fds: i32,
    /// The name of a fresh session keyring (the container id), or None for --no-new-keyring.
    pub session_keyring: Option<&'a str>,
    /// Connected --console-socket when process.terminal is set.
    pub console: Option<&'a UnixStream>,
    /// The container cgroup's v1 hierarchies, for a cgroup mount (None: read from /proc).
    pub cgroup_views: Option<Vec<crate::cgroups::V1View>>,
    /// The runtime's copies of bind sources (user namespaces only; see rootfs::BindSources).
    pub bind_sources: &'a rootfs::BindSources,
    /// Stay dumpable until Go: an unprivileged runtime (or newuidmap) writes the id maps, and
    /// the /proc files of a non-dumpable process belong to the host's root.
    pub dumpable_until_go: bool,
}

/// Run the init to the end. Never returns: it execs the container's program or exits.
pub fn run(args: InitArgs<'_>, chan: InitEnd, listener: OwnedFd) -> ! {
    let mut keep = vec![chan.as_raw_fd(), listener.as_raw_fd()];
    keep.extend(args.console.map(|c| c.as_raw_fd()));
    keep.extend(logging::steps_fd());
    keep.extend(args.bind_sources.raw_fds());
    // SAFETY: `keep` holds every fd the init still uses (channel, start socket, console, step
    // log, bind sources); nothing else of the runtime is used in the init again.
    if unsafe { sys::close_fds_from_except(3 + args.preserve_fds, &keep) }.is_err() {
        let reason = "close the runtime's fds in the init".to_string();
        let _ = chan.failed(&Failure::Setup(reason));
        std::process::exit(1);
    }
    let exec = match prepare_init(&args, &chan) {
        Ok(exec) => exec,
        Err(e) => {
            let _ = chan.failed(&Failure::Setup(crate::error_chain(&e)));
            std::process::exit(1);
        }
    };
    drop(chan);
    wait_for_start_and_exec(exec, UnixListener::from(listener))
}

fn prepare_init(args: &InitArgs<'_>, chan: &InitEnd) -> Result<Exec, InitError> {
    entry::prologue(args.dumpable_until_go)?;
    unshare_flags(args.plan.early_unshare)?;
    logging::step("init: namespaces created");
    let (state_json, cgroup_tasks) = chan.wait_go()?;
    if args.dumpable_until_go {
        entry::not_dumpable()?;
    }
    // Before any container work, so that none of it is accounted outside the cgroup.
    crate::cgroups::join_self(&cgroup_tasks).map_err(InitError::CgroupJoin)?;
    drop(cgroup_tasks);
    logging::step("init: go received, cgroup joined");
    let bundle = args.bundle;
    let process = bundle.process();
    initial_affinity(process)?;
    let linux = bundle.linux();
    let mut filter = linux
        .seccomp()
        .as_ref()
        .map(seccomp::Prepared::new)
        .transpose()?;

    enter_namespaces(args.plan)?;
    logging::step("init: namespaces entered");
    if args.plan.in_user_namespace() {
        become_namespace_root()?;
    }
    setsid().map_err(InitError::Setsid)?;
    if let Some(name) = args.session_keyring {
        // Keys of the caller's session must not be reachable from the container. A kernel
        // without keyrings (ENOSYS) has nothing to separate.
        match sys::join_session_keyring(name) {
            Ok(()) | Err(nix::Error::ENOSYS) => {}
            Err(e) => return Err(InitError::Keyring(e)),
        }
    }
    if let Some(name) = bundle.hostname() {
        sethostname(name).map_err(InitError::Hostname)?;
    }
    if let Some(name) = bundle.domainname() {
        sys::set_domainname(name).map_err(InitError::Domainname)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        attrs::write_proc(
            "process.oomScoreAdj",
            "/proc/self/oom_score_adj".into(),
            &adj.to_string(),
        )?;
    }
    for (key, value) in linux.sysctl().iter().flatten() {
        attrs::write_proc(
            &format!("linux.sysctl[{key}]"),
            attrs::sysctl_path(key),
            value,
        )?;
    }

    logging::step("init: hostname, keyring, sysctls");
    // Without a mount namespace of its own the container shares the runtime's mount table:
    // nothing is mounted, pivoted or masked (validation refused masked and read-only paths).
    let private_mounts = crate::spec::has(linux, LinuxNamespaceType::Mount);
    if private_mounts {
        rootfs::prepare(bundle, args.cgroup_views.as_deref(), args.bind_sources)?;
        logging::step("init: mounts prepared");
    }
    let hooks = bundle.hooks();
    let list = |h: Option<&Vec<Hook>>| h.cloned().unwrap_or_default();
    if let Some(h) = hooks {
        if h.prestart().is_some() || h.create_runtime().is_some() {
            chan.run_runtime_hooks()?;
        }
        // In the rootfs, as runc runs them (its init is there until pivot_root).
        hooks::run_all_in(
            "createContainer",
            &list(h.create_container().as_ref()),
            &state_json,
            Some(bundle.rootfs.as_path()),
        )?;
    }
    if private_mounts {
        rootfs::enter(&bundle.rootfs, args.no_pivot)?;
        logging::step("init: pivot_root");
        // The root is ours now, so the path cannot lead out of it; create before a read-only
        // root.
        let cwd = process.cwd();
        std::fs::create_dir_all(cwd).map_err(|source| InitError::CreateCwd {
            path: cwd.clone(),
            source,
        })?;
    }
    if let Some(socket) = args.console {
        let size = process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        tty::setup_console(socket, size, process.user().uid(), private_mounts)?;
    }
    if private_mounts {
        rootfs::finalize(bundle)?;
        logging::step("init: masked and read-only paths");
    }
    let mut exec = resolve_exec(process)?;
    if let Some(h) = hooks {
        exec.start_hooks = list(h.start_container().as_ref());
    }
    exec.state_json = state_json.replace("\"status\":\"creating\"", "\"status\":\"created\"");
    // LSM labels for the execve: after the rootfs (its /proc is the one written to, and is
    // verified as procfs), before any seccomp filter, which may forbid these writes.
    lsm::apply_exec_labels(process)?;

    if let Some(p) = linux.personality() {
        sched::set_personality(p)?;
    }
    if let Some(policy) = linux.memory_policy() {
        sched::set_memory_policy(policy)?;
    }
    exec.caps_after_filter = become_process(process, filter.is_some())?;
    exec.seccomp = filter.take();
    logging::step("init: user, capabilities, limits");
    handshake(chan, args.preserve_fds)?;
    Ok(exec)
}

fn enter_namespaces(plan: &Plan) -> Result<(), InitError> {
    let opened = plan
        .child_joins
        .iter()
        .map(|j| Opened::open(j.typ, j.path.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    for ns in &opened {
        ns.join()?;
    }
    unshare_flags(plan.child_unshare)
}

fn unshare_flags(flags: CloneFlags) -> Result<(), InitError> {
    if flags.is_empty() {
        return Ok(());
    }
    unshare(flags).map_err(|source| InitError::Unshare { flags, source })
}

/// In a user namespace we start as whatever our host uid maps to (often nothing); become the
/// namespace's root so files we create are owned by a mapped id.
fn become_namespace_root() -> Result<(), InitError> {
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid).map_err(InitError::NamespaceRoot)?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid).map_err(InitError::NamespaceRoot)?;
    Ok(())
}

/// Block until `nook start` connects and sends one byte, then execve. If execve fails the
/// reason goes back over the connection so `start` can print it.
fn wait_for_start_and_exec(exec: Exec, listener: UnixListener) -> ! {
    let mut conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => std::process::exit(1),
        }
    };
    let mut byte = [0u8; 1];
    if !matches!(conn.read(&mut byte), Ok(1)) {
        std::process::exit(1);
    }
    drop(listener);
    let (reason, status) = finish(exec);
    let _ = writeln!(conn, "{reason}");
    std::process::exit(status);
}
