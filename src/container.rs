//! The container lifecycle: create, start, state, kill, delete.
//!
//! ```text
//!   (none) --create--> created --start--> running --(init exits)--> stopped --delete--> (none)
//!                         |                  |  ^
//!                         |               pause  resume
//!                         |                  v  |
//!                         |                 paused
//!                         +-----------------delete (kills the waiting init)------------> (none)
//! ```
//! Status is never stored: it is read off the live system each time (is the recorded init still
//! the same process, is start.sock still there, is the cgroup frozen).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;

use crate::cgroups::{default_devices, rootless, Cgroup, CgroupError};
use crate::hooks::{self, HookError};
use crate::logging;
use crate::process::{
    self,
    launch::{self, LaunchArgs, LaunchError},
};
use crate::spec::{self, SpecError};
use crate::state::{self, ContainerDir, Record, StateError, Status};
use crate::sys;
use crate::tty::{self, TtyError};

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error(transparent)]
    NetDev(#[from] crate::netdev::NetDevError),
    #[error("--pidfd-socket {path}: {what}: {source}")]
    PidfdSocket {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("process.terminal: cannot allocate a tty without --console-socket")]
    TerminalWithoutSocket,
    #[error("--console-socket: process.terminal is false, so there is no tty to send")]
    SocketWithoutTerminal,
    #[error(transparent)]
    Tty(#[from] TtyError),
    #[error("record init start time: {0}")]
    StartTime(#[source] procfs::ProcError),
    #[error("write pid file {path}: {source}")]
    PidFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start a container in status {0}")]
    CannotStart(Status),
    #[error("start container: connect {path}: {source}")]
    StartConnect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("start container: {0}")]
    StartIo(#[source] std::io::Error),
    #[error("start container: {0}")]
    ExecFailed(String),
    #[error("container not running")]
    NotRunning,
    #[error("exec process: {0}")]
    ExecSetup(crate::process::channel::Failure),
    #[error("cannot exec in a stopped container")]
    ExecStopped,
    #[error("cannot exec in a paused container (use --ignore-paused to override)")]
    ExecPaused,
    #[error("container not paused")]
    NotPaused,
    #[error("cannot delete container {id} that is not stopped: {status}")]
    CannotDelete { id: String, status: Status },
    #[error("no such process")]
    NoSuchProcess,
    #[error("signal {signal} to pid {pid}: {source}")]
    Signal {
        signal: &'static str,
        pid: i32,
        #[source]
        source: nix::Error,
    },
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error(transparent)]
    Rdt(#[from] crate::resctrl::RdtError),
    #[error("container {id}: init {pid} did not exit after SIGKILL")]
    StillAlive { id: String, pid: i32 },
}

type Result<T, E = ContainerError> = std::result::Result<T, E>;

/// What `create` was asked to do besides the bundle.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: i32,
    /// For foreground `run`: a terminal container without --console-socket gets a pty whose
    /// master comes back in `Created`, as runc does.
    pub own_pty: bool,
    /// Keep the caller's session keyring instead of a fresh one named after the container.
    pub no_new_keyring: bool,
    /// `--rootless`: None is auto (see [`crate::cgroups::rootless::is_rootless`]).
    pub rootless: Option<bool>,
    /// `--systemd-cgroup`: the cgroup is a scope systemd makes (see cgroups::systemd).
    pub systemd_cgroup: bool,
    /// `--pidfd-socket`: a unix socket that receives a pidfd of the init.
    pub pidfd_socket: Option<PathBuf>,
}

/// A container whose directory, cgroup and init exist; undone on drop unless kept.
struct Undo<'a> {
    dir: Option<ContainerDir>,
    cgroup: Option<&'a Cgroup>,
    rdt: Option<crate::resctrl::Group>,
}

impl Undo<'_> {
    fn keep(mut self) -> ContainerDir {
        self.cgroup = None;
        self.rdt = None;
        self.dir.take().expect("kept once")
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        // If the cgroup will not go, keep the state directory: its record names the cgroup,
        // so `delete --force` can still find and remove it. Without it, nothing could.
        let cgroup_gone = self.cgroup.is_none_or(|cg| cg.undo_create().is_ok());
        let rdt_gone = self.rdt.as_ref().is_none_or(|g| g.remove().is_ok());
        if let Some(dir) = self.dir.take() {
            if cgroup_gone && rdt_gone {
                let _ = dir.remove();
            }
        }
    }
}

/// `create`: set the container up and leave its init blocked before execve.
/// Returns the init's pid; on failure nothing is left behind.
pub fn create(root: &Path, id: &str, bundle: &Path, opts: &CreateOptions) -> Result<Created> {
    let bundle = spec::load(bundle)?;
    logging::step("load and validate config.json");
    // Connected once for both tries below: a console socket may take one connection only
    // (conmon's does, and removes its path once connected).
    let mut console = Console::connect(&bundle, opts)?;
    // Root already known to be in a user namespace (the state dir rule asked: rootless podman's
    // runtime) is rootless at once, by runc's auto rule; the try below would only fail on the
    // cgroup first.
    let known;
    let opts = if opts.rootless.is_none() && rootless::in_user_namespace_if_known() == Some(true) {
        known = CreateOptions {
            rootless: Some(true),
            ..opts.clone()
        };
        &known
    } else {
        opts
    };
    match create_once(root, id, &bundle, opts, &mut console) {
        // runc's auto rule also makes root in a user namespace (one that does not map the
        // whole id range) rootless. Asked only once a cgroup could not be made, so the
        // common path pays nothing; the failed try left nothing behind, and sent nothing
        // on the console socket (the init gets its terminal only after its cgroup is done).
        Err(e)
            if opts.rootless.is_none()
                && e.is_cgroup_permission()
                && rootless::in_user_namespace() =>
        {
            let opts = CreateOptions {
                rootless: Some(true),
                ..opts.clone()
            };
            create_once(root, id, &bundle, &opts, &mut console)
        }
        other => other,
    }
}

/// Where a process's terminal goes: for `terminal: true`, the stream to `--console-socket` that
/// receives its pty master, or with `own_pty` (a foreground `run`/`exec` that proxies the pty
/// itself) one end of a pair, whose other end is returned to receive the master on.
fn console_for(
    process: &oci_spec::runtime::Process,
    socket: Option<&Path>,
    own_pty: bool,
) -> Result<(Option<UnixStream>, Option<UnixStream>)> {
    match (process.terminal() == Some(true), socket) {
        (true, Some(path)) => Ok((Some(tty::connect(path)?), None)),
        (true, None) if own_pty => {
            let (ours, theirs) = UnixStream::pair().map_err(TtyError::Pair)?;
            Ok((Some(theirs), Some(ours)))
        }
        (true, None) => Err(ContainerError::TerminalWithoutSocket),
        (false, Some(_)) => Err(ContainerError::SocketWithoutTerminal),
        (false, None) => Ok((None, None)),
    }
}

/// The caller's sockets of a create, connected once for all its tries (a console socket may
/// take one connection only): `theirs` goes to the init (the caller's --console-socket, or
/// with `own_pty` one end of a socketpair whose other end, `ours`, receives the master), and
/// `pidfd` gets a pidfd of the init.
struct Console {
    theirs: Option<UnixStream>,
    ours: Option<UnixStream>,
    pidfd: Option<PidfdSocket>,
}

impl Console {
    fn connect(bundle: &spec::Bundle, opts: &CreateOptions) -> Result<Console> {
        let (theirs, ours) = console_for(
            bundle.process(),
            opts.console_socket.as_deref(),
            opts.own_pty,
        )?;
        let pidfd = opts
            .pidfd_socket
            .as_deref()
            .map(PidfdSocket::connect)
            .transpose()?;
        Ok(Console {
            theirs,
            ours,
            pidfd,
        })
    }
}

fn create_once(
    root: &Path,
    id: &str,
    bundle: &spec::Bundle,
    opts: &CreateOptions,
    console: &mut Console,
) -> Result<Created> {
    let linux = bundle.linux();
    let devices = linux.devices().as_deref().unwrap_or(&[]);
    let rootless = rootless::is_rootless(opts.rootless);
    let cgroup = if opts.systemd_cgroup {
        // The id may become the scope's unit name: a bad one is refused as an id first.
        crate::id::validate(id).map_err(StateError::from)?;
        Cgroup::resolve_systemd(linux.cgroups_path().as_deref(), id)?
    } else {
        Cgroup::resolve(linux.cgroups_path().as_deref(), id)?
    };
    let (cgroup, resources) = if rootless {
        let resources = linux.resources().as_ref().map(rootless::without_devices);
        let path = linux.cgroups_path().as_deref();
        let cgroup = rootless::for_create(cgroup, path, resources.as_ref())?;
        (cgroup, resources)
    } else {
        let r = default_devices::resources_with_defaults(linux.resources().as_ref(), devices);
        (cgroup, r)
    };
    let net_devices = linux.net_devices().as_ref().filter(|d| !d.is_empty());
    if let Some(devices) = net_devices {
        crate::netdev::check_host(devices)?;
    }
    if let Some(policy) = linux.memory_policy() {
        crate::process::sched::check_memory_policy_host(policy).map_err(SpecError::from)?;
    }
    // Looked for before anything exists: a host without resctrl refuses with nothing to undo.
    let rdt_mount = match linux.intel_rdt() {
        Some(_) => Some(crate::resctrl::host_mount()?),
        None => None,
    };
    let dir = ContainerDir::create(root, id)?;
    let mut record = Record {
        id: id.to_string(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        owner: String::new(),
        annotations: bundle.annotations().cloned().unwrap_or_default(),
        cgroup_path: cgroup.path().to_path_buf(),
        systemd_unit: cgroup.unit().map(String::from),
        hooks: bundle.hooks().cloned(),
        seccomp: linux.seccomp().clone(),
        memory_policy: linux.memory_policy().clone(),
        ..Default::default()
    };
    // First write before anything else exists, so `delete --force` can find the cgroup even
    // if this process is killed at any later point.
    dir.save(&record)?;
    logging::step("state dir and first record");
    let mut undo = Undo {
        dir: Some(dir),
        cgroup: Some(&cgroup),
        rdt: None,
    };
    if let (Some(mount), Some(rdt)) = (&rdt_mount, linux.intel_rdt()) {
        let group = crate::resctrl::setup(mount, rdt, id)?;
        undo.rdt = Some(group.clone());
        record.intel_rdt = Some(group);
        undo.dir.as_ref().expect("set").save(&record)?;
    }
    let dir = undo.dir.as_ref().expect("set");
    let state_json = |pid: Pid| {
        let mut r = record.clone();
        r.pid = pid.as_raw();
        r.state_json(Status::Creating)
    };
    let pending = launch::spawn_init(LaunchArgs {
        bundle,
        start_socket: &dir.start_socket_addr(),
        cgroup: &cgroup,
        resources: resources.as_ref(),
        no_pivot: opts.no_pivot,
        preserve_fds: opts.preserve_fds,
        console: console.theirs.as_ref(),
        session_keyring: (!opts.no_new_keyring).then_some(id),
        state_json: &state_json,
    })?;
    // The init holds its end now; ours must close for a receive to see the init die.
    drop(console.theirs.take());
    logging::step("init set up (rootfs, namespaces, hooks), waiting for start");
    // Declared after `pending`: on a failure below it is dropped first and moves the devices
    // back to the host while the init still lives.
    let moved = match net_devices {
        Some(devices) => Some(crate::netdev::move_in(pending.pid, devices)?),
        None => None,
    };
    if let Some(socket) = &console.pidfd {
        socket.send(pending.pid, "standard")?;
    }
    if let Some(group) = &record.intel_rdt {
        group.join(pending.pid.as_raw())?;
    }
    record.pid = pending.pid.as_raw();
    record.pid_start = state::start_time(pending.pid).map_err(ContainerError::StartTime)?;
    dir.save(&record)?;
    if let Some(path) = &opts.pid_file {
        write_pid_file(path, pending.pid)?;
    }
    let pty_master = console
        .ours
        .as_ref()
        .map(tty::receive_own_master)
        .transpose()?;
    logging::step("record saved");
    let pid = pending.commit().map_err(LaunchError::from)?;
    logging::step("create committed");
    if let Some(moved) = moved {
        moved.keep();
    }
    undo.keep();
    Ok(Created {
        pid,
        pty_master,
        cgroup,
    })
}

impl ContainerError {
    /// A cgroup that could not be made or written for lack of permission.
    fn is_cgroup_permission(&self) -> bool {
        match self {
            ContainerError::Cgroup(e) | ContainerError::Launch(LaunchError::Cgroup(e)) => {
                rootless::is_permission(e)
            }
            _ => false,
        }
    }
}

/// A created container: its init's pid, the pty master when `own_pty` made one, and its
/// cgroup (for a `run` that deletes the container itself: [`delete_run`]).
pub struct Created {
    pub pid: Pid,
    pub pty_master: Option<std::os::fd::OwnedFd>,
    pub cgroup: Cgroup,
}

/// `--pidfd-socket`: connected before anything is made (a socket nobody listens on fails the
/// command up front), then handed a pidfd of the process with SCM_RIGHTS once it exists. The
/// message names the kind of process as runc's does: "standard" for an init, "setns" for an
/// exec'd process.
struct PidfdSocket {
    path: PathBuf,
    conn: UnixStream,
}

impl PidfdSocket {
    fn connect(path: &Path) -> Result<Self> {
        match UnixStream::connect(path) {
            Ok(conn) => Ok(PidfdSocket {
                path: path.to_path_buf(),
                conn,
            }),
            Err(source) => Err(ContainerError::PidfdSocket {
                path: path.to_path_buf(),
                what: "connect",
                source,
            }),
        }
    }

    fn send(&self, pid: Pid, kind: &str) -> Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        use std::os::fd::AsRawFd;
        let err = |what, e: nix::Error| ContainerError::PidfdSocket {
            path: self.path.clone(),
            what,
            source: e.into(),
        };
        let pidfd = sys::pidfd_open(pid).map_err(|e| err("pidfd_open", e))?;
        let fds = [pidfd.as_raw_fd()];
        sendmsg::<()>(
            self.conn.as_raw_fd(),
            &[std::io::IoSlice::new(kind.as_bytes())],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|e| err("send the pidfd", e))?;
        Ok(())
    }
}

/// Write the pid file atomically: callers poll for it and must never read half a number.
pub(crate) fn write_pid_file(path: &Path, pid: Pid) -> Result<()> {
    let err = |source| ContainerError::PidFile {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.nook-tmp"));
    std::fs::write(&tmp, pid.as_raw().to_string()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// The live status of a recorded container.
pub fn status(dir: &ContainerDir, record: &Record) -> Status {
    if record.pid == 0 {
        return if dir.busy() {
            Status::Creating
        } else {
            Status::Stopped
        };
    }
    if !state::process_alive(record.pid, record.pid_start) {
        return Status::Stopped;
    }
    if dir.start_socket().exists() {
        return Status::Created;
    }
    let frozen = Cgroup::of_record(&record.cgroup_path, &record.id)
        .and_then(|cg| cg.is_frozen())
        .unwrap_or(false);
    if frozen {
        Status::Paused
    } else {
        Status::Running
    }
}

/// `state`: the record and its live status, without taking the lock.
pub fn load(root: &Path, id: &str) -> Result<(Record, Status)> {
    let dir = ContainerDir::peek(root, id)?;
    let record = dir.load()?;
    let status = status(&dir, &record);
    Ok((record, status))
}

/// `start`: release the init blocked in create; returns once it has called execve.
pub fn start(root: &Path, id: &str) -> Result<()> {
    start_with(root, id, false)
}

/// `run`'s start: as runc's `run` works in the bundle directory, its poststart hooks run there.
pub fn start_run(root: &Path, id: &str) -> Result<()> {
    start_with(root, id, true)
}

fn start_with(root: &Path, id: &str, hooks_in_bundle: bool) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let record = dir.load()?;
    let status = status(&dir, &record);
    if !status.can_start() {
        return Err(ContainerError::CannotStart(status));
    }
    let path = dir.start_socket();
    let mut conn = UnixStream::connect(dir.start_socket_addr()).map_err(|source| {
        ContainerError::StartConnect {
            path: path.clone(),
            source,
        }
    })?;
    // Gone before the init runs, so nobody sees `created` for a running container.
    let _ = std::fs::remove_file(&path);
    conn.write_all(&[1]).map_err(ContainerError::StartIo)?;
    // The init's end closes on execve (close-on-exec) or carries the reason it failed.
    let mut reason = String::new();
    conn.read_to_string(&mut reason)
        .map_err(ContainerError::StartIo)?;
    if !reason.is_empty() {
        return Err(ContainerError::ExecFailed(reason.trim().to_string()));
    }
    if let Some(poststart) = record.hooks.as_ref().and_then(|h| h.poststart().as_ref()) {
        let dir = hooks_in_bundle.then_some(record.bundle.as_path());
        let state = record.state_json(Status::Running);
        hooks::run_all_in("poststart", poststart, &state, dir)?;
    }
    Ok(())
}

/// `kill`: signal the init, or with `all` every process in the container's cgroup. `None` is
/// signal 0: only whether the init exists (and may be signalled).
pub fn kill(root: &Path, id: &str, signal: Option<Signal>, all: bool) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let record = dir.load()?;
    let status = status(&dir, &record);
    if !status.can_signal() {
        // As runc (1.1 and 1.4 alike): with --all there is nothing left to signal in a stopped
        // container, which is not an error; without it the init is gone, which is.
        if all && status == Status::Stopped {
            return Ok(());
        }
        return Err(ContainerError::NotRunning);
    }
    match signal {
        Some(signal) if all => {
            // The init is in the cgroup too (with cgroup.kill it may be gone already).
            let cgroup = Cgroup::of_record(&record.cgroup_path, id)?;
            if cgroup.is_none() {
                return signal_pid_namespace(&record, signal);
            }
            cgroup.signal_all(signal)?;
            Ok(())
        }
        // A probe of every process answers as the init's does: the container lives while it does.
        _ => signal_init(&record, signal),
    }
}

fn signal_init(record: &Record, signal: Option<Signal>) -> Result<()> {
    match send_signal(Pid::from_raw(record.pid), signal) {
        Ok(()) => Ok(()),
        Err(nix::Error::ESRCH) => Err(ContainerError::NoSuchProcess),
        Err(source) => Err(ContainerError::Signal {
            signal: signal.map_or("0", Signal::as_str),
            pid: record.pid,
            source,
        }),
    }
}

/// `delete`: remove a stopped (or never started) container; with `force`, kill it first.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    delete_with(root, id, force, None, false)
}

/// `run`'s `delete --force` when its start failed: poststop runs in the bundle, as in runc.
pub fn delete_failed_run(root: &Path, id: &str) -> Result<()> {
    delete_with(root, id, true, None, true)
}

/// `run`'s own `delete --force` once its container exited: the cgroup `create` resolved is
/// used again (when the record still names it) rather than found again through
/// /proc/self/mountinfo.
pub fn delete_run(root: &Path, id: &str, cgroup: &Cgroup) -> Result<()> {
    delete_with(root, id, true, Some(cgroup), true)
}

/// `hooks_in_bundle`: for `run`, whose poststop hooks run in the bundle as runc's do.
fn delete_with(
    root: &Path,
    id: &str,
    force: bool,
    known: Option<&Cgroup>,
    hooks_in_bundle: bool,
) -> Result<()> {
    let dir = match ContainerDir::open(root, id) {
        Err(StateError::NotExist(_)) if force => return Ok(()),
        other => other?,
    };
    let record = dir.load()?;
    let status = status(&dir, &record);
    if !force && !status.can_delete() {
        return Err(ContainerError::CannotDelete {
            id: id.to_string(),
            status,
        });
    }
    let resolved;
    let cgroup = match known {
        _ if record.cgroup_path.as_os_str().is_empty() => None,
        Some(cg) if cg.path() == record.cgroup_path => Some(cg),
        _ => {
            resolved = Cgroup::of_record(&record.cgroup_path, id)?
                .with_unit(record.systemd_unit.as_deref());
            Some(&resolved)
        }
    };
    if status != Status::Stopped && status != Status::Creating {
        if let Some(cg) = &cgroup {
            if status == Status::Paused {
                cg.thaw()?;
            }
        }
        stop_init(id, &record)?;
    }
    if let Some(cg) = &cgroup {
        cg.destroy()?;
    }
    if let Some(group) = &record.intel_rdt {
        group.remove()?;
    }
    dir.remove()?;
    // The container is gone whatever poststop says: a failing hook is a warning, and the
    // rest still run (runtime-spec 1.3.0, lifecycle step 13).
    if let Some(poststop) = record.hooks.as_ref().and_then(|h| h.poststop().as_ref()) {
        let dir = hooks_in_bundle.then_some(record.bundle.as_path());
        hooks::run_all_warning(
            "poststop",
            poststop,
            &record.state_json(Status::Stopped),
            dir,
        );
    }
    Ok(())
}

/// SIGKILL the init and wait (bounded) until it is gone, through a pidfd so a recycled pid
/// cannot fool us.
fn stop_init(id: &str, record: &Record) -> Result<()> {
    let pid = Pid::from_raw(record.pid);
    let Ok(pidfd) = sys::pidfd_open(pid) else {
        return Ok(()); // already gone
    };
    if !state::process_alive(record.pid, record.pid_start) {
        return Ok(());
    }
    match send_signal(pid, Signal::SIGKILL) {
        Ok(()) | Err(nix::Error::ESRCH) => {}
        Err(source) => {
            return Err(ContainerError::Signal {
                signal: Signal::SIGKILL.as_str(),
                pid: record.pid,
                source,
            })
        }
    }
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&pidfd),
        PollFlags::POLLIN,
    )];
    let timeout = PollTimeout::try_from(Duration::from_secs(10)).expect("fits");
    match poll(&mut fds, timeout) {
        Ok(n) if n > 0 => Ok(()),
        _ => Err(ContainerError::StillAlive {
            id: id.to_string(),
            pid: record.pid,
        }),
    }
}

/// Every container under the root with its live status.
pub fn list(root: &Path) -> Result<Vec<(Record, Status)>> {
    let mut out = Vec::new();
    for id in state::list_ids(root)? {
        match load(root, &id) {
            Ok(entry) => out.push(entry),
            Err(ContainerError::State(StateError::NotExist(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// `pause`: freeze every process of a running container.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let (_dir, _record, cgroup) = open_live(root, id, Status::Running)?;
    cgroup.freeze()?;
    Ok(())
}

/// `resume`: thaw a paused container.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    let (_dir, _record, cgroup) = open_live(root, id, Status::Paused)?;
    cgroup.thaw()?;
    Ok(())
}

/// The host pids of every process in the container.
pub fn pids(root: &Path, id: &str) -> Result<Vec<Pid>> {
    let dir = ContainerDir::peek(root, id)?;
    let record = dir.load()?;
    let cgroup = Cgroup::of_record(&record.cgroup_path, id)?;
    if cgroup.is_none() {
        return Ok(state::pid_namespace_members(Pid::from_raw(record.pid)));
    }
    Ok(cgroup.pids()?)
}

/// `kill --all` of a container without a cgroup (rootless): every process in the init's pid
/// namespace, which is the container's when it has one of its own (else only the init).
fn signal_pid_namespace(record: &Record, signal: Signal) -> Result<()> {
    let init = Pid::from_raw(record.pid);
    for pid in state::pid_namespace_members(init) {
        match send_signal(pid, Some(signal)) {
            Ok(()) | Err(nix::Error::ESRCH) => {}
            Err(source) => {
                return Err(ContainerError::Signal {
                    signal: signal.as_str(),
                    pid: pid.as_raw(),
                    source,
                })
            }
        }
    }
    Ok(())
}

fn open_live(root: &Path, id: &str, want: Status) -> Result<(ContainerDir, Record, Cgroup)> {
    let dir = ContainerDir::open(root, id)?;
    let record = dir.load()?;
    let status = status(&dir, &record);
    if status != want {
        return Err(match want {
            Status::Paused => ContainerError::NotPaused,
            _ => ContainerError::NotRunning,
        });
    }
    let cgroup = Cgroup::of_record(&record.cgroup_path, id)?;
    Ok((dir, record, cgroup))
}

/// What `exec` was asked to do besides the process itself.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    /// For foreground `exec`: a terminal process without --console-socket gets a pty whose
    /// master comes back in `Execed`, as runc does.
    pub own_pty: bool,
    /// `--pidfd-socket`: a unix socket that receives a pidfd of the process.
    pub pidfd_socket: Option<PathBuf>,
    /// `--cgroup`: sub-cgroups of the container's cgroup to run the process in.
    pub sub_cgroups: Vec<crate::cgroups::SubCgroup>,
}

/// The process definition of the container's config.json, the base `exec <id> cmd` builds on.
pub fn config_process(root: &Path, id: &str) -> Result<oci_spec::runtime::Process> {
    let dir = ContainerDir::peek(root, id)?;
    let record = dir.load()?;
    let spec = spec::parse(&record.bundle.join("config.json"))?;
    Ok(spec.process().clone().unwrap_or_default())
}

/// `exec`: start `process` inside the running container; returns its host pid once it has
/// called execve (or is about to: it has nothing left to fail on but execve itself).
pub fn exec(
    root: &Path,
    id: &str,
    process: &oci_spec::runtime::Process,
    opts: &ExecOptions,
) -> Result<Execed> {
    spec::validate_process(process)?;
    let dir = ContainerDir::peek(root, id)?;
    let record = dir.load()?;
    match status(&dir, &record) {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => return Err(ContainerError::ExecPaused),
        Status::Stopped | Status::Creating => return Err(ContainerError::ExecStopped),
    }
    let (console, own_end) = console_for(process, opts.console_socket.as_deref(), opts.own_pty)?;
    let pidfd_socket = opts
        .pidfd_socket
        .as_deref()
        .map(PidfdSocket::connect)
        .transpose()?;
    let mut cgroup = Cgroup::of_record(&record.cgroup_path, id)?;
    if !opts.sub_cgroups.is_empty() {
        cgroup = cgroup.for_exec(&opts.sub_cgroups)?;
    }
    let pending = process::exec::spawn_exec(process::exec::ExecRequest {
        init_pid: Pid::from_raw(record.pid),
        process,
        cgroup: &cgroup,
        preserve_fds: opts.preserve_fds,
        console: console.as_ref(),
        seccomp: record.seccomp.as_ref(),
        memory_policy: record.memory_policy.as_ref(),
        state_json: &record.state_json(Status::Running),
    })
    .map_err(|e| match e {
        LaunchError::Init(reason) => ContainerError::ExecSetup(reason),
        other => other.into(),
    })?;
    drop(console);
    if let Some(group) = &record.intel_rdt {
        group.join(pending.pid.as_raw())?;
    }
    // Sent before the process reported ready, so this does not block; taken before it runs.
    let pty_master = own_end.as_ref().map(tty::receive_own_master).transpose()?;
    if let Some(socket) = &pidfd_socket {
        socket.send(pending.pid, "setns")?;
    }
    let pid = pending.commit_and_wait_exec().map_err(|e| match e {
        LaunchError::Init(reason) => ContainerError::ExecSetup(reason),
        other => other.into(),
    })?;
    // Only a process that really started gets a pid file; one that cannot be found through its
    // pid file is not left running (as runc does).
    if let Some(path) = &opts.pid_file {
        if let Err(e) = write_pid_file(path, pid) {
            let _ = send_signal(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
            return Err(e);
        }
    }
    Ok(Execed { pid, pty_master })
}

/// An exec'd process: its host pid, and the pty master when `own_pty` made one.
pub struct Execed {
    pub pid: Pid,
    pub pty_master: Option<std::os::fd::OwnedFd>,
}

/// `update`: apply new resource limits to a live container's cgroup.
pub fn update(root: &Path, id: &str, resources: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let record = dir.load()?;
    if !status(&dir, &record).can_signal() {
        return Err(ContainerError::NotRunning);
    }
    let cgroup =
        Cgroup::of_record(&record.cgroup_path, id)?.with_unit(record.systemd_unit.as_deref());
    cgroup.update(resources)?;
    Ok(())
}

/// `update --l3-cache-schema`/`--mem-bw-schema`: new schemata for the container's resctrl
/// group. A container created without `linux.intelRdt` gets a group of its own now, holding
/// its init (processes it already started stay where they are), as runc does.
pub fn update_intel_rdt(root: &Path, id: &str, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let mut record = dir.load()?;
    if !status(&dir, &record).can_signal() {
        return Err(ContainerError::NotRunning);
    }
    let mount = crate::resctrl::host_mount()?;
    let group = match &record.intel_rdt {
        Some(group) => group.clone(),
        None => {
            let group = crate::resctrl::setup(&mount, &Default::default(), id)?;
            record.intel_rdt = Some(group.clone());
            dir.save(&record)?;
            group.join(record.pid)?;
            group
        }
    };
    group.update(l3, mb)?;
    Ok(())
}

/// A container's usage numbers as `events --stats` reports them: its cgroup's statistics and
/// the interfaces of the init's network namespace. `top` and `monitor` read the same.
pub fn stats(cgroup: &Cgroup, record: &Record) -> Result<crate::cgroups::stats::Stats> {
    let mut stats = cgroup.stats()?;
    stats.network_interfaces = crate::cgroups::stats::network_interfaces(record.pid);
    Ok(stats)
}

/// The container's cgroup, for `events`: stats and OOM counts while it lives.
pub fn live_cgroup(root: &Path, id: &str) -> Result<(Cgroup, Status)> {
    let dir = ContainerDir::peek(root, id)?;
    let record = dir.load()?;
    let status = status(&dir, &record);
    if status == Status::Stopped {
        return Err(ContainerError::NotRunning);
    }
    Ok((Cgroup::of_record(&record.cgroup_path, id)?, status))
}
