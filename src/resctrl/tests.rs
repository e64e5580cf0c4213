use super::*;

/// A resctrl mount as the kernel lays it out, over a tempdir: the root group's files.
fn fake_mount() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("schemata"),
        "    L3:0=7ff;1=7ff\n    MB:0=100;1=100\n",
    )
    .unwrap();
    std::fs::write(t.path().join("tasks"), "").unwrap();
    std::fs::create_dir(t.path().join("info")).unwrap();
    std::fs::create_dir(t.path().join("mon_groups")).unwrap();
    t
}

/// A pre-existing group as resctrl shows it.
fn group_with(mount: &Path, name: &str, schemata: &str) -> PathBuf {
    let dir = mount.join(name);
    std::fs::create_dir_all(dir.join("mon_groups")).unwrap();
    std::fs::write(dir.join("schemata"), schemata).unwrap();
    std::fs::write(dir.join("tasks"), "").unwrap();
    dir
}

fn rdt(json: serde_json::Value) -> LinuxIntelRdt {
    serde_json::from_value(json).unwrap()
}

const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /sys/fs/resctrl rw,relatime shared:20 - resctrl resctrl rw,mba_MBps
";

#[test]
fn the_mount_comes_from_mountinfo() {
    assert_eq!(
        mount_point(MOUNTINFO),
        Some(PathBuf::from("/sys/fs/resctrl"))
    );
    assert_eq!(mount_point("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), None);
}

/// resctrl makes `schemata` and `tasks` in a group at mkdir; a plain directory does not, so
/// here the new group's schemata write fails: it shows which file the write went to, and that
/// the group made for it is removed again.
#[test]
fn a_new_group_is_named_by_the_id_and_undone_when_its_schemata_fail() {
    let m = fake_mount();
    let spec =
        rdt(serde_json::json!({"l3CacheSchema": "L3:0=f0;1=1f", "memBwSchema": "MB:0=20;1=70"}));
    let err = setup(m.path(), &spec, "ctr").unwrap_err().to_string();
    assert!(
        err.starts_with("write \"L3:0=f0;1=1f\\nMB:0=20;1=70\\n\" to "),
        "{err}"
    );
    assert!(err.contains("/ctr/schemata"), "{err}");
    assert!(!m.path().join("ctr").exists());
}

#[test]
fn schemata_lines_combine_l3_mb_and_schemata_in_order() {
    let spec = rdt(serde_json::json!({
        "l3CacheSchema": "L3:0=f0;1=1f\nMB:0=10",
        "memBwSchema": "MB:0=20;1=70",
        "schemata": ["L2:0=f;1=f"]
    }));
    assert_eq!(
        lines_to_write(&spec),
        ["L3:0=f0;1=1f", "MB:0=20;1=70", "L2:0=f;1=f"]
    );
    let only_l3 = rdt(serde_json::json!({"l3CacheSchema": "L3:0=f0\nMB:0=10"}));
    assert_eq!(lines_to_write(&only_l3), ["L3:0=f0", "MB:0=10"]);
    assert!(lines_to_write(&rdt(serde_json::json!({}))).is_empty());
}

#[test]
fn an_existing_group_with_matching_schemata_is_joined_and_kept() {
    let m = fake_mount();
    let dir = group_with(m.path(), "gold", "    L3:0=0f0;1=01f\n    MB:0= 20;1= 70\n");
    let spec = rdt(
        serde_json::json!({"closID": "gold", "l3CacheSchema": "L3:0=f0;1=1f", "memBwSchema": "MB:0=20"}),
    );
    let g = setup(m.path(), &spec, "ctr").unwrap();
    assert_eq!(
        g,
        Group {
            dir: dir.clone(),
            created: false,
            monitor: None
        }
    );
    // Its schemata were not rewritten.
    assert_eq!(
        std::fs::read_to_string(dir.join("schemata")).unwrap(),
        "    L3:0=0f0;1=01f\n    MB:0= 20;1= 70\n"
    );
    g.join(1234).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("tasks")).unwrap(), "1234");
    g.remove().unwrap();
    assert!(dir.is_dir(), "a group nook did not make stays");
}

#[test]
fn an_existing_group_with_other_schemata_is_refused() {
    let m = fake_mount();
    group_with(m.path(), "gold", "L3:0=0ff;1=0ff\n");
    let spec = rdt(serde_json::json!({"closID": "gold", "l3CacheSchema": "L3:0=f0"}));
    let err = setup(m.path(), &spec, "ctr").unwrap_err().to_string();
    assert!(err.contains("L3:0=f0") && err.contains("L3:0=0ff"), "{err}");
    // Nothing was made for it.
    assert!(!m.path().join("gold/mon_groups/ctr").exists());
}

#[test]
fn a_closid_without_schemata_must_name_an_existing_group() {
    let m = fake_mount();
    let spec = rdt(serde_json::json!({"closID": "nope"}));
    let err = setup(m.path(), &spec, "ctr").unwrap_err().to_string();
    assert!(err.contains("linux.intelRdt.closID \"nope\""), "{err}");
    assert!(!m.path().join("nope").exists());
}

#[test]
fn a_group_made_for_the_container_is_removed_with_its_monitoring_group() {
    let m = fake_mount();
    // No schema: mkdir only, which a plain directory does like resctrl.
    let spec = rdt(serde_json::json!({"enableMonitoring": true}));
    let err = setup(m.path(), &spec, "ctr").unwrap_err();
    // resctrl makes mon_groups inside every new group; a plain mkdir does not, so the
    // monitoring mkdir fails and the group goes again.
    assert!(err.to_string().contains("ctr/mon_groups/ctr"), "{err}");
    assert!(!m.path().join("ctr").exists());

    let plain = setup(m.path(), &rdt(serde_json::json!({})), "ctr").unwrap();
    assert_eq!(
        plain,
        Group {
            dir: m.path().join("ctr"),
            created: true,
            monitor: None
        }
    );
    assert!(plain.dir.is_dir());
    plain.remove().unwrap();
    assert!(!plain.dir.exists());
    plain.remove().unwrap(); // already gone is fine
}

#[test]
fn monitoring_makes_a_group_of_the_container_inside_the_class() {
    let m = fake_mount();
    let dir = group_with(m.path(), "gold", "L3:0=ff\n");
    let spec = rdt(serde_json::json!({"closID": "gold", "enableMonitoring": true}));
    let g = setup(m.path(), &spec, "ctr").unwrap();
    let mon = dir.join("mon_groups/ctr");
    assert_eq!(g.monitor.as_deref(), Some(mon.as_path()));
    std::fs::write(mon.join("tasks"), "").unwrap();
    g.join(42).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("tasks")).unwrap(), "42");
    assert_eq!(std::fs::read_to_string(mon.join("tasks")).unwrap(), "42");
    std::fs::remove_file(mon.join("tasks")).unwrap(); // resctrl's rmdir ignores its files
    g.remove().unwrap();
    assert!(!mon.exists());
    assert!(dir.is_dir());
}

#[test]
#[allow(deprecated)]
fn the_deprecated_cmt_and_mbm_flags_ask_for_monitoring() {
    let mut cmt = LinuxIntelRdt::default();
    cmt.set_enable_cmt(Some(true));
    assert!(wants_monitoring(&cmt));
    let mut mbm = LinuxIntelRdt::default();
    mbm.set_enable_mbm(Some(true));
    assert!(wants_monitoring(&mbm));
    assert!(!wants_monitoring(&rdt(
        serde_json::json!({"enableMonitoring": false})
    )));
}

#[test]
fn update_writes_the_new_lines_in_one_write() {
    let m = fake_mount();
    let dir = group_with(m.path(), "ctr", "L3:0=ff\n");
    let g = Group {
        dir: dir.clone(),
        created: true,
        monitor: None,
    };
    g.update(Some("L3:0=f"), Some("MB:0=50")).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("schemata")).unwrap(),
        "L3:0=f\nMB:0=50\n"
    );
    let err = g.update(None, Some("L3:0=f")).unwrap_err().to_string();
    assert!(err.starts_with("linux.intelRdt.memBwSchema"), "{err}");
}

#[test]
fn bad_names_and_schemas_are_refused_naming_the_field() {
    let cases = [
        (
            serde_json::json!({"closID": "../x"}),
            "linux.intelRdt.closID",
        ),
        (serde_json::json!({"closID": ""}), "linux.intelRdt.closID"),
        (
            serde_json::json!({"closID": "info"}),
            "linux.intelRdt.closID",
        ),
        (
            serde_json::json!({"closID": "mon_groups"}),
            "linux.intelRdt.closID",
        ),
        (
            serde_json::json!({"l3CacheSchema": "L3:0=f\nL2:0=1"}),
            "linux.intelRdt.l3CacheSchema",
        ),
        (
            serde_json::json!({"l3CacheSchema": "nonsense"}),
            "linux.intelRdt.l3CacheSchema",
        ),
        (
            serde_json::json!({"memBwSchema": "L3:0=f"}),
            "linux.intelRdt.memBwSchema",
        ),
        (
            serde_json::json!({"schemata": ["L3:0"]}),
            "linux.intelRdt.schemata",
        ),
        (
            serde_json::json!({"schemata": ["L3:0=f\nMB:0=1"]}),
            "linux.intelRdt.schemata",
        ),
    ];
    for (json, field) in cases {
        let err = validate(&rdt(json.clone())).unwrap_err().to_string();
        assert!(err.starts_with(field), "{json}: {err}");
    }
    validate(&rdt(
        serde_json::json!({"closID": "gold", "schemata": ["L3:0=f", "MB:0=10"]}),
    ))
    .unwrap();
}

#[test]
fn mismatch_compares_numbers_and_only_the_named_domains() {
    let current = "    L3:0=0f0;1=7ff\n    MB:0=100;1= 30\n";
    assert_eq!(
        first_mismatch(current, &["L3:0=f0".into(), "MB:1=30".into()]),
        None
    );
    assert_eq!(
        first_mismatch(current, &["MB:1=31".into()]),
        Some(("MB:1=31".into(), "MB:0=100;1=30".into()))
    );
    assert_eq!(
        first_mismatch(current, &["L2:0=f".into()]),
        Some(("L2:0=f".into(), String::new()))
    );
}

#[test]
fn a_group_another_container_still_uses_stays() {
    let m = fake_mount();
    let dir = group_with(m.path(), "shared", "L3:0=ff\n");
    let g = Group {
        dir: dir.clone(),
        created: true,
        monitor: None,
    };
    std::fs::write(dir.join("tasks"), "4242\n").unwrap();
    g.remove().unwrap();
    assert!(dir.is_dir(), "removed a group with a task in it");
}
