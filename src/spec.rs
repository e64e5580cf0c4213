//! Loading a bundle's config.json and refusing what nook cannot apply.
//!
//! config.json is untrusted input. Everything the engine later applies is checked here first,
//! so that bad input fails before any state, cgroup or process exists. Errors name the field.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Hooks, Linux, LinuxNamespaceType, Mount, Process, Spec};

use crate::process::sched::{self, SchedError};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("bundle {path}: {source}")]
    Bundle {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("open {path}: {source}")]
    ConfigOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: field {field}: {source}")]
    ConfigParse {
        path: PathBuf,
        field: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("root.path {path}: {source}")]
    Rootfs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("root.path {0}: not a directory")]
    RootfsNotDir(PathBuf),
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Sched(#[from] SchedError),
    #[error(transparent)]
    Rdt(#[from] crate::resctrl::RdtError),
    #[error(transparent)]
    Seccomp(#[from] crate::security::seccomp::SeccompError),
    #[error(transparent)]
    Lsm(#[from] crate::security::lsm::LsmError),
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A bundle whose config parsed and passed validation: what the engine applies, with the parts
/// validation proved present (process, linux, root) given without `Option`s.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// Absolute, canonical root filesystem directory.
    pub rootfs: PathBuf,
    /// The rest of config.json; `process` and `linux` were moved out into the fields below, so
    /// the spec is private and only the parts that stay in it have accessors.
    spec: Spec,
    process: Process,
    linux: Linux,
}

impl Bundle {
    /// Validate `spec` (its `linux.namespaces` paths normalized: `""` means new) and take it
    /// apart. `dir` and `rootfs` are the bundle and root directories it was read from.
    pub fn new(dir: PathBuf, rootfs: PathBuf, mut spec: Spec) -> Result<Bundle, SpecError> {
        empty_namespace_paths_mean_new(&mut spec);
        validate(&spec)?;
        let missing = |field| invalid(field, "missing");
        let process = spec
            .process_mut()
            .take()
            .ok_or_else(|| missing("process"))?;
        let linux = spec.linux_mut().take().ok_or_else(|| missing("linux"))?;
        Ok(Bundle {
            dir,
            rootfs,
            spec,
            process,
            linux,
        })
    }

    /// A bundle of `spec` as it is, with defaults for a missing process or linux section: for
    /// unit tests of what comes after validation.
    #[cfg(test)]
    pub(crate) fn unvalidated(rootfs: &Path, mut spec: Spec) -> Bundle {
        let process = spec.process_mut().take().unwrap_or_default();
        // Not Linux::default(), which lists namespaces and masked paths of its own.
        let empty = || serde_json::from_str("{}").expect("an empty linux section");
        let linux = spec.linux_mut().take().unwrap_or_else(empty);
        Bundle {
            dir: rootfs.parent().unwrap_or(rootfs).to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            spec,
            process,
            linux,
        }
    }

    pub fn process(&self) -> &Process {
        &self.process
    }

    pub fn linux(&self) -> &Linux {
        &self.linux
    }

    pub fn mounts(&self) -> &[Mount] {
        self.spec.mounts().as_deref().unwrap_or_default()
    }

    pub fn hooks(&self) -> Option<&Hooks> {
        self.spec.hooks().as_ref()
    }

    /// `root.readonly`.
    pub fn root_readonly(&self) -> bool {
        self.spec.root().as_ref().and_then(|r| r.readonly()) == Some(true)
    }

    /// `hostname`, when set and not empty.
    pub fn hostname(&self) -> Option<&str> {
        self.spec.hostname().as_deref().filter(|h| !h.is_empty())
    }

    /// `domainname`, when set and not empty.
    pub fn domainname(&self) -> Option<&str> {
        self.spec.domainname().as_deref().filter(|h| !h.is_empty())
    }

    pub fn annotations(&self) -> Option<&HashMap<String, String>> {
        self.spec.annotations().as_ref()
    }
}

/// Read `<bundle>/config.json`, resolve the rootfs and validate everything nook will apply.
pub fn load(bundle: &Path) -> Result<Bundle, SpecError> {
    let dir = std::fs::canonicalize(bundle).map_err(|source| SpecError::Bundle {
        path: bundle.to_path_buf(),
        source,
    })?;
    let config = dir.join("config.json");
    let spec = parse(&config)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root", "missing"))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|source| SpecError::Rootfs {
        path: rootfs.clone(),
        source,
    })?;
    if !rootfs.is_dir() {
        return Err(SpecError::RootfsNotDir(rootfs));
    }
    Bundle::new(dir, rootfs, spec)
}

/// Parse a config file, naming the JSON path of the first field that does not fit.
pub fn parse(path: &Path) -> Result<Spec, SpecError> {
    let bytes = std::fs::read(path).map_err(|source| SpecError::ConfigOpen {
        path: path.to_path_buf(),
        source,
    })?;
    parse_slice(&bytes, path)
}

pub fn parse_reader(mut reader: impl std::io::Read, path: &Path) -> Result<Spec, SpecError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| SpecError::ConfigOpen {
            path: path.to_path_buf(),
            source,
        })?;
    parse_slice(&bytes, path)
}

/// From a slice (serde_json reads a `Read` byte by byte through its own buffer), with the path of
/// every field tracked so that an error names it. Parsing with plain serde_json first (and again
/// with the tracking only on an error) measured no faster here and cost 72 KiB more resident:
/// a second copy of the spec's deserializer to page in. Like runc's decoder, it stops at the end
/// of the first JSON value.
fn parse_slice<T: serde::de::DeserializeOwned>(bytes: &[u8], path: &Path) -> Result<T, SpecError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| SpecError::ConfigParse {
        path: path.to_path_buf(),
        field: e.path().to_string(),
        source: e.into_inner(),
    })
}

/// Everything that can be judged from the config alone.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("process", "missing"))?;
    validate_process(process)?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| invalid("linux", "missing"))?;
    validate_namespaces(spec, linux)?;
    refuse_unsupported_linux(linux)?;
    validate_net_devices(linux)?;
    validate_mounts_and_hooks(spec, linux)?;
    if let Some(seccomp) = linux.seccomp() {
        crate::security::seccomp::validate(seccomp)?;
    }
    Ok(())
}

/// What would otherwise fail only in the init or at a hook, after state, cgroup and processes
/// exist: mount options, the root propagation, hook timeouts. Checked here so the error comes
/// before anything is made.
fn validate_mounts_and_hooks(spec: &Spec, linux: &Linux) -> Result<(), SpecError> {
    use crate::rootfs::options;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination().display();
        let opts = options::parse(m.options().as_deref().unwrap_or_default()).map_err(|e| {
            invalid(
                "mounts",
                format!("[{i}] {dest}: option {:?}: {}", e.option, e.why),
            )
        })?;
        if crate::rootfs::idmap::asked(m) {
            if let Err(crate::rootfs::idmap::IdmapError::Invalid { why, .. }) =
                crate::rootfs::idmap::of(m, &opts, linux)
            {
                return Err(invalid("mounts", format!("[{i}] {dest}: {why}")));
            }
        }
    }
    let propagation = linux.rootfs_propagation().as_deref();
    options::root_propagation(propagation).map_err(|e| {
        invalid(
            "linux.rootfsPropagation",
            format!("{:?}: {}", e.option, e.why),
        )
    })?;
    if let Some(h) = spec.hooks() {
        let kinds = [
            ("prestart", h.prestart()),
            ("createRuntime", h.create_runtime()),
            ("createContainer", h.create_container()),
            ("startContainer", h.start_container()),
            ("poststart", h.poststart()),
            ("poststop", h.poststop()),
        ];
        for (kind, list) in kinds {
            for (i, hook) in list.iter().flatten().enumerate() {
                if let Some(secs) = hook.timeout().filter(|s| *s <= 0) {
                    let path = hook.path().display();
                    return Err(invalid(
                        "hooks",
                        format!("{kind}[{i}] {path}: timeout must be positive, got {secs}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// What a process definition (config.json's or an `exec --process` file) must satisfy.
pub fn validate_process(process: &oci_spec::runtime::Process) -> Result<(), SpecError> {
    match process.args() {
        Some(args) if !args.is_empty() => {}
        _ => return Err(invalid("process.args", "must name a program")),
    }
    if !process.cwd().is_absolute() {
        return Err(invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", process.cwd()),
        ));
    }
    refuse_unsupported_process(process)
}

/// Parse an `exec --process` file, naming the JSON path of the first field that does not fit.
pub fn parse_process(path: &Path) -> Result<oci_spec::runtime::Process, SpecError> {
    let bytes = std::fs::read(path).map_err(|source| SpecError::ConfigOpen {
        path: path.to_path_buf(),
        source,
    })?;
    let mut value: serde_json::Value = parse_slice(&bytes, path)?;
    // runc decodes into Go structs, where a process without `user` runs as uid 0, gid 0;
    // oci-spec's type requires the object (its fields already default to 0).
    if let Some(fields) = value.as_object_mut() {
        fields
            .entry("user")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| SpecError::ConfigParse {
        path: path.to_path_buf(),
        field: e.path().to_string(),
        source: e.into_inner(),
    })
}

fn refuse_unsupported_process(p: &oci_spec::runtime::Process) -> Result<(), SpecError> {
    crate::security::lsm::check_process(p)?;
    if let Some(io) = p.io_priority() {
        sched::check_io_priority(io)?;
    }
    if let Some(s) = p.scheduler() {
        sched::sched_attr(s)?;
    }
    if let Some(aff) = p.exec_cpu_affinity() {
        if let Some(v) = aff.initial() {
            sched::parse_cpu_list("process.execCPUAffinity.initial", v)?;
        }
        if let Some(v) = aff.cpu_affinity_final() {
            sched::parse_cpu_list("process.execCPUAffinity.final", v)?;
        }
    }
    if p.command_line().is_some() {
        return Err(invalid("process.commandLine", "is for Windows only"));
    }
    Ok(())
}

fn refuse_unsupported_linux(l: &oci_spec::runtime::Linux) -> Result<(), SpecError> {
    crate::security::lsm::check_mount_label(l.mount_label())?;
    if let Some(rdt) = l.intel_rdt() {
        crate::resctrl::validate(rdt)?;
    }
    if let Some(p) = l.memory_policy() {
        sched::memory_policy(p)?;
    }
    if let Some(p) = l.personality() {
        sched::check_personality(p)?;
    }
    Ok(())
}

/// `linux.netDevices`: valid names, none given twice, and a network namespace of the
/// container's own (new or joined by path, as runc 1.4 takes either) to move them into.
fn validate_net_devices(linux: &Linux) -> Result<(), SpecError> {
    let Some(devices) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    if !has(linux, LinuxNamespaceType::Network) {
        return Err(invalid(
            "linux.netDevices",
            "moving network devices needs a network namespace of the container's own \
             (linux.namespaces lists none, so the container shares the host's)",
        ));
    }
    crate::netdev::validate(devices).map_err(|why| invalid("linux.netDevices", why))
}

/// runc reads `"path": ""` as no path: a new namespace. Said once here, so everything after
/// (validation, the namespace plan) sees only `None` for "new".
fn empty_namespace_paths_mean_new(spec: &mut Spec) {
    let namespaces = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut());
    for ns in namespaces.into_iter().flatten() {
        if ns.path().as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            ns.set_path(None);
        }
    }
}

fn has_new(linux: &Linux, typ: LinuxNamespaceType) -> bool {
    namespaces(linux)
        .iter()
        .any(|n| n.typ() == typ && n.path().is_none())
}

/// Whether the config lists a namespace of this type, new or joined by path. A type not listed
/// is inherited from the runtime (runtime-spec: "the container MUST inherit the runtime
/// namespace of that type").
pub fn has(linux: &Linux, typ: LinuxNamespaceType) -> bool {
    namespaces(linux).iter().any(|n| n.typ() == typ)
}

pub fn namespaces(linux: &Linux) -> &[oci_spec::runtime::LinuxNamespace] {
    linux.namespaces().as_deref().unwrap_or(&[])
}

fn validate_namespaces(spec: &Spec, linux: &Linux) -> Result<(), SpecError> {
    let mut seen = HashSet::new();
    for ns in namespaces(linux) {
        if !seen.insert(ns.typ()) {
            return Err(invalid(
                "linux.namespaces",
                format!("namespace {} listed twice", ns.typ()),
            ));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(invalid(
                    "linux.namespaces.path",
                    format!("{} namespace path {path:?} is not absolute", ns.typ()),
                ));
            }
        }
    }
    if !has(linux, LinuxNamespaceType::Mount) {
        // The container shares the runtime's mounts: nook mounts nothing (as runc), and what
        // only a private mount table can give is refused rather than done to the host's.
        let listed = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|p| !p.is_empty());
        for (field, set) in [
            ("linux.maskedPaths", linux.masked_paths()),
            ("linux.readonlyPaths", linux.readonly_paths()),
        ] {
            if listed(set) {
                return Err(invalid(
                    field,
                    "cannot be applied without a private mount namespace (linux.namespaces \
                     lists no mount namespace, so the container shares the host's mounts)",
                ));
            }
        }
    }
    let mapped = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if has_new(linux, LinuxNamespaceType::User) && !mapped {
        return Err(invalid(
            "linux.uidMappings",
            "a new user namespace needs uidMappings and gidMappings",
        ));
    }
    // With a user namespace joined by path its own maps apply; runc 1.1.5 wants them listed.
    if mapped && !has(linux, LinuxNamespaceType::User) {
        return Err(invalid(
            "linux.uidMappings",
            "mappings given without a user namespace",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !has_new(linux, LinuxNamespaceType::Time)
    {
        return Err(invalid(
            "linux.timeOffsets",
            "time offsets need a new time namespace",
        ));
    }
    if let Some(offsets) = linux.time_offsets() {
        for clock in offsets.keys() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(invalid(
                    "linux.timeOffsets",
                    format!("unknown clock {clock:?} (monotonic or boottime)"),
                ));
            }
        }
    }
    // A uts namespace joined by path is the container's own as much as a new one is.
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty())
        && !has(linux, LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "hostname",
            "setting the hostname needs a uts namespace of the container's own",
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !has(linux, LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "domainname",
            "setting the domainname needs a uts namespace of the container's own",
        ));
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            check_sysctl(linux, key)?;
        }
    }
    Ok(())
}

/// A sysctl is only allowed when it lives in a namespace the container owns, so that a
/// container can never change the host's kernel settings.
fn check_sysctl(linux: &Linux, key: &str) -> Result<(), SpecError> {
    if key.contains("..") || key.contains('\0') || key.starts_with('/') {
        return Err(invalid("linux.sysctl", format!("invalid key {key:?}")));
    }
    let dotted = key.replace('/', ".");
    let ipc_keys = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needs = if ipc_keys.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
        LinuxNamespaceType::Ipc
    } else if dotted.starts_with("net.") {
        LinuxNamespaceType::Network
    } else if dotted == "kernel.hostname" || dotted == "kernel.domainname" {
        LinuxNamespaceType::Uts
    } else {
        return Err(invalid(
            "linux.sysctl",
            format!("{key:?} is not namespaced and would change the host"),
        ));
    };
    if !has_new(linux, needs) {
        return Err(invalid(
            "linux.sysctl",
            format!("{key:?} needs a new {needs} namespace"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_from(json: &str) -> Result<Spec, SpecError> {
        parse_reader(json.as_bytes(), Path::new("config.json"))
    }

    const BASE: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "process":{"cwd":"/","args":["sh"],"user":{"uid":0,"gid":0}},
        "linux":{"namespaces":[{"type":"mount"},{"type":"pid"},{"type":"uts"},{"type":"network"}]}}"#;

    fn with(f: impl FnOnce(&mut serde_json::Value)) -> Result<(), SpecError> {
        let mut v: serde_json::Value = serde_json::from_str(BASE).unwrap();
        f(&mut v);
        validate(&spec_from(&v.to_string())?)
    }

    #[test]
    fn a_process_file_without_user_runs_as_root() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("process.json");
        std::fs::write(&file, r#"{"cwd":"/","args":["id"]}"#).unwrap();
        let p = parse_process(&file).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
        std::fs::write(&file, r#"{"cwd":"/","args":["id"],"user":{"uid":7}}"#).unwrap();
        assert_eq!(parse_process(&file).unwrap().user().uid(), 7);
        std::fs::write(&file, r#"{"cwd":"/","args":"id"}"#).unwrap();
        let err = parse_process(&file).unwrap_err().to_string();
        assert!(
            err.contains("args") && err.contains("process.json"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_namespace_path_means_a_new_namespace() {
        let spec =
            spec_from(&BASE.replace(r#"{"type":"uts"}"#, r#"{"type":"uts","path":""}"#)).unwrap();
        let bundle = Bundle::new("/b".into(), "/b/rootfs".into(), spec).unwrap();
        assert!(namespaces(bundle.linux())
            .iter()
            .all(|n| n.path().is_none()));
    }

    #[test]
    fn base_is_valid() {
        with(|_| {}).unwrap();
    }

    #[test]
    fn mount_options_propagation_and_hook_timeouts_are_checked_up_front() {
        let err = with(|v| {
            v["mounts"] = serde_json::json!([
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]}
            ])
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("mounts: [1] /x: idmap without uidMappings"),
            "{msg}"
        );
        let err = with(|v| {
            v["mounts"] = serde_json::json!([
                {"destination": "/x", "type": "tmpfs", "source": "tmpfs",
                 "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}],
                 "gidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]}
            ])
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("mounts: [0] /x: idmapped mounts are made of bind"),
            "{msg}"
        );
        let err = with(|v| v["linux"]["rootfsPropagation"] = "sideways".into()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("linux.rootfsPropagation: \"sideways\""),
            "{err}"
        );
        let err = with(|v| {
            v["hooks"] = serde_json::json!({"poststop": [{"path": "/bin/true", "timeout": 0}]})
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "hooks: poststop[0] /bin/true: timeout must be positive, got 0"
        );
    }

    #[test]
    fn parse_error_names_the_field() {
        let err = with(|v| v["linux"]["namespaces"][1]["type"] = "bogus".into()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("linux.namespaces[1].type"), "{text}");
    }

    #[test]
    fn relative_cwd_refused() {
        let err = with(|v| v["process"]["cwd"] = "tmp".into()).unwrap_err();
        assert!(err.to_string().starts_with("process.cwd:"), "{err}");
    }

    #[test]
    fn empty_args_refused() {
        let err = with(|v| v["process"]["args"] = serde_json::json!([])).unwrap_err();
        assert!(err.to_string().contains("process.args"), "{err}");
    }

    #[test]
    fn duplicate_namespace_refused() {
        let err = with(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type":"pid"}))
        })
        .unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let err = with(|v| {
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type":"user"}))
        })
        .unwrap_err();
        assert!(err.to_string().contains("uidMappings"), "{err}");
    }

    #[test]
    fn sysctl_must_be_namespaced() {
        with(|v| v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"})).unwrap();
        let err =
            with(|v| v["linux"]["sysctl"] = serde_json::json!({"kernel.panic": "1"})).unwrap_err();
        assert!(err.to_string().contains("not namespaced"), "{err}");
        let err =
            with(|v| v["linux"]["sysctl"] = serde_json::json!({"kernel.shmmax": "1"})).unwrap_err();
        assert!(err.to_string().contains("ipc"), "{err}");
    }

    #[test]
    fn hostname_needs_uts() {
        with(|v| v["hostname"] = "box".into()).unwrap();
        let err = with(|v| {
            v["hostname"] = "box".into();
            v["linux"]["namespaces"].as_array_mut().unwrap().remove(2);
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("hostname:"), "{err}");
    }

    #[test]
    fn net_devices_need_a_network_namespace_and_good_names() {
        with(|v| v["linux"]["netDevices"] = serde_json::json!({"veth0": {"name": "eth0"}}))
            .unwrap();
        let err = with(|v| {
            v["linux"]["netDevices"] = serde_json::json!({"veth0": {}});
            v["linux"]["namespaces"].as_array_mut().unwrap().remove(3);
        })
        .unwrap_err();
        assert!(err.to_string().starts_with("linux.netDevices: "), "{err}");
        let err = with(|v| v["linux"]["netDevices"] = serde_json::json!({"a": {"name": "x y"}}))
            .unwrap_err();
        assert!(err.to_string().starts_with("linux.netDevices: "), "{err}");
    }

    #[test]
    fn intel_rdt_is_validated_before_resctrl_is_looked_for() {
        with(|v| v["linux"]["intelRdt"] = serde_json::json!({})).unwrap();
        let err =
            with(|v| v["linux"]["intelRdt"] = serde_json::json!({"closID": "a/b"})).unwrap_err();
        assert!(
            err.to_string().starts_with("linux.intelRdt.closID"),
            "{err}"
        );
    }
}
