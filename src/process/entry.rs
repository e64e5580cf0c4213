//! What the container init and every exec'd process do on their way into the program, in one
//! place so both keep the same order: the prologue (not dumpable, the parent-death signal), the
//! program looked up inside the container, limits, cwd, user and capabilities taken on
//! (`become_process`), the handshake with the runtime, and `finish`: the seccomp filter as the
//! last step before execve. The init's own steps (namespaces, rootfs) are in init.rs, an exec's
//! (joining the init's namespaces) in exec.rs.

use std::ffi::{CStr, CString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
use nix::unistd::{access, execve, getcwd, AccessFlags};
use oci_spec::runtime::{Hook, LinuxIOPriority, PosixRlimit, Process, Scheduler, User};

use super::attrs::{self, AttrError};
use super::channel::{ChannelError, InitEnd};
use super::sched::{self, SchedError};
use crate::hooks::{self, HookError};
use crate::namespaces::NsError;
use crate::rootfs::RootfsError;
use crate::security::caps::{self, CapSets, CapsError};
use crate::security::lsm::LsmError;
use crate::security::seccomp::{self, SeccompError};
use crate::sys;
use crate::tty::TtyError;

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
    #[error("process.args: must name a program")]
    NoProgram,
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

/// The program to execve, resolved before we block so `create` reports a missing binary.
pub(crate) struct Exec {
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
    /// `execCPUAffinity.final`, set right before execve (after the cgroup join, which may have
    /// changed the CPUs allowed).
    final_cpus: Option<String>,
    /// startContainer hooks, run in the container after `start` and before execve.
    pub(crate) start_hooks: Vec<Hook>,
    /// The OCI state (status "created"), for startContainer hooks and the seccomp agent.
    pub(crate) state_json: String,
    /// The seccomp filter, loaded by `finish` as the last step but the capability sets below.
    pub(crate) seccomp: Option<seccomp::Prepared>,
    /// Without no_new_privs, the capability sets to take on once the filter is loaded (loading
    /// needed CAP_SYS_ADMIN, which these may not hold).
    pub(crate) caps_after_filter: Option<CapSets>,
}

/// First thing in every container process: not dumpable, so nothing in the container can
/// ptrace it or open its /proc files (an unprivileged runtime's init stays dumpable until its id
/// maps are written, see `InitArgs::dumpable_until_go`), and killed with the runtime until the
/// handshake.
pub(crate) fn prologue(stay_dumpable: bool) -> Result<(), InitError> {
    use nix::sys::prctl;
    if !stay_dumpable {
        not_dumpable()?;
    }
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(prctl_err("PR_SET_PDEATHSIG"))
}

pub(crate) fn not_dumpable() -> Result<(), InitError> {
    nix::sys::prctl::set_dumpable(false).map_err(prctl_err("PR_SET_DUMPABLE"))
}

pub(crate) fn prctl_err(what: &'static str) -> impl FnOnce(nix::Error) -> InitError {
    move |source| InitError::Prctl { what, source }
}

/// The calls `become_process` and `finish` make, as one seam: `Live` makes them; the unit tests
/// (entry_tests.rs) record them and check their order without root. Each method is one step.
pub(crate) trait Calls {
    fn set_rlimits(&mut self, limits: &[PosixRlimit]) -> Result<(), InitError>;
    fn set_io_priority(&mut self, p: &LinuxIOPriority) -> Result<(), InitError>;
    fn set_scheduler(&mut self, s: &Scheduler) -> Result<(), InitError>;
    fn drop_bounding(&mut self, sets: &CapSets) -> Result<(), InitError>;
    /// chdir into the cwd and check it is inside the root; see `enter_cwd`.
    fn enter_cwd(&mut self, cwd: &Path, may_retry: bool) -> Result<bool, InitError>;
    fn set_keepcaps(&mut self, on: bool) -> Result<(), InitError>;
    fn switch_user(&mut self, user: &User) -> Result<(), InitError>;
    fn set_umask(&mut self, user: &User);
    fn raise_effective_to_permitted(&mut self) -> Result<(), InitError>;
    fn apply_caps(&mut self, sets: &CapSets) -> Result<(), InitError>;
    fn set_no_new_privs(&mut self) -> Result<(), InitError>;
    fn set_affinity(&mut self, field: &'static str, cpus: &str) -> Result<(), InitError>;
    fn clear_signal_mask(&mut self);
    fn load_filter(&mut self, filter: seccomp::Prepared, state: &str) -> Result<(), InitError>;
    fn run_start_hooks(&mut self, hooks: &[Hook], state: &str) -> Result<(), HookError>;
    /// Returns only on failure.
    fn execve(&mut self, path: &CStr, args: &[CString], env: &[CString]) -> nix::Error;
}

/// The real calls.
pub(crate) struct Live;

impl Calls for Live {
    fn set_rlimits(&mut self, limits: &[PosixRlimit]) -> Result<(), InitError> {
        Ok(attrs::set_rlimits(limits)?)
    }
    fn set_io_priority(&mut self, p: &LinuxIOPriority) -> Result<(), InitError> {
        Ok(sched::set_io_priority(p)?)
    }
    fn set_scheduler(&mut self, s: &Scheduler) -> Result<(), InitError> {
        Ok(sched::set_scheduler(s)?)
    }
    fn drop_bounding(&mut self, sets: &CapSets) -> Result<(), InitError> {
        Ok(caps::drop_bounding(sets)?)
    }
    fn enter_cwd(&mut self, cwd: &Path, may_retry: bool) -> Result<bool, InitError> {
        enter_cwd(cwd, may_retry)
    }
    fn set_keepcaps(&mut self, on: bool) -> Result<(), InitError> {
        nix::sys::prctl::set_keepcaps(on).map_err(prctl_err("PR_SET_KEEPCAPS"))
    }
    fn switch_user(&mut self, user: &User) -> Result<(), InitError> {
        Ok(attrs::switch_user(user)?)
    }
    fn set_umask(&mut self, user: &User) {
        attrs::set_umask(user)
    }
    fn raise_effective_to_permitted(&mut self) -> Result<(), InitError> {
        Ok(caps::raise_effective_to_permitted()?)
    }
    fn apply_caps(&mut self, sets: &CapSets) -> Result<(), InitError> {
        Ok(caps::apply_sets(sets)?)
    }
    fn set_no_new_privs(&mut self) -> Result<(), InitError> {
        nix::sys::prctl::set_no_new_privs().map_err(prctl_err("PR_SET_NO_NEW_PRIVS"))
    }
    fn set_affinity(&mut self, field: &'static str, cpus: &str) -> Result<(), InitError> {
        Ok(sched::set_affinity(field, cpus)?)
    }
    fn clear_signal_mask(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    }
    fn load_filter(&mut self, filter: seccomp::Prepared, state: &str) -> Result<(), InitError> {
        Ok(filter.load(state)?)
    }
    fn run_start_hooks(&mut self, hooks: &[Hook], state: &str) -> Result<(), HookError> {
        hooks::run_all("startContainer", hooks, state)
    }
    fn execve(&mut self, path: &CStr, args: &[CString], env: &[CString]) -> nix::Error {
        match execve(path, args, env) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
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
    become_process_with(&mut Live, process, filter_follows)
}

pub(crate) fn become_process_with(
    k: &mut impl Calls,
    process: &Process,
    filter_follows: bool,
) -> Result<Option<CapSets>, InitError> {
    k.set_rlimits(process.rlimits().as_deref().unwrap_or(&[]))?;
    // Before the user switch: raising to the realtime class needs CAP_SYS_ADMIN.
    if let Some(io) = process.io_priority() {
        k.set_io_priority(io)?;
    }
    // Also before the user switch: a realtime policy or a lower nice needs CAP_SYS_NICE.
    if let Some(s) = process.scheduler() {
        k.set_scheduler(s)?;
    }
    let cap_sets = CapSets::from_spec(process.capabilities().as_ref())?;
    k.drop_bounding(&cap_sets)?;
    let cwd_entered = k.enter_cwd(process.cwd(), true)?;
    k.set_keepcaps(true)?;
    k.switch_user(process.user())?;
    k.set_keepcaps(false)?;
    if !cwd_entered {
        k.enter_cwd(process.cwd(), false)?;
    }
    k.set_umask(process.user());
    if filter_follows && process.no_new_privileges() != Some(true) {
        k.raise_effective_to_permitted()?;
        return Ok(Some(cap_sets));
    }
    k.apply_caps(&cap_sets)?;
    if process.no_new_privileges() == Some(true) {
        k.set_no_new_privs()?;
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

/// `execCPUAffinity.initial`: the CPUs the process may use while nook still sets it up.
/// Without it, as runc does, the affinity the caller passed down (`taskset -c 0 nook run`) is
/// not kept: the process may use every CPU of its cpuset. Called once in the cgroup.
pub(crate) fn initial_affinity(process: &Process) -> Result<(), InitError> {
    let initial = process
        .exec_cpu_affinity()
        .as_ref()
        .and_then(|a| a.initial().as_deref());
    match initial {
        Some(cpus) => sched::set_affinity("process.execCPUAffinity.initial", cpus)?,
        None => sched::reset_affinity(),
    }
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

    // validate_process refused an empty list; said again here rather than trusted by an index.
    let Some(name) = args.first() else {
        return Err(InitError::NoProgram);
    };
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

/// The last steps of the init and of an exec'd process, in an order that lets a seccomp profile
/// deny everything but what the program itself needs: the final CPU affinity and a clean signal
/// mask (the runtime may have blocked signals to forward them) come first; then the filter;
/// then, without no_new_privs, the capability sets its load needed to wait for; then the
/// startContainer hooks, which are programs from the image and so run only under the filter;
/// then execve. With no_new_privs and no hooks, execve is the only call after the filter.
/// Returns only when a step failed: the reason, and the status to exit with.
pub(crate) fn finish(exec: Exec) -> (String, i32) {
    finish_with(&mut Live, exec)
}

pub(crate) fn finish_with(k: &mut impl Calls, mut exec: Exec) -> (String, i32) {
    if let Some(cpus) = &exec.final_cpus {
        if let Err(e) = k.set_affinity("process.execCPUAffinity.final", cpus) {
            return (crate::error_chain(&e), 1);
        }
    }
    k.clear_signal_mask();
    // Room for the report of a failed execve, made now: a profile may deny the allocation.
    let mut report = String::with_capacity(exec.path.as_bytes().len() + 128);
    if let Some(filter) = exec.seccomp.take() {
        if let Err(e) = k.load_filter(filter, &exec.state_json) {
            return (crate::error_chain(&e), 1);
        }
    }
    if let Some(sets) = exec.caps_after_filter.take() {
        if let Err(e) = k.apply_caps(&sets) {
            return (crate::error_chain(&e), 1);
        }
    }
    if !exec.start_hooks.is_empty() {
        if let Err(e) = k.run_start_hooks(&exec.start_hooks, &exec.state_json) {
            return (e.to_string(), 1);
        }
    }
    let err = k.execve(&exec.path, &exec.args, &exec.env);
    let _ = write!(report, "exec {:?}: {}", exec.path, err.desc());
    (report, 127)
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
