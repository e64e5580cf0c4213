//! config.json text through everything nook does with it before the first privileged syscall:
//! parsing, `spec::validate` (which builds and compiles the seccomp filter), and then, for a
//! config that passed, each pure conversion the engine applies later (namespace plan,
//! capabilities, rlimits, sysctls, mount options, /dev nodes, cgroup path and resources).
//!
//! The property is "no panic, no hang, no runaway memory"; every error must be a value. Cgroup
//! resources are written into fake v1 and v2 trees in a temporary directory, as the library's
//! own tests do, so the conversions to file contents run without root.

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nook::cgroups::{self, default_devices, Cgroup, Layout, Version};
use nook::error_chain;
use nook::rootfs::{self, options, resolve};
use nook::security::caps::{self, CapSets};
use nook::state::{Record, Status};
use nook::spec::Bundle;
use oci_spec::runtime::Spec;

fuzz_target!(|data: &[u8]| {
    let spec = match nook::spec::parse_reader(data, Path::new("config.json")) {
        Ok(spec) => spec,
        Err(e) => return touch(&e),
    };
    // Mount options are parsed from whatever the config holds, validated or not (`needs_dev_setup`
    // and the delayed read-only pass look at every mount).
    mounts(&spec);
    // What load does after parsing: validate, then take process and linux out of the spec.
    match nook::spec::Bundle::new("/bundle".into(), "/bundle/rootfs".into(), spec) {
        Ok(bundle) => engine_input(&bundle),
        Err(e) => touch(&e),
    }
});

/// Render an error the way the CLI does: Display of the whole chain must not panic either.
fn touch(e: &dyn std::error::Error) {
    std::hint::black_box(error_chain(e));
}

fn ok_or_touch<T, E: std::error::Error>(r: Result<T, E>) -> Option<T> {
    r.map_err(|e| touch(&e)).ok()
}

fn mounts(spec: &Spec) {
    let list = spec.mounts().as_deref().unwrap_or_default();
    for m in list {
        let _ = resolve::clean_absolute(m.destination());
        let Some(opts) = ok_or_touch(options::parse(m.options().as_deref().unwrap_or_default()))
        else {
            continue;
        };
        let kind = rootfs::classify(m.typ().as_deref(), &opts);
        std::hint::black_box((
            rootfs::delays_readonly(&kind, m.destination()),
            opts.data_string(),
            opts.bind_remount_flags(),
            opts.is_recursive_bind(),
        ));
    }
    std::hint::black_box(rootfs::needs_dev_setup(list));
}

/// What the engine derives from a config that passed validation.
fn engine_input(bundle: &Bundle) {
    let process = bundle.process();
    let linux = bundle.linux();

    std::hint::black_box(nook::namespaces::plan(nook::spec::namespaces(linux)));

    let capabilities = process.capabilities().as_ref();
    ok_or_touch(CapSets::from_spec(capabilities));
    ok_or_touch(caps::unreachable_ambient(capabilities));
    for l in process.rlimits().iter().flatten() {
        std::hint::black_box(nook::process::attrs::resource(l.typ()));
    }
    for key in linux.sysctl().iter().flat_map(|s| s.keys()) {
        std::hint::black_box(nook::process::attrs::sysctl_path(key));
    }

    ok_or_touch(options::root_propagation(
        linux.rootfs_propagation().as_deref(),
    ));
    ok_or_touch(rootfs::device_list(
        linux.devices().as_deref().unwrap_or_default(),
    ));

    // The cgroup path the container would get, on either layout; then its resources.
    let cgroups_path = linux.cgroups_path().as_deref();
    let v2 = Layout::V2 {
        mount: PathBuf::from("/sys/fs/cgroup"),
    };
    ok_or_touch(Cgroup::from_layout(v2, &[], cgroups_path, "fuzz"));
    let devices = linux.devices().as_deref().unwrap_or_default();
    if let Some(resources) =
        default_devices::resources_with_defaults(linux.resources().as_ref(), devices)
    {
        resources_on_fake_trees(&resources);
    }

    // What create records and hands to hooks and the seccomp agent.
    let record = Record {
        id: "fuzz".into(),
        annotations: bundle.annotations().cloned().unwrap_or_default(),
        hooks: bundle.hooks().cloned(),
        seccomp: linux.seccomp().clone(),
        ..Default::default()
    };
    let state = record.state_json(Status::Creating);
    ok_or_touch(serde_json::to_string(&record));
    if let Some(s) = linux.seccomp() {
        ok_or_touch(nook::security::seccomp::process_state(
            &state,
            s.listener_metadata().clone(),
        ));
    }
}

fn resources_on_fake_trees(resources: &oci_spec::runtime::LinuxResources) {
    let trees = trees();
    for version in [Version::V1, Version::V2] {
        if ok_or_touch(cgroups::check_resources(version, resources)).is_none() {
            continue;
        }
        let (root, r) = match version {
            Version::V1 => (&trees.v1, resources.clone()),
            Version::V2 => {
                // Applying v2 device rules loads a BPF program; check_resources compiled them.
                let mut r = resources.clone();
                r.set_devices(None);
                (&trees.v2, r)
            }
        };
        // Every input starts from the same files: a unified key may have written one that a
        // later input reads (memory.current for checkBeforeUpdate).
        reset(root, version);
        if let Some(cg) = ok_or_touch(Cgroup::with_root(root, version, None, "c1")) {
            ok_or_touch(cg.apply(&r));
        }
    }
}

struct Trees {
    _dir: tempfile::TempDir,
    v1: PathBuf,
    v2: PathBuf,
}

fn trees() -> &'static Trees {
    static TREES: OnceLock<Trees> = OnceLock::new();
    TREES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let v1 = dir.path().join("v1");
        let v2 = dir.path().join("v2");
        Trees { _dir: dir, v1, v2 }
    })
}

const V1_FILES: &[(&str, &[(&str, &str)])] = &[
    ("cpuset", &[("cpuset.cpus", "0-3"), ("cpuset.mems", "0")]),
    (
        "memory",
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.soft_limit_in_bytes", ""),
            ("memory.swappiness", "60"),
            ("memory.oom_control", "0"),
            ("memory.use_hierarchy", "1"),
            ("memory.usage_in_bytes", "4096"),
            ("memory.memsw.usage_in_bytes", "4096"),
        ],
    ),
    ("pids", &[("pids.max", "max")]),
    (
        "cpu,cpuacct",
        &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
            ("cpu.cfs_burst_us", "0"),
            ("cpu.rt_period_us", "1000000"),
            ("cpu.rt_runtime_us", "0"),
            ("cpu.idle", "0"),
        ],
    ),
    (
        "blkio",
        &[
            ("blkio.weight", ""),
            ("blkio.leaf_weight", ""),
            ("blkio.weight_device", ""),
            ("blkio.leaf_weight_device", ""),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_bps_device", ""),
            ("blkio.throttle.read_iops_device", ""),
            ("blkio.throttle.write_iops_device", ""),
        ],
    ),
    ("hugetlb", &[("hugetlb.2MB.limit_in_bytes", "")]),
    ("devices", &[("devices.allow", ""), ("devices.deny", "")]),
    ("net_cls", &[("net_cls.classid", "")]),
    ("net_prio", &[("net_prio.ifpriomap", "")]),
    ("rdma", &[("rdma.max", "")]),
];

const V2_FILES: &[(&str, &str)] = &[
    ("memory.max", "max"),
    ("memory.swap.max", "max"),
    ("memory.low", "0"),
    ("memory.high", "max"),
    ("memory.current", "4096"),
    ("memory.swap.current", "0"),
    ("pids.max", "max"),
    ("cpu.weight", "100"),
    ("cpu.max", "max 100000"),
    ("cpu.max.burst", "0"),
    ("cpu.idle", "0"),
    ("cpuset.cpus", ""),
    ("cpuset.mems", ""),
    ("io.weight", "default 100"),
    ("io.bfq.weight", "default 100"),
    ("io.max", ""),
    ("hugetlb.2MB.max", "max"),
    ("rdma.max", ""),
];

/// (Re)write the files the kernel would show in a fresh leaf `/nook/c1` of each layout.
fn reset(root: &Path, version: Version) {
    let write = |dir: &Path, files: &[(&str, &str)]| {
        std::fs::create_dir_all(dir).expect("mkdir fake cgroup");
        for (name, value) in files {
            std::fs::write(dir.join(name), value).expect("write fake cgroup file");
        }
    };
    match version {
        Version::V1 => {
            for (hierarchy, files) in V1_FILES {
                write(&root.join(hierarchy), files);
                write(&root.join(hierarchy).join("nook"), files);
                write(&root.join(hierarchy).join("nook/c1"), files);
            }
        }
        Version::V2 => write(&root.join("nook/c1"), V2_FILES),
    }
}
