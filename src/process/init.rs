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

use std::ffi::CString;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::unistd::{access, execve, getcwd, sethostname, setsid, AccessFlags};
use oci_spec::runtime::{Hook, LinuxNamespaceType, Process, Spec};

use super::attrs::{self, AttrError};
use super::channel::{ChannelError, Failure, InitEnd};
use super::sched::{self, SchedError};
use crate::hooks::{self, HookError};
use crate::logging;
use crate::namespaces::{NsError, Opened, Plan};
use crate::rootfs::{self, RootfsError};
use crate::security::caps::{self, CapSets, CapsError};
use crate::security::lsm::{self, LsmError};
use crate::security::seccomp::{self, SeccompError};
use crate::sys;
use crate::tty::{self, TtyError};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("prctl {what}: {source}")]
    Prctl {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error(transparent)]
    Namespace(#[from] NsError),
    #[error("linux.namespaces: unshare {flags:?}: {source}")]
    Unshare {
        flags: CloneFlags,
        #[source]
        source: nix::Error,
    },
    #[error("setsid: {0}")]
    Setsid(#[source] nix::Error),
    #[error("join the container's cgroup: {0}")]
    CgroupJoin(#[source] nix::Error),
    #[error("join a new session keyring (--no-new-keyring skips it): {0}")]
    Keyring(#[source] nix::Error),
    #[error("hostname: {0}")]
    Hostname(#[source] nix::Error),
    #[error("domainname: {0}")]
    Domainname(#[source] nix::Error),
    #[error(transparent)]
    Attr(#[from] AttrError),
    #[error("rootfs: {0}")]
    Rootfs(#[from] RootfsError),
    #[error(transparent)]
    Caps(#[from] CapsError),
    #[error(transparent)]
    Tty(#[from] TtyError),
    #[error("process.cwd: create {path}: {source}")]
    CreateCwd {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("process.cwd: chdir {path}: {source}")]
    Chdir {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("process.cwd: {path} resolves outside the container root")]
    CwdOutside { path: PathBuf },
    #[error("exec: {0:?}: executable file not found in $PATH")]
    NotFound(String),
    /// Worded as runc words it: docker and podman map "no such file or directory" to 127.
    #[error("exec: {name:?}: stat {name}: {reason}")]
    NotExecutable { name: String, reason: String },
    #[error("exec: {0:?}: contains a NUL byte")]
    Nul(String),
    #[error("mark fds close-on-exec: {0}")]
    Cloexec(#[source] nix::Error),
    #[error("linux.uidMappings: become root in the user namespace (is uid/gid 0 mapped?): {0}")]
    NamespaceRoot(#[source] nix::Error),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Sched(#[from] SchedError),
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error(transparent)]
    Lsm(#[from] LsmError),
}

/// What the init needs from the runtime.
pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
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

/// The program to execve, resolved before we block so `create` reports a missing binary.
pub(crate) struct Exec {
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
    /// `execCPUAffinity.final`, set right before execve (after the cgroup join, which may have
    /// changed the CPUs allowed).
    final_cpus: Option<String>,
    /// startContainer hooks, run in the container after `start` and before execve.
    start_hooks: Vec<Hook>,
    /// The OCI state (status "created"), for startContainer hooks and the seccomp agent.
    pub(crate) state_json: String,
    /// The seccomp filter, loaded by `finish` as the last step but the capability sets below.
    pub(crate) seccomp: Option<seccomp::Prepared>,
    /// Without no_new_privs, the capability sets to take on once the filter is loaded (loading
    /// needed CAP_SYS_ADMIN, which these may not hold).
    pub(crate) caps_after_filter: Option<CapSets>,
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

pub(crate) fn prctl_err(what: &'static str) -> impl FnOnce(nix::Error) -> InitError {
    move |source| InitError::Prctl { what, source }
}

fn prepare_init(args: &InitArgs<'_>, chan: &InitEnd) -> Result<Exec, InitError> {
    use nix::sys::prctl;
    if !args.dumpable_until_go {
        prctl::set_dumpable(false).map_err(prctl_err("PR_SET_DUMPABLE"))?;
    }
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(prctl_err("PR_SET_PDEATHSIG"))?;
    unshare_flags(args.plan.early_unshare)?;
    logging::step("init: namespaces created");
    let (state_json, cgroup_tasks) = chan.wait_go()?;
    if args.dumpable_until_go {
        prctl::set_dumpable(false).map_err(prctl_err("PR_SET_DUMPABLE"))?;
    }
    // Before any container work, so that none of it is accounted outside the cgroup.
    crate::cgroups::join_self(&cgroup_tasks).map_err(InitError::CgroupJoin)?;
    drop(cgroup_tasks);
    logging::step("init: go received, cgroup joined");
    let process = args.spec.process().as_ref().expect("validated");
    initial_affinity(process)?;
    let linux = args.spec.linux().as_ref().expect("validated");
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
    let spec = args.spec;
    if let Some(name) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sethostname(name).map_err(InitError::Hostname)?;
    }
    if let Some(name) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
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
    let private_mounts = crate::spec::has(spec, LinuxNamespaceType::Mount);
    if private_mounts {
        rootfs::prepare(
            spec,
            args.rootfs,
            args.cgroup_views.as_deref(),
            args.bind_sources,
        )?;
        logging::step("init: mounts prepared");
    }
    let hooks = spec.hooks().as_ref();
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
            Some(args.rootfs),
        )?;
    }
    if private_mounts {
        rootfs::enter(args.rootfs, args.no_pivot)?;
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
        rootfs::finalize(spec)?;
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
    exec.caps_after_filter = become_process(process, filter.is_some())?;
    exec.seccomp = filter.take();
    logging::step("init: user, capabilities, limits");
    handshake(chan, args.preserve_fds)?;
    Ok(exec)
}

/// Shared by the init and exec'd processes: take on the process's limits, cwd, user and
/// capabilities. Bounding set first, while CAP_SETPCAP is still ours; cwd entered while still
/// root (as runc does, so a directory only the runtime can reach works; again as the user if
/// root was refused, for root-squashed shares); the user switch with keepcaps so permitted
/// survives it; then the other sets and no_new_privs.
///
/// With a seccomp filter to load and no no_new_privs, the kernel wants CAP_SYS_ADMIN at the
/// load, which the spec's sets may not hold: the effective set is then raised to the permitted
/// one, and the spec's sets are returned, to be set by `finish` right after the filter.
pub(crate) fn become_process(
    process: &Process,
    filter_follows: bool,
) -> Result<Option<CapSets>, InitError> {
    use nix::sys::prctl;
    attrs::set_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    // Before the user switch: raising to the realtime class needs CAP_SYS_ADMIN.
    if let Some(io) = process.io_priority() {
        sched::set_io_priority(io)?;
    }
    // Also before the user switch: a realtime policy or a lower nice needs CAP_SYS_NICE.
    if let Some(s) = process.scheduler() {
        sched::set_scheduler(s)?;
    }
    let cap_sets = CapSets::from_spec(process.capabilities().as_ref())?;
    caps::drop_bounding(&cap_sets)?;
    let cwd_entered = enter_cwd(process.cwd(), true)?;
    prctl::set_keepcaps(true).map_err(prctl_err("PR_SET_KEEPCAPS"))?;
    attrs::switch_user(process.user())?;
    prctl::set_keepcaps(false).map_err(prctl_err("PR_SET_KEEPCAPS"))?;
    if !cwd_entered {
        enter_cwd(process.cwd(), false)?;
    }
    attrs::set_umask(process.user());
    if filter_follows && process.no_new_privileges() != Some(true) {
        caps::raise_effective_to_permitted()?;
        return Ok(Some(cap_sets));
    }
    caps::apply_sets(&cap_sets)?;
    if process.no_new_privileges() == Some(true) {
        prctl::set_no_new_privs().map_err(prctl_err("PR_SET_NO_NEW_PRIVS"))?;
    }
    Ok(None)
}

/// The end of setup: SIGPIPE to default, fds past the preserved ones close-on-exec, then
/// Ready/Commit. From Ready on, a dead runtime shows as EOF on the channel, which ends us, so
/// the parent-death signal goes first: the process must outlive a runtime that exits right
/// after Commit.
pub(crate) fn handshake(chan: &InitEnd, preserve_fds: i32) -> Result<(), InitError> {
    use nix::sys::prctl;
    sys::default_sigpipe().map_err(prctl_err("reset SIGPIPE"))?;
    sys::cloexec_from(3 + preserve_fds).map_err(InitError::Cloexec)?;
    prctl::set_pdeathsig(None).map_err(prctl_err("PR_SET_PDEATHSIG"))?;
    chan.ready()?;
    chan.wait_commit()?;
    Ok(())
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

/// `execCPUAffinity.initial`: the CPUs the process may use while nook still sets it up.
pub(crate) fn initial_affinity(process: &Process) -> Result<(), InitError> {
    let initial = process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().as_deref());
    if let Some(cpus) = initial {
        sched::set_affinity("process.execCPUAffinity.initial", cpus)?;
    }
    Ok(())
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

/// The user's home directory from the container's /etc/passwd, or "/" as runc falls back to.
fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
        })
        .next()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// chdir, then prove the result is under the root: a cwd such as /proc/self/fd/N could
/// otherwise point at a directory outside it. With `may_retry` (still root, before the user
/// switch) a permission error is not final: returns false, to try again as the user.
fn enter_cwd(cwd: &Path, may_retry: bool) -> Result<bool, InitError> {
    match nix::unistd::chdir(cwd) {
        Ok(()) => {}
        Err(nix::Error::EACCES | nix::Error::EPERM) if may_retry => return Ok(false),
        Err(source) => {
            return Err(InitError::Chdir {
                path: cwd.to_path_buf(),
                source,
            })
        }
    }
    match getcwd() {
        Ok(now) if now.starts_with("/") => Ok(true),
        _ => Err(InitError::CwdOutside {
            path: cwd.to_path_buf(),
        }),
    }
}

fn cstring(s: impl AsRef<[u8]>) -> Result<CString, InitError> {
    CString::new(s.as_ref())
        .map_err(|_| InitError::Nul(String::from_utf8_lossy(s.as_ref()).into_owned()))
}

/// Find args[0] the way execvp would, using the container's PATH.
pub(crate) fn resolve_exec(process: &Process) -> Result<Exec, InitError> {
    let args = process.args().as_deref().unwrap_or(&[]);
    let env: Vec<String> = process.env().clone().unwrap_or_default();

    let name = &args[0];
    let path = if name.contains('/') {
        // Checked now, like runc, so `create` (not `start`) reports a missing program.
        let path = PathBuf::from(name);
        if let Err(e) = access(&path, AccessFlags::X_OK) {
            return Err(InitError::NotExecutable {
                name: name.clone(),
                reason: e.desc().to_lowercase(),
            });
        }
        path
    } else {
        let search = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        search
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file() && access(p, AccessFlags::X_OK).is_ok())
            .ok_or_else(|| InitError::NotFound(name.clone()))?
    };
    let mut env = env;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(process.user().uid())));
    }
    Ok(Exec {
        path: cstring(path.as_os_str().as_bytes())?,
        args: args.iter().map(cstring).collect::<Result<_, _>>()?,
        env: env.iter().map(cstring).collect::<Result<_, _>>()?,
        final_cpus: process
            .exec_cpu_affinity()
            .as_ref()
            .and_then(|a| a.cpu_affinity_final().clone()),
        start_hooks: Vec::new(),
        state_json: String::new(),
        seccomp: None,
        caps_after_filter: None,
    })
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

/// The last steps of the init and of an exec'd process, in an order that lets a seccomp profile
/// deny everything but what the program itself needs: the final CPU affinity and a clean signal
/// mask (the runtime may have blocked signals to forward them) come first; then the filter;
/// then, without no_new_privs, the capability sets its load needed to wait for; then the
/// startContainer hooks, which are programs from the image and so run only under the filter;
/// then execve. With no_new_privs and no hooks, execve is the only call after the filter.
/// Returns only when a step failed: the reason, and the status to exit with.
pub(crate) fn finish(mut exec: Exec) -> (String, i32) {
    if let Some(cpus) = &exec.final_cpus {
        if let Err(e) = sched::set_affinity("process.execCPUAffinity.final", cpus) {
            return (crate::error_chain(&e), 1);
        }
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // Room for the report of a failed execve, made now: a profile may deny the allocation.
    let mut report = String::with_capacity(exec.path.as_bytes().len() + 128);
    if let Some(filter) = exec.seccomp.take() {
        if let Err(e) = filter.load(&exec.state_json) {
            return (crate::error_chain(&e), 1);
        }
    }
    if let Some(sets) = exec.caps_after_filter.take() {
        if let Err(e) = caps::apply_sets(&sets) {
            return (crate::error_chain(&e), 1);
        }
    }
    if !exec.start_hooks.is_empty() {
        if let Err(e) = hooks::run_all("startContainer", &exec.start_hooks, &exec.state_json) {
            return (e.to_string(), 1);
        }
    }
    let err = execve(&exec.path, &exec.args, &exec.env).unwrap_err();
    let _ = write!(report, "exec {:?}: {}", exec.path, err.desc());
    (report, 127)
}
