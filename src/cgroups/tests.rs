//! The public type and the controllers against fake trees: the test writes the files the
//! kernel would have, calls, and reads back.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
};

use super::*;

fn touch(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (f, v) in files {
        fs::write(dir.join(f), v).unwrap();
    }
}

fn get(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap()
}

/// A v1 tree with the leaf `/nook/c1` already populated, as the kernel would after mkdir.
fn v1_tree() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    let leaf = |h: &str| root.join(h).join("nook/c1");
    touch(
        &root.join("cpuset"),
        &[("cpuset.cpus", "0-3"), ("cpuset.mems", "0")],
    );
    touch(
        &root.join("cpuset/nook"),
        &[("cpuset.cpus", ""), ("cpuset.mems", "")],
    );
    touch(
        &leaf("cpuset"),
        &[
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("cgroup.procs", ""),
        ],
    );
    touch(
        &leaf("memory"),
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.soft_limit_in_bytes", ""),
            ("memory.swappiness", "60"),
            ("memory.oom_control", "0"),
            ("memory.usage_in_bytes", "4096"),
            ("cgroup.procs", ""),
        ],
    );
    touch(&leaf("pids"), &[("pids.max", "max"), ("cgroup.procs", "")]);
    touch(
        &leaf("cpu,cpuacct"),
        &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
            ("cgroup.procs", ""),
        ],
    );
    touch(
        &leaf("freezer"),
        &[("freezer.state", "THAWED"), ("cgroup.procs", "")],
    );
    touch(
        &leaf("devices"),
        &[
            ("devices.allow", ""),
            ("devices.deny", ""),
            ("cgroup.procs", ""),
        ],
    );
    touch(&leaf("systemd"), &[("cgroup.procs", "")]);
    touch(&leaf("unified"), &[("cgroup.procs", "")]);
    (t, root)
}

fn v2_tree() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let leaf = t.path().join("nook/c1");
    touch(
        t.path(),
        &[
            ("cgroup.controllers", "cpu memory pids"),
            ("cgroup.subtree_control", ""),
        ],
    );
    touch(
        &leaf,
        &[
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("memory.low", "0"),
            ("memory.current", "4096"),
            ("pids.max", "max"),
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("cgroup.procs", ""),
            ("cgroup.freeze", "0"),
            ("cgroup.events", "populated 0\nfrozen 1\n"),
        ],
    );
    (t, leaf)
}

fn memory(limit: i64, swap: i64) -> LinuxResources {
    let m = LinuxMemoryBuilder::default()
        .limit(limit)
        .swap(swap)
        .build()
        .unwrap();
    LinuxResourcesBuilder::default().memory(m).build().unwrap()
}

#[test]
fn default_path_and_relative_and_escaping_paths() {
    let (_t, root) = v2_tree();
    let cg = Cgroup::with_root(&root, Version::V2, None, "c1").unwrap();
    assert_eq!(cg.path(), Path::new("/nook/c1"));
    let cg = Cgroup::with_root(&root, Version::V2, Some(Path::new("a/./b/../c")), "x").unwrap();
    assert_eq!(cg.path(), Path::new("/a/c"));
    for bad in ["/../etc", "a/../../x", "/", "."] {
        let err = Cgroup::with_root(&root, Version::V2, Some(Path::new(bad)), "x").err();
        assert!(matches!(err, Some(CgroupError::BadPath { .. })), "{bad}");
    }
    assert!(Cgroup::with_root(&root, Version::V2, None, "../x").is_err());
}

#[test]
fn relative_paths_hang_below_the_runtimes_own_cgroup_per_hierarchy() {
    let layout = detect::parse_mountinfo(
        "1 0 0:1 / /cg/memory rw - cgroup cgroup rw,memory\n2 0 0:2 / /cg/pids rw - cgroup cgroup rw,pids\n",
    )
    .unwrap();
    let own = detect::parse_proc_cgroup("2:memory:/job/7\n1:pids:/\n");
    let cg = Cgroup::from_layout(layout.clone(), &own, Some(Path::new("box")), "x").unwrap();
    // The hierarchies disagree, so only the spec's own spelling can be saved.
    assert_eq!(cg.path(), Path::new("box"));
    let own = detect::parse_proc_cgroup("2:memory:/job\n1:pids:/job\n");
    let cg = Cgroup::from_layout(layout, &own, Some(Path::new("box")), "x").unwrap();
    assert_eq!(cg.path(), Path::new("/job/box"));
    let v2 = Layout::V2 { mount: "/x".into() };
    let own = detect::parse_proc_cgroup("0::/system.slice/init.scope\n");
    let cg = Cgroup::from_layout(v2, &own, Some(Path::new("box")), "x").unwrap();
    assert_eq!(cg.path(), Path::new("/system.slice/box"));
}

#[test]
fn v1_create_copies_cpuset_down_and_adds_process_everywhere() {
    let (_t, root) = v1_tree();
    let cg = Cgroup::with_root(&root, Version::V1, None, "c1").unwrap();
    cg.create().unwrap();
    assert_eq!(get(&root.join("cpuset/nook"), "cpuset.cpus"), "0-3");
    assert_eq!(get(&root.join("cpuset/nook/c1"), "cpuset.mems"), "0");
    // Hybrid: clone3 joins the unified hierarchy, the child writes itself into the v1 ones.
    assert!(cg.clone_into_fd().unwrap().is_some());
    let v1_dirs = [
        "cpuset",
        "memory",
        "pids",
        "freezer",
        "devices",
        "systemd",
        "cpu,cpuacct",
    ];
    for h in v1_dirs {
        fs::write(root.join(h).join("nook/c1/tasks"), "").unwrap();
    }
    assert_eq!(cg.self_join_files().unwrap().len(), v1_dirs.len());
    cg.add_process(Pid::from_raw(4242)).unwrap();
    for h in [
        "memory",
        "pids",
        "freezer",
        "systemd",
        "unified",
        "cpu,cpuacct",
    ] {
        assert_eq!(
            get(&root.join(h).join("nook/c1"), "cgroup.procs"),
            "4242",
            "{h}"
        );
    }
    assert_eq!(cg.pids().unwrap(), vec![Pid::from_raw(4242)]);
}

#[test]
fn v1_memory_limit_swap_and_friends() {
    let (_t, root) = v1_tree();
    let dir = root.join("memory/nook/c1");
    let cg = Cgroup::with_root(&root, Version::V1, None, "c1").unwrap();
    let m = LinuxMemoryBuilder::default()
        .limit(1 << 20)
        .swap(2 << 20)
        .reservation(1 << 19)
        .swappiness(10u64)
        .disable_oom_killer(true)
        .build()
        .unwrap();
    cg.apply(&LinuxResourcesBuilder::default().memory(m).build().unwrap())
        .unwrap();
    assert_eq!(get(&dir, "memory.limit_in_bytes"), "1048576");
    assert_eq!(get(&dir, "memory.memsw.limit_in_bytes"), "2097152");
    assert_eq!(get(&dir, "memory.soft_limit_in_bytes"), "524288");
    assert_eq!(get(&dir, "memory.swappiness"), "10");
    assert_eq!(get(&dir, "memory.oom_control"), "1");
    let bad = LinuxMemoryBuilder::default()
        .swappiness(101u64)
        .build()
        .unwrap();
    let err = cg.apply(
        &LinuxResourcesBuilder::default()
            .memory(bad)
            .build()
            .unwrap(),
    );
    assert!(matches!(err, Err(CgroupError::InvalidValue { .. })));
}

#[test]
fn v1_cpu_pids_devices_blkio() {
    let (_t, root) = v1_tree();
    let cg = Cgroup::with_root(&root, Version::V1, None, "c1").unwrap();
    let cpu = LinuxCpuBuilder::default()
        .shares(512u64)
        .quota(50_000i64)
        .period(200_000u64)
        .cpus("1-2")
        .build()
        .unwrap();
    let devices = vec![
        LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap(),
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(1i64)
            .minor(3i64)
            .access("rw")
            .build()
            .unwrap(),
    ];
    let r = LinuxResourcesBuilder::default()
        .cpu(cpu)
        .pids(LinuxPidsBuilder::default().limit(10i64).build().unwrap())
        .devices(devices)
        .build()
        .unwrap();
    cg.apply(&r).unwrap();
    let cpu_dir = root.join("cpu,cpuacct/nook/c1");
    assert_eq!(get(&cpu_dir, "cpu.shares"), "512");
    assert_eq!(get(&cpu_dir, "cpu.cfs_quota_us"), "50000");
    assert_eq!(get(&cpu_dir, "cpu.cfs_period_us"), "200000");
    assert_eq!(get(&root.join("cpuset/nook/c1"), "cpuset.cpus"), "1-2");
    assert_eq!(get(&root.join("pids/nook/c1"), "pids.max"), "10");
    assert_eq!(
        get(&root.join("devices/nook/c1"), "devices.deny"),
        "a *:* rwm"
    );
    assert_eq!(
        get(&root.join("devices/nook/c1"), "devices.allow"),
        "c 1:3 rw"
    );
    // No blkio hierarchy in this tree: the field is named, not skipped.
    let r = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(100u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = cg.apply(&r).unwrap_err();
    assert!(err.to_string().contains("linux.resources.blockIO"), "{err}");
}

#[test]
fn v1_refuses_v2_only_and_unimplemented_fields() {
    let (_t, root) = v1_tree();
    let cg = Cgroup::with_root(&root, Version::V1, None, "c1").unwrap();
    let unified = HashMap::from([("memory.high".to_string(), "1".to_string())]);
    let r = LinuxResourcesBuilder::default()
        .unified(unified)
        .build()
        .unwrap();
    let err = cg.apply(&r).unwrap_err();
    assert!(matches!(
        err,
        CgroupError::Unsupported {
            field: "linux.resources.unified",
            ..
        }
    ));
}

#[test]
fn v1_freeze_thaw_on_a_fake_tree() {
    let (_t, root) = v1_tree();
    let dir = root.join("freezer/nook/c1");
    let cg = Cgroup::with_root(&root, Version::V1, None, "c1").unwrap();
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert_eq!(get(&dir, "freezer.state"), "THAWED");
}

#[test]
fn v2_memory_swap_is_converted_to_swap_alone() {
    let (_t, leaf) = v2_tree();
    let root = leaf.parent().unwrap().parent().unwrap();
    let cg = Cgroup::with_root(root, Version::V2, None, "c1").unwrap();
    cg.apply(&memory(100 << 20, 300 << 20)).unwrap();
    assert_eq!(get(&leaf, "memory.max"), "104857600");
    assert_eq!(get(&leaf, "memory.swap.max"), "209715200");
    cg.apply(&memory(-1, -1)).unwrap();
    assert_eq!(get(&leaf, "memory.max"), "max");
    assert_eq!(get(&leaf, "memory.swap.max"), "max");
    // Refused before memory.max is touched.
    let err = cg.apply(&memory(200, 100)).unwrap_err();
    assert!(matches!(err, CgroupError::InvalidValue { .. }));
    assert_eq!(get(&leaf, "memory.max"), "max");
}

#[test]
fn v2_cpu_weight_and_max_keep_the_unset_half() {
    let (_t, leaf) = v2_tree();
    let root = leaf.parent().unwrap().parent().unwrap();
    let cg = Cgroup::with_root(root, Version::V2, None, "c1").unwrap();
    let cpu = LinuxCpuBuilder::default()
        .shares(1024u64)
        .quota(50_000i64)
        .build()
        .unwrap();
    cg.apply(&LinuxResourcesBuilder::default().cpu(cpu).build().unwrap())
        .unwrap();
    assert_eq!(get(&leaf, "cpu.weight"), "39");
    assert_eq!(get(&leaf, "cpu.max"), "50000 100000");
    let cpu = LinuxCpuBuilder::default()
        .period(20_000u64)
        .build()
        .unwrap();
    cg.apply(&LinuxResourcesBuilder::default().cpu(cpu).build().unwrap())
        .unwrap();
    assert_eq!(get(&leaf, "cpu.max"), "50000 20000");
    assert_eq!(limits::shares_to_weight(2), 1);
    assert_eq!(limits::shares_to_weight(262_144), 10_000);
}

#[test]
fn v2_pids_io_hugetlb_unified() {
    let (_t, leaf) = v2_tree();
    touch(
        &leaf,
        &[
            ("io.weight", ""),
            ("io.max", ""),
            ("hugetlb.2MB.max", ""),
            ("memory.high", ""),
        ],
    );
    let root = leaf.parent().unwrap().parent().unwrap();
    let cg = Cgroup::with_root(root, Version::V2, None, "c1").unwrap();
    let throttle = LinuxThrottleDeviceBuilder::default()
        .major(8i64)
        .minor(0i64)
        .rate(1000u64)
        .build()
        .unwrap();
    let r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(-1i64).build().unwrap())
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(1000u16)
                .throttle_read_bps_device(vec![throttle])
                .build()
                .unwrap(),
        )
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4i64 << 20)
            .build()
            .unwrap()])
        .unified(HashMap::from([(
            "memory.high".to_string(),
            "12345".to_string(),
        )]))
        .build()
        .unwrap();
    cg.apply(&r).unwrap();
    assert_eq!(get(&leaf, "pids.max"), "max");
    assert_eq!(get(&leaf, "io.weight"), "10000");
    assert_eq!(get(&leaf, "io.max"), "8:0 rbps=1000");
    assert_eq!(get(&leaf, "hugetlb.2MB.max"), "4194304");
    assert_eq!(get(&leaf, "memory.high"), "12345");
}

#[test]
fn v2_refusals() {
    let (_t, leaf) = v2_tree();
    let root = leaf.parent().unwrap().parent().unwrap();
    let cg = Cgroup::with_root(root, Version::V2, None, "c1").unwrap();
    // Device rules reach bpf(2), which a tempdir is no cgroup for; an unrepresentable rule
    // list is refused before that.
    let rule = |allow: bool, typ: LinuxDeviceType, major: i64, minor: i64| {
        LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .major(major)
            .minor(minor)
            .access("rwm")
            .build()
            .unwrap()
    };
    let deny_all = rule(false, LinuxDeviceType::A, -1, -1);
    let r = LinuxResourcesBuilder::default()
        .devices(vec![deny_all.clone()])
        .build()
        .unwrap();
    assert!(matches!(
        cg.apply(&r),
        Err(CgroupError::BpfQuery { .. } | CgroupError::Open { .. })
    ));
    let hole = vec![
        deny_all,
        rule(true, LinuxDeviceType::C, 1, -1),
        rule(false, LinuxDeviceType::C, 1, 3),
    ];
    let r = LinuxResourcesBuilder::default()
        .devices(hole)
        .build()
        .unwrap();
    assert!(matches!(
        cg.apply(&r),
        Err(CgroupError::InvalidValue {
            field: "linux.resources.devices",
            ..
        })
    ));
    let m = LinuxMemoryBuilder::default()
        .swappiness(1u64)
        .build()
        .unwrap();
    let r = LinuxResourcesBuilder::default().memory(m).build().unwrap();
    assert!(matches!(cg.apply(&r), Err(CgroupError::Unsupported { .. })));
    for key in ["cgroup.procs", "../memory.max", "memory", "a/b.c"] {
        let r = LinuxResourcesBuilder::default()
            .unified(HashMap::from([(key.to_string(), "1".to_string())]))
            .build()
            .unwrap();
        assert!(
            matches!(cg.apply(&r), Err(CgroupError::InvalidValue { .. })),
            "{key}"
        );
    }
    let h = LinuxHugepageLimitBuilder::default()
        .page_size("../x")
        .limit(1i64)
        .build()
        .unwrap();
    let r = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![h])
        .build()
        .unwrap();
    assert!(matches!(
        cg.apply(&r),
        Err(CgroupError::InvalidValue { .. })
    ));
}

#[test]
fn v2_create_enables_controllers_and_gives_a_clone_fd() {
    let (_t, leaf) = v2_tree();
    let root = leaf.parent().unwrap().parent().unwrap();
    let cg = Cgroup::with_root(root, Version::V2, None, "c1").unwrap();
    cg.create().unwrap();
    // A fake file keeps only the last write; the kernel would accumulate all three.
    assert_eq!(get(root, "cgroup.subtree_control"), "+pids");
    assert!(cg.clone_into_fd().unwrap().is_some());
    cg.freeze().unwrap();
    assert_eq!(get(&leaf, "cgroup.freeze"), "1");
    assert!(cg.is_frozen().unwrap());
}

#[test]
fn destroy_of_an_empty_or_absent_cgroup() {
    let t = tempfile::tempdir().unwrap();
    let cg = Cgroup::with_root(t.path(), Version::V2, None, "c1").unwrap();
    cg.destroy().unwrap();
    cg.signal_all(Signal::SIGKILL).unwrap();
    assert!(cg.pids().unwrap().is_empty());
    fs::create_dir_all(t.path().join("nook/c1")).unwrap();
    fs::write(t.path().join("nook/c1/cgroup.procs"), "").unwrap();
    // Empty, so no signal is sent; the rmdir then fails only because a tempdir, unlike a
    // cgroupfs leaf, holds a real file. The error names the leaf.
    let err = cg.destroy().unwrap_err();
    assert!(matches!(err, CgroupError::Rmdir { ref path, .. } if path.ends_with("nook/c1")));
}

#[test]
fn messages_name_the_file() {
    let t = tempfile::tempdir().unwrap();
    let err = files::write(t.path(), "memory.max", "1000").unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("write \"1000\" to "), "{msg}");
    // The rule for every error: the message ends with its source's.
    assert!(
        msg.contains("/memory.max: No such file or directory"),
        "{msg}"
    );
}

#[test]
fn device_rule_syntax() {
    let r = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::B)
        .major(8i64)
        .build()
        .unwrap();
    assert_eq!(limits::device_rule(&r).unwrap(), "b 8:* rwm");
    let r = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .access("rx")
        .build()
        .unwrap();
    assert!(limits::device_rule(&r).is_err());
}

#[test]
fn v1_blkio_weights_go_to_bfq_files_where_cfq_is_gone() {
    use oci_spec::runtime::LinuxWeightDeviceBuilder;
    let t = tempfile::tempdir().unwrap();
    let dir = t.path();
    touch(
        dir,
        &[("blkio.bfq.weight", "100"), ("blkio.bfq.weight_device", "")],
    );
    let device = |minor: i64, weight: u16| {
        LinuxWeightDeviceBuilder::default()
            .major(7i64)
            .minor(minor)
            .weight(weight)
            .build()
            .unwrap()
    };
    let b = LinuxBlockIoBuilder::default()
        .weight(300u16)
        .weight_device(vec![device(0, 200), device(1, 0)])
        .build()
        .unwrap();
    super::v1_resources::apply_blkio(dir, &b).unwrap();
    assert_eq!(get(dir, "blkio.bfq.weight"), "300");
    // One write per device; weight 0 means unset and writes nothing.
    assert_eq!(get(dir, "blkio.bfq.weight_device"), "7:0 200");
    assert!(!dir.join("blkio.weight_device").exists());
    // With CFQ's files present, those are used.
    touch(dir, &[("blkio.weight", "500"), ("blkio.weight_device", "")]);
    super::v1_resources::apply_blkio(dir, &b).unwrap();
    assert_eq!(get(dir, "blkio.weight"), "300");
    assert_eq!(get(dir, "blkio.weight_device"), "7:0 200");
}

#[test]
fn an_existing_frozen_v1_leaf_is_refused_and_left_as_found() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    touch(&root.join("freezer/ctr"), &[("freezer.state", "FROZEN")]);
    fs::create_dir_all(root.join("pids")).unwrap();
    fs::create_dir_all(root.join("unified")).unwrap();
    let cg = Cgroup::with_root(root, Version::V1, Some(Path::new("/ctr")), "x").unwrap();
    cg.create_clone_target().unwrap();
    let err = cg.create_rest().unwrap_err();
    assert!(matches!(err, CgroupError::Frozen { .. }), "{err}");
    assert!(err.to_string().contains("freezer/ctr"), "{err}");
    // Refused before any other hierarchy got a directory.
    assert!(!root.join("pids/ctr").exists());
    cg.undo_create().unwrap();
    assert!(root.join("freezer/ctr").is_dir(), "not ours to remove");
    assert!(
        !root.join("unified/ctr").exists(),
        "ours, made by this create"
    );
}

#[test]
fn an_existing_thawed_leaf_is_used_and_kept_on_undo() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    touch(&root.join("freezer/ctr"), &[("freezer.state", "THAWED")]);
    fs::create_dir_all(root.join("pids")).unwrap();
    let cg = Cgroup::with_root(root, Version::V1, Some(Path::new("/ctr")), "x").unwrap();
    cg.create().unwrap();
    assert!(root.join("pids/ctr").is_dir());
    cg.undo_create().unwrap();
    assert!(root.join("freezer/ctr").is_dir());
    assert!(!root.join("pids/ctr").exists());
}

#[test]
fn an_existing_frozen_v2_leaf_is_refused_before_the_fork() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    touch(&root.join("ctr"), &[("cgroup.freeze", "1")]);
    let cg = Cgroup::with_root(root, Version::V2, Some(Path::new("/ctr")), "x").unwrap();
    let err = cg.create_clone_target().unwrap_err();
    assert!(matches!(err, CgroupError::Frozen { .. }), "{err}");
    cg.undo_create().unwrap();
    assert!(root.join("ctr").is_dir());
    fs::write(root.join("ctr/cgroup.freeze"), "0").unwrap();
    cg.create_clone_target().unwrap();
}

#[test]
fn hugepage_limits_cap_reservations_where_the_kernel_counts_them() {
    let limit = |size: &str, bytes: i64| {
        LinuxHugepageLimitBuilder::default()
            .page_size(size)
            .limit(bytes)
            .build()
            .unwrap()
    };
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    // v1: 2MB has reservation accounting, 1GB (an older kernel's layout) does not.
    touch(
        d,
        &[
            ("hugetlb.2MB.limit_in_bytes", ""),
            ("hugetlb.2MB.rsvd.limit_in_bytes", ""),
            ("hugetlb.1GB.limit_in_bytes", ""),
        ],
    );
    v1_resources::apply_hugetlb(d, &[limit("2MB", 4 << 20), limit("1GB", 1 << 30)]).unwrap();
    assert_eq!(get(d, "hugetlb.2MB.limit_in_bytes"), "4194304");
    assert_eq!(get(d, "hugetlb.2MB.rsvd.limit_in_bytes"), "4194304");
    assert_eq!(get(d, "hugetlb.1GB.limit_in_bytes"), "1073741824");
    assert!(!d.join("hugetlb.1GB.rsvd.limit_in_bytes").exists());
    // v2: the same, in .max files; -1 is "max".
    touch(
        d,
        &[
            ("hugetlb.2MB.max", ""),
            ("hugetlb.2MB.rsvd.max", ""),
            ("hugetlb.1GB.max", ""),
        ],
    );
    v2_resources::apply_hugetlb(d, &[limit("2MB", -1), limit("1GB", 1 << 30)]).unwrap();
    assert_eq!(get(d, "hugetlb.2MB.max"), "max");
    assert_eq!(get(d, "hugetlb.2MB.rsvd.max"), "max");
    assert_eq!(get(d, "hugetlb.1GB.max"), "1073741824");
    assert!(!d.join("hugetlb.1GB.rsvd.max").exists());
}

#[test]
fn cpu_files_some_kernels_lack_are_refused_naming_field_and_file_before_any_write() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    touch(
        d,
        &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
        ],
    );
    let cpu = |f: fn(LinuxCpuBuilder) -> LinuxCpuBuilder| {
        f(LinuxCpuBuilder::default().shares(512u64))
            .build()
            .unwrap()
    };
    for (c, field, file) in [
        (
            cpu(|b| b.burst(1000u64)),
            "linux.resources.cpu.burst",
            "cpu.cfs_burst_us",
        ),
        (
            cpu(|b| b.idle(1i64)),
            "linux.resources.cpu.idle",
            "cpu.idle",
        ),
        (
            cpu(|b| b.realtime_period(1000u64)),
            "linux.resources.cpu.realtimePeriod",
            "cpu.rt_period_us",
        ),
        (
            cpu(|b| b.realtime_runtime(0i64)),
            "linux.resources.cpu.realtimeRuntime",
            "cpu.rt_runtime_us",
        ),
    ] {
        let err = v1_resources::apply_cpu(d, &c).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{field}: the kernel offers no ")),
            "{err}"
        );
        assert!(err.contains(file), "{err}");
        assert_eq!(get(d, "cpu.shares"), "1024", "written before the refusal");
    }
    touch(
        d,
        &[
            ("cpu.cfs_burst_us", "0"),
            ("cpu.idle", "0"),
            ("cpu.rt_period_us", "1000000"),
            ("cpu.rt_runtime_us", "0"),
        ],
    );
    let all = cpu(|b| {
        b.burst(1000u64)
            .idle(1i64)
            .realtime_period(500000u64)
            .realtime_runtime(0i64)
    });
    v1_resources::apply_cpu(d, &all).unwrap();
    assert_eq!(get(d, "cpu.cfs_burst_us"), "1000");
    assert_eq!(get(d, "cpu.idle"), "1");
    assert_eq!(get(d, "cpu.rt_period_us"), "500000");
    // v2: cpu.max.burst and cpu.idle.
    let v2 = tempfile::tempdir().unwrap();
    let d = v2.path();
    touch(d, &[("cpu.weight", "100")]);
    let err = v2_resources::apply_cpu(d, &cpu(|b| b.burst(5u64)))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("linux.resources.cpu.burst: the kernel offers no "),
        "{err}"
    );
    assert!(err.contains("cpu.max.burst"), "{err}");
    touch(d, &[("cpu.max.burst", "0"), ("cpu.idle", "0")]);
    v2_resources::apply_cpu(d, &cpu(|b| b.burst(5u64).idle(1i64))).unwrap();
    assert_eq!(
        (get(d, "cpu.max.burst"), get(d, "cpu.idle")),
        ("5".into(), "1".into())
    );
}
