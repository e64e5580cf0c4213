//! `checkpoint` and `restore`: a running container's processes saved to CRIU images, and a new
//! container made from them. CRIU does the work ([`crate::criu`]); nook tells it what belongs to
//! the host rather than to the container (bind mounts, the cgroup views, a joined network
//! namespace, the stdio pipes), keeps that beside the images, and on restore makes the cgroup
//! and the state a container has.
//!
//! Files nook writes into the image directory besides CRIU's: `descriptors.json` (what fds 0-2
//! of the init were, as runc writes it), `config.json` (the bundle's config at checkpoint time)
//! and `nook-checkpoint.json` ([`Saved`]).

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use serde::{Deserialize, Serialize};

use crate::cgroups::{default_devices, Cgroup, CgroupError};
use crate::container::{self, ContainerError};
use crate::criu::{self, rpc, CriuError, Log, Swrk};
use crate::mountinfo;
use crate::spec::{self, SpecError};
use crate::state::{self, ContainerDir, Record, StateError, Status};

const DESCRIPTORS: &str = "descriptors.json";
const SAVED: &str = "nook-checkpoint.json";
/// CRIU's key for a network namespace that is not the container's own (runc's name for it).
const EXT_NET_NS: &str = "extRootNetNS";
const CRIU_ROOT: &str = "criu-root";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Criu(#[from] CriuError),
    #[error("container is not running (status {0})")]
    NotRunning(Status),
    #[error("{flag}: {why}")]
    Unsupported { flag: &'static str, why: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {path}: {source}")]
    Sys {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("--image-path {path}: not a checkpoint (no CRIU inventory.img in it)")]
    NoImages { path: PathBuf },
    #[error("--image-path {path}: {file} is not valid: {source}")]
    BadSaved {
        path: PathBuf,
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("restore: CRIU reported no pid for the restored init")]
    NoPid,
}

type Result<T, E = CheckpointError> = std::result::Result<T, E>;

fn io<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> CheckpointError + 'a {
    move |source| CheckpointError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn sys<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(nix::Error) -> CheckpointError + 'a {
    move |source| CheckpointError::Sys {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The options both verbs pass to CRIU as they are.
#[derive(Debug, Default, Clone)]
pub struct CriuFlags {
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    /// `--manage-cgroups-mode` (None: CRIU's default, soft).
    pub cgroups_mode: Option<rpc::CgMode>,
    /// `--empty-ns`: CLONE_NEW* bits of namespaces CRIU makes empty instead of restoring.
    pub empty_ns: u32,
}

#[derive(Debug, Default, Clone)]
pub struct CheckpointOptions {
    pub criu: PathBuf,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_skip_in_flight: bool,
    pub link_remap: bool,
    pub pre_dump: bool,
    pub parent_path: Option<String>,
    pub auto_dedup: bool,
    /// `--page-server ADDRESS:PORT`: pages go to a CRIU page server there.
    pub page_server: Option<(String, i32)>,
    pub flags: CriuFlags,
}

#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    pub criu: PathBuf,
    /// `--console-socket`: where the restored terminal's pty master goes.
    pub console_socket: Option<PathBuf>,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub flags: CriuFlags,
}

/// One mount CRIU must treat as external: its key (the mount point in the container) and how
/// restore finds the host side again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMount {
    pub destination: PathBuf,
    pub kind: ExternalKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ExternalKind {
    /// A bind mount of the spec: the config's source (restore takes its own config's).
    Bind { source: PathBuf },
    /// A v1 hierarchy under the cgroup mount, named as its directory there (`cpu,cpuacct`).
    CgroupV1 { hierarchy: String },
    /// The container's cgroup2 directory bound at the cgroup mount.
    CgroupV2,
    /// A node of the host's /dev bound into the container (a device in a user namespace, a
    /// masked file covered with /dev/null): the same host path on restore.
    HostDev { source: PathBuf },
}

/// What nook keeps beside CRIU's images.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    pub id: String,
    pub bundle: PathBuf,
    pub external_mounts: Vec<ExternalMount>,
    /// The inode of a network namespace the container joined (not its own), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_net_ns: Option<u64>,
}

/// Whether a spec mount is a bind (type "bind", or a "bind"/"rbind" option).
fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_deref()
            .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
}

fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        if let std::path::Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

/// The mounts of a running container that come from the host, from the spec and the
/// container's own mount table (`mountinfo` of its init).
fn external_mounts(spec: &Spec, container_mountinfo: &str) -> Vec<ExternalMount> {
    let mut out = Vec::new();
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    let table = mountinfo::parse_mountinfo(container_mountinfo);
    // Nodes of the host's devtmpfs: the container's own /dev is a tmpfs, so any devtmpfs mount
    // came from the host.
    for line in table.iter().filter(|l| l.fstype == "devtmpfs") {
        let inner = line.root.strip_prefix("/").unwrap_or(&line.root);
        out.push(ExternalMount {
            destination: line.mount_point.clone(),
            kind: ExternalKind::HostDev {
                source: Path::new("/dev").join(inner),
            },
        });
    }
    for m in mounts {
        let dest = clean(m.destination());
        if is_bind(m) {
            out.push(ExternalMount {
                destination: dest,
                kind: ExternalKind::Bind {
                    source: m.source().clone().unwrap_or_default(),
                },
            });
        } else if m.typ().as_deref() == Some("cgroup") {
            // Binds of the host's cgroup directories (no cgroup namespace): a fresh cgroup
            // mount has its filesystem root as its root.
            for line in table.iter().filter(|l| l.root != Path::new("/")) {
                if line.fstype == "cgroup" && line.mount_point.parent() == Some(dest.as_path()) {
                    let hierarchy = line
                        .mount_point
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out.push(ExternalMount {
                        destination: line.mount_point.clone(),
                        kind: ExternalKind::CgroupV1 { hierarchy },
                    });
                } else if line.fstype == "cgroup2" && line.mount_point == dest {
                    out.push(ExternalMount {
                        destination: dest.clone(),
                        kind: ExternalKind::CgroupV2,
                    });
                }
            }
        }
    }
    out
}

/// A joined network namespace (a path in the spec), as CRIU's `external` names it.
fn external_net_ns(spec: &Spec, flags: &CriuFlags) -> Result<Option<u64>> {
    if flags.empty_ns & libc::CLONE_NEWNET as u32 != 0 {
        return Ok(None);
    }
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in namespaces {
        if ns.typ() != LinuxNamespaceType::Network {
            continue;
        }
        if let Some(path) = ns.path().as_ref().filter(|p| !p.as_os_str().is_empty()) {
            let meta = fs::metadata(path).map_err(io("network namespace", path))?;
            return Ok(Some(meta.ino()));
        }
    }
    Ok(None)
}

fn make_dir(path: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(io("create directory", path))
}

fn open_dir(what: &'static str, path: &Path) -> Result<OwnedFd> {
    open(path, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(sys(what, path))
}

fn base_opts(images: &OwnedFd, work: &OwnedFd, log: &str, flags: &CriuFlags) -> rpc::Opts {
    rpc::Opts {
        images_dir_fd: images.as_raw_fd(),
        work_dir_fd: Some(work.as_raw_fd()),
        log_file: Some(log.to_string()),
        log_level: Some(4),
        notify_scripts: Some(true),
        manage_cgroups: Some(true),
        manage_cgroups_mode: flags.cgroups_mode.map(|m| m as i32),
        tcp_established: Some(flags.tcp_established),
        ext_unix_sk: Some(flags.ext_unix_sk),
        shell_job: Some(flags.shell_job),
        file_locks: Some(flags.file_locks),
        empty_ns: (flags.empty_ns != 0).then_some(flags.empty_ns),
        ..Default::default()
    }
}

/// `checkpoint`: dump the running container `id` into `opts.image_path`. Unless
/// `leave_running` (or `pre_dump`), its processes are gone afterwards and it is `stopped`.
/// On failure the container is left as it was (CRIU resumes what it froze).
pub fn checkpoint(root: &Path, id: &str, opts: &CheckpointOptions) -> Result<()> {
    let dir = ContainerDir::open(root, id)?;
    let record = dir.load()?;
    let status = container::status(&dir, &record);
    if status != Status::Running {
        return Err(CheckpointError::NotRunning(status));
    }
    criu::check_version(&opts.criu)?;
    if opts.pre_dump && !criu::can_track_memory(&opts.criu)? {
        return Err(CheckpointError::Unsupported {
            flag: "--pre-dump",
            why: "this kernel cannot track dirty memory (no soft-dirty bits: \
                  CONFIG_MEM_SOFT_DIRTY), which CRIU's pre-dump needs"
                .into(),
        });
    }
    let config = record.bundle.join("config.json");
    let spec = spec::parse(&config)?;
    let pid = record.pid;
    let table_path = PathBuf::from(format!("/proc/{pid}/mountinfo"));
    let table = fs::read_to_string(&table_path).map_err(io("read", &table_path))?;
    let saved = Saved {
        id: id.to_string(),
        bundle: record.bundle.clone(),
        external_mounts: external_mounts(&spec, &table),
        external_net_ns: external_net_ns(&spec, &opts.flags)?,
    };
    let mut descriptors = Vec::new();
    for fd in 0..3 {
        let link = PathBuf::from(format!("/proc/{pid}/fd/{fd}"));
        let target = fs::read_link(&link).map(|t| t.to_string_lossy().into_owned());
        descriptors.push(target.unwrap_or_default());
    }

    make_dir(&opts.image_path)?;
    let work_path = opts.work_path.as_ref().unwrap_or(&opts.image_path);
    make_dir(work_path)?;
    let images = open_dir("--image-path", &opts.image_path)?;
    let work = open_dir("--work-path", work_path)?;
    let write = |name: &str, bytes: Vec<u8>| {
        let path = opts.image_path.join(name);
        fs::write(&path, bytes).map_err(io("write", &path))
    };
    write(
        DESCRIPTORS,
        serde_json::to_vec(&descriptors).expect("serialises"),
    )?;
    write(
        SAVED,
        serde_json::to_vec_pretty(&saved).expect("serialises"),
    )?;
    let config_copy = opts.image_path.join("config.json");
    fs::copy(&config, &config_copy).map_err(io("copy config.json to", &config_copy))?;

    let log = if opts.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    let mut req_opts = base_opts(&images, &work, log, &opts.flags);
    req_opts.pid = Some(pid);
    req_opts.root = Some(record.rootfs.to_string_lossy().into_owned());
    req_opts.leave_running = Some(opts.leave_running || opts.pre_dump);
    req_opts.tcp_skip_in_flight = Some(opts.tcp_skip_in_flight);
    req_opts.link_remap = Some(opts.link_remap);
    req_opts.auto_dedup = Some(opts.auto_dedup);
    req_opts.ext_masters = Some(true);
    // A terminal's master is the caller's: CRIU saves the slave alone and, on restore, makes
    // a new pty whose master nook passes to the console socket.
    req_opts.orphan_pts_master = Some(true);
    req_opts.track_mem = opts.pre_dump.then_some(true);
    req_opts.parent_img = opts.parent_path.clone();
    // Frozen through the cgroup (consistent against forks), else CRIU stops each task itself.
    req_opts.freeze_cgroup = freezer(&record);
    req_opts.ps = opts
        .page_server
        .as_ref()
        .map(|(address, port)| rpc::PageServerInfo {
            address: Some(address.clone()),
            port: Some(*port),
        });
    for m in &saved.external_mounts {
        let key = m.destination.to_string_lossy().into_owned();
        req_opts.ext_mnt.push(rpc::ExtMountMap {
            key: key.clone(),
            val: key,
        });
    }
    if let Some(ino) = saved.external_net_ns {
        req_opts.external.push(format!("net[{ino}]:{EXT_NET_NS}"));
    }
    let req = rpc::Req {
        r#type: if opts.pre_dump {
            rpc::ReqType::PreDump
        } else {
            rpc::ReqType::Dump
        } as i32,
        opts: Some(req_opts),
        ..Default::default()
    };
    let log = Log(Some(work_path.join(log)));
    let what = if opts.pre_dump { "pre-dump" } else { "dump" };
    Swrk::spawn(&opts.criu)?.call(what, &req, &log, &mut |_, _, _| Ok(()))?;
    Ok(())
}

/// A restore under way: undone on drop unless kept.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<Cgroup>,
    criu_root: Option<PathBuf>,
    pid: Option<Pid>,
}

impl Undo {
    fn unmount_root(&mut self) {
        if let Some(path) = self.criu_root.take() {
            let _ = umount2(&path, MntFlags::MNT_DETACH);
            let _ = fs::remove_dir(&path);
        }
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        self.unmount_root();
        if let Some(pid) = self.pid.take() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        let cgroup_gone = self
            .cgroup
            .take()
            .is_none_or(|cg| cg.destroy().is_ok() || cg.undo_create().is_ok());
        if let Some(dir) = self.dir.take() {
            if cgroup_gone {
                let _ = dir.remove();
            }
        }
    }
}

/// CRIU mounts the external binds onto their mount points in the rootfs: in a rootfs that
/// never held this container (a copy, another host), make the missing ones as a create would,
/// a directory or an empty file after the source, every step resolved inside the rootfs. Those
/// under a tmpfs of the spec are left alone: CRIU restores that tmpfs whole.
fn make_mount_points(bundle: &spec::Bundle, saved: &Saved) -> Result<()> {
    let rootfs = bundle.rootfs.as_path();
    let mounts = bundle.mounts();
    let tmpfs: Vec<PathBuf> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| clean(m.destination()))
        .collect();
    let root = crate::rootfs::resolve::Root::open(rootfs).map_err(sys("open rootfs", rootfs))?;
    for m in &saved.external_mounts {
        let ExternalKind::Bind { source } = &m.kind else {
            continue;
        };
        if tmpfs
            .iter()
            .any(|t| m.destination.starts_with(t) && &m.destination != t)
        {
            continue;
        }
        let rel = m.destination.strip_prefix("/").unwrap_or(&m.destination);
        if rel.as_os_str().is_empty() || root.resolve(rel).is_ok() {
            continue;
        }
        let source = mounts
            .iter()
            .find(|s| clean(s.destination()) == m.destination && is_bind(s))
            .and_then(|s| s.source().clone())
            .unwrap_or_else(|| source.clone());
        let dir = fs::metadata(bundle.dir.join(&source))
            .map(|md| md.is_dir())
            .unwrap_or(true);
        let made = if dir {
            root.mkdir_all(rel, Mode::from_bits_truncate(0o755))
        } else {
            root.create_file(rel, Mode::from_bits_truncate(0o644))
        };
        made.map_err(sys("make the mount point", &m.destination))?;
    }
    Ok(())
}

/// Read what checkpoint left beside the images, checking they are there at all.
fn read_images(image_path: &Path) -> Result<(Saved, Vec<String>)> {
    if !image_path.join("inventory.img").is_file() {
        return Err(CheckpointError::NoImages {
            path: image_path.to_path_buf(),
        });
    }
    let read = |file: &'static str| -> Result<Option<Vec<u8>>> {
        let path = image_path.join(file);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    };
    let bad = |file: &'static str| {
        move |source| CheckpointError::BadSaved {
            path: image_path.to_path_buf(),
            file,
            source,
        }
    };
    let saved = match read(SAVED)? {
        Some(b) => serde_json::from_slice(&b).map_err(bad(SAVED))?,
        None => Saved::default(),
    };
    let descriptors = match read(DESCRIPTORS)? {
        Some(b) => serde_json::from_slice(&b).map_err(bad(DESCRIPTORS))?,
        None => Vec::new(),
    };
    Ok((saved, descriptors))
}

/// The container's freezer: the v1 freezer hierarchy's directory, else its cgroup2 directory.
fn freezer(record: &Record) -> Option<String> {
    let cgroup = Cgroup::of_record(&record.cgroup_path, &record.id).ok()?;
    if cgroup.is_none() {
        return None;
    }
    let dir = match cgroup.v1_views() {
        Some(views) => views
            .into_iter()
            .find(|v| v.dir_name == "freezer")
            .map(|v| v.source),
        None => cgroup2_dir(&cgroup),
    }?;
    Some(dir.to_string_lossy().into_owned())
}

/// The host path of the cgroup2 directory behind `cgroup`'s clone target, if it has one.
fn cgroup2_dir(cgroup: &Cgroup) -> Option<PathBuf> {
    let fd = cgroup.clone_into_fd().ok()??;
    fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()
}

/// `restore`: a new container `id` from the bundle at `bundle` and the images at
/// `opts.image_path`, running when this returns (its init's pid is returned, a child of this
/// process). On failure nothing is left behind.
pub fn restore(root: &Path, id: &str, bundle: &Path, opts: &RestoreOptions) -> Result<Pid> {
    let (saved, descriptors) = read_images(&opts.image_path)?;
    criu::check_version(&opts.criu)?;
    let bundle = spec::load(bundle)?;
    let process = bundle.process();
    let console = match (process.terminal() == Some(true), &opts.console_socket) {
        (true, Some(path)) => Some(crate::tty::connect(path).map_err(ContainerError::from)?),
        (true, None) => return Err(ContainerError::TerminalWithoutSocket.into()),
        (false, Some(_)) => return Err(ContainerError::SocketWithoutTerminal.into()),
        (false, None) => None,
    };
    let linux = bundle.linux();
    if linux.intel_rdt().is_some() {
        return Err(CheckpointError::Unsupported {
            flag: "restore",
            why: "linux.intelRdt: a restored container is not placed in a resctrl group yet".into(),
        });
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(CheckpointError::Unsupported {
            flag: "restore",
            why: "linux.netDevices: host devices are not moved into a restored container yet"
                .into(),
        });
    }
    let cgroup = Cgroup::resolve(linux.cgroups_path().as_deref(), id)?;
    let devices = linux.devices().as_deref().unwrap_or(&[]);
    let resources = default_devices::resources_with_defaults(linux.resources().as_ref(), devices);

    let dir = ContainerDir::create(root, id)?;
    let mut record = Record {
        id: id.to_string(),
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        annotations: bundle.annotations().cloned().unwrap_or_default(),
        cgroup_path: cgroup.path().to_path_buf(),
        hooks: bundle.hooks().cloned(),
        seccomp: linux.seccomp().clone(),
        memory_policy: linux.memory_policy().clone(),
        ..Default::default()
    };
    dir.save(&record)?;
    let mut undo = Undo {
        dir: Some(dir),
        cgroup: None,
        criu_root: None,
        pid: None,
    };
    cgroup.create()?;
    undo.cgroup = Some(Cgroup::of_record(cgroup.path(), id)?);
    if let Some(resources) = &resources {
        cgroup.apply(resources)?;
    }
    let dir = undo.dir.as_ref().expect("set");

    make_mount_points(&bundle, &saved)?;
    // CRIU wants the root as a mount point of its own.
    let criu_root = dir.path.join(CRIU_ROOT);
    make_dir(&criu_root)?;
    undo.criu_root = Some(criu_root.clone());
    mount(
        Some(&bundle.rootfs),
        &criu_root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("bind the rootfs at", &criu_root))?;
    mount(
        None::<&str>,
        &criu_root,
        None::<&str>,
        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys("make private", &criu_root))?;

    let work_path = opts.work_path.as_ref().unwrap_or(&opts.image_path);
    make_dir(work_path)?;
    let images = open_dir("--image-path", &opts.image_path)?;
    let work = open_dir("--work-path", work_path)?;
    let mut req_opts = base_opts(&images, &work, "restore.log", &opts.flags);
    req_opts.root = Some(criu_root.to_string_lossy().into_owned());
    req_opts.rst_sibling = Some(true);
    // Device nodes are matched by their numbers, not their inodes (the restored /dev is new).
    req_opts.evasive_devices = Some(true);
    req_opts.orphan_pts_master = Some(console.is_some());

    // Each external mount's host side, as this bundle and the new cgroup have it.
    let mounts = bundle.mounts();
    let views = cgroup.v1_views().unwrap_or_default();
    for m in &saved.external_mounts {
        let val = match &m.kind {
            ExternalKind::Bind { source } => mounts
                .iter()
                .find(|s| clean(s.destination()) == m.destination && is_bind(s))
                .and_then(|s| s.source().clone())
                .unwrap_or_else(|| source.clone()),
            ExternalKind::CgroupV1 { hierarchy } => {
                match views.iter().find(|v| &v.dir_name == hierarchy) {
                    Some(v) => v.source.clone(),
                    None => {
                        return Err(CheckpointError::Unsupported {
                            flag: "restore",
                            why: format!(
                        "the cgroup hierarchy {hierarchy} of the checkpoint is not mounted here"
                    ),
                        })
                    }
                }
            }
            ExternalKind::HostDev { source } => source.clone(),
            ExternalKind::CgroupV2 => cgroup2_dir(&cgroup).ok_or(CheckpointError::Unsupported {
                flag: "restore",
                why: "the checkpoint binds a cgroup2 directory, and the new cgroup has none".into(),
            })?,
        };
        let val = if val.is_relative() {
            bundle.dir.join(val)
        } else {
            val
        };
        req_opts.ext_mnt.push(rpc::ExtMountMap {
            key: m.destination.to_string_lossy().into_owned(),
            val: val.to_string_lossy().into_owned(),
        });
    }
    // Inherited by `criu swrk` under the same numbers.
    let mut inherited: Vec<OwnedFd> = Vec::new();
    if saved.external_net_ns.is_some() {
        let ns = linux
            .namespaces()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .and_then(|n| n.path().clone());
        let Some(path) = ns else {
            return Err(CheckpointError::Unsupported {
                flag: "restore",
                why: "the checkpoint joined a network namespace, and this config names none".into(),
            });
        };
        // Without O_CLOEXEC on purpose: criu swrk, exec'd by this process, inherits it.
        let fd = open(&path, OFlag::O_RDONLY, Mode::empty()).map_err(sys("open", &path))?;
        req_opts.inherit_fd.push(rpc::InheritFd {
            key: EXT_NET_NS.into(),
            fd: fd.as_raw_fd(),
        });
        inherited.push(fd);
    }
    // The init's stdio pipes become this process's own fds 0-2 (criu swrk shares them).
    for (fd, what) in descriptors.iter().enumerate().take(3) {
        if what.starts_with("pipe:") {
            req_opts.inherit_fd.push(rpc::InheritFd {
                key: what.clone(),
                fd: fd as i32,
            });
        }
    }

    let swrk = Swrk::spawn(&opts.criu)?;
    drop(inherited);
    // CRIU and what it restores start in the container's cgroup; CRIU places the restored
    // tasks below the roots named here (the paths of the new cgroup).
    cgroup.add_process(swrk.pid())?;
    let own = fs::read_to_string(format!("/proc/{}/cgroup", swrk.pid())).unwrap_or_default();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (parts.next(), parts.next(), parts.next());
        if let (Some(ctrl), Some(path)) = (ctrl, path) {
            req_opts.cg_root.push(rpc::CgroupRoot {
                ctrl: (!ctrl.is_empty()).then(|| ctrl.to_string()),
                path: path.to_string(),
            });
        }
    }
    let req = rpc::Req {
        r#type: rpc::ReqType::Restore as i32,
        opts: Some(req_opts),
        ..Default::default()
    };
    let log = Log(Some(work_path.join("restore.log")));
    let mut restored = None;
    let hooks = bundle.hooks().cloned();
    let resp = swrk.call("restore", &req, &log, &mut |script, notify, fd| {
        match script {
            // The namespaces exist and nothing runs yet: where a create runs these hooks
            // (runc runs them here on restore too).
            "setup-namespaces" => {
                let mut r = record.clone();
                r.pid = notify.pid.unwrap_or(0);
                let state = r.state_json(Status::Creating);
                let hooks = hooks.as_ref();
                for (kind, list) in [
                    ("prestart", hooks.and_then(|h| h.prestart().as_ref())),
                    (
                        "createRuntime",
                        hooks.and_then(|h| h.create_runtime().as_ref()),
                    ),
                ] {
                    if let Some(list) = list {
                        crate::hooks::run_all(kind, list, &state)
                            .map_err(|e| crate::error_chain(&e))?;
                    }
                }
            }
            "post-restore" => restored = notify.pid,
            // The restored terminal's master, for the caller.
            "orphan-pts-master" => {
                let (Some(socket), Some(master)) = (console.as_ref(), fd) else {
                    return Err("orphan-pts-master: no console socket or no fd".into());
                };
                crate::tty::send_master(socket, &master, b"")
                    .map_err(|e| crate::error_chain(&e))?;
            }
            _ => {}
        }
        Ok(())
    })?;
    let pid = resp
        .restore
        .map(|r| r.pid)
        .or(restored)
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
        .ok_or(CheckpointError::NoPid)?;
    undo.pid = Some(pid);
    undo.unmount_root();

    record.pid = pid.as_raw();
    record.pid_start = state::start_time(pid).map_err(ContainerError::StartTime)?;
    let dir = undo.dir.as_ref().expect("set");
    dir.save(&record)?;
    if let Some(path) = &opts.pid_file {
        container::write_pid_file(path, pid)?;
    }
    // Kept: the container is running.
    undo.pid = None;
    undo.cgroup = None;
    undo.dir = None;
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn binds_and_cgroup_views_are_external() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","mounts":[
                {"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/data/","type":"bind","source":"/srv/data","options":["rbind"]},
                {"destination":"/etc/hosts","source":"/etc/hosts","options":["bind","ro"]},
                {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"}]}"#,
        );
        let table = "\
1 0 8:1 /rootfs / rw - ext4 /dev/sda1 rw
2 1 0:5 / /proc rw - proc proc rw
3 1 0:30 / /sys/fs/cgroup rw - tmpfs tmpfs rw
4 3 0:31 /nook/c1 /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
5 3 0:32 /nook/c1 /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let ext = external_mounts(&s, table);
        let names: Vec<_> = ext.iter().map(|m| m.destination.clone()).collect();
        assert_eq!(
            names,
            [
                PathBuf::from("/data"),
                PathBuf::from("/etc/hosts"),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
            ]
        );
        assert_eq!(
            ext[2].kind,
            ExternalKind::CgroupV1 {
                hierarchy: "cpu,cpuacct".into()
            }
        );
    }

    #[test]
    fn host_device_binds_are_external_with_their_host_path() {
        let s = spec(r#"{"ociVersion":"1.0.2"}"#);
        let table = "\
3 1 0:30 / /dev rw - tmpfs tmpfs rw
4 3 0:5 /null /dev/null rw - devtmpfs udev rw
5 1 0:5 /null /proc/kcore rw - devtmpfs udev rw
";
        let ext = external_mounts(&s, table);
        assert_eq!(ext.len(), 2);
        assert_eq!(ext[1].destination, PathBuf::from("/proc/kcore"));
        assert_eq!(
            ext[1].kind,
            ExternalKind::HostDev {
                source: "/dev/null".into()
            }
        );
    }

    #[test]
    fn a_fresh_cgroup_mount_is_not_external() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","mounts":[
                {"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup"}]}"#,
        );
        let table = "4 1 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert!(external_mounts(&s, table).is_empty());
    }

    #[test]
    fn a_directory_without_images_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_images(tmp.path()),
            Err(CheckpointError::NoImages { .. })
        ));
        fs::write(tmp.path().join("inventory.img"), b"x").unwrap();
        fs::write(tmp.path().join(SAVED), b"{not json").unwrap();
        assert!(matches!(
            read_images(tmp.path()),
            Err(CheckpointError::BadSaved { .. })
        ));
    }
}
