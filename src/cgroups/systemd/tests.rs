use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::dbus::{self, Value, Writer};
use super::{bus_path, expand_slice, parse_cgroups_path, properties, ScopeName};
use crate::cgroups::{CgroupError, Version};

fn scope(path: &str) -> Result<ScopeName, CgroupError> {
    parse_cgroups_path(Some(Path::new(path)), "ctr")
}

#[test]
fn slice_prefix_name_and_runc_defaults() {
    let s = scope("system.slice:docker:abc").unwrap();
    assert_eq!(s.slice, "system.slice");
    assert_eq!(s.unit, "docker-abc.scope");
    assert_eq!(s.path, PathBuf::from("/system.slice/docker-abc.scope"));
    let d = parse_cgroups_path(None, "ctr").unwrap();
    assert_eq!(
        (d.slice.as_str(), d.unit.as_str()),
        ("system.slice", "runc-ctr.scope")
    );
    let empty_slice = scope(":crio:x").unwrap();
    assert_eq!(
        empty_slice.path,
        PathBuf::from("/system.slice/crio-x.scope")
    );
    let nested = scope("machine-libpod_pod_1.slice:libpod:c1").unwrap();
    assert_eq!(
        nested.path,
        PathBuf::from("/machine.slice/machine-libpod_pod_1.slice/libpod-c1.scope")
    );
    assert_eq!(scope("-.slice::c").unwrap().path, PathBuf::from("/c.scope"));
}

#[test]
fn malformed_cgroups_paths_name_the_field() {
    for bad in [
        "/a/b",
        "a:b",
        "a:b:c:d",
        "a--b.slice:p:n",
        "-a.slice:p:n",
        "a/b.slice:p:n",
        "system:p:n",
        "system.slice:p:",
        "system.slice:p:x.slice",
        "system.slice:p q:n",
    ] {
        let err = scope(bad).unwrap_err();
        assert!(matches!(err, CgroupError::BadPath { .. }), "{bad}: {err:?}");
        assert!(err.to_string().starts_with("linux.cgroupsPath"), "{err}");
    }
}

#[test]
fn slices_expand_by_dash() {
    assert_eq!(
        expand_slice("a-b-c.slice"),
        Some("/a.slice/a-b.slice/a-b-c.slice".into())
    );
    assert_eq!(expand_slice("-.slice"), Some("/".into()));
    assert_eq!(expand_slice(".slice"), None);
    assert_eq!(expand_slice("a-.slice"), None);
}

#[test]
fn bus_address_path() {
    assert_eq!(
        bus_path("unix:path=/run/dbus/system_bus_socket,guid=1;tcp:host=x"),
        Some("/run/dbus/system_bus_socket".into())
    );
    assert_eq!(bus_path("tcp:host=x"), None);
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn names<'a>(props: &[(&'a str, Value)]) -> Vec<(&'a str, Value)> {
    props.iter().map(|(n, v)| (*n, v.clone())).collect()
}

#[test]
fn v2_properties_as_runc_maps_them() {
    let r = resources(
        r#"{"memory": {"limit": 1048576, "reservation": 4096, "swap": 2097152},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,9", "mems": "0"},
            "pids": {"limit": 20}, "blockIO": {"weight": 500},
            "unified": {"memory.high": "max", "io.max": "8:0 rbps=1"}}"#,
    );
    let props = properties::resource_properties(Version::V2, &r).unwrap();
    assert_eq!(
        names(&props),
        vec![
            ("MemoryMax", Value::U64(1_048_576)),
            ("MemoryLow", Value::U64(4096)),
            ("MemorySwapMax", Value::U64(1_048_576)),
            ("CPUWeight", Value::U64(39)),
            ("CPUQuotaPeriodUSec", Value::U64(100_000)),
            ("CPUQuotaPerSecUSec", Value::U64(500_000)),
            ("AllowedCPUs", Value::Bytes(vec![0b0000_0111, 0b0000_0010])),
            ("AllowedMemoryNodes", Value::Bytes(vec![1])),
            ("TasksMax", Value::U64(20)),
            ("MemoryHigh", Value::U64(u64::MAX)),
        ]
    );
}

#[test]
fn v1_properties_and_quota_rounding() {
    let r = resources(
        r#"{"memory": {"limit": -1}, "cpu": {"shares": 512, "quota": 12345},
            "pids": {"limit": -1}, "blockIO": {"weight": 500}}"#,
    );
    let props = properties::resource_properties(Version::V1, &r).unwrap();
    assert_eq!(
        names(&props),
        vec![
            ("MemoryLimit", Value::U64(u64::MAX)),
            ("CPUShares", Value::U64(512)),
            // 12345 us per 100 ms is 123450 us per second, rounded up to whole percent.
            ("CPUQuotaPerSecUSec", Value::U64(130_000)),
            ("TasksMax", Value::U64(u64::MAX)),
            ("BlockIOWeight", Value::U64(500)),
        ]
    );
    let bad = resources(r#"{"cpu": {"cpus": "3-1"}}"#);
    let err = properties::resource_properties(Version::V2, &bad).unwrap_err();
    assert!(
        err.to_string().contains("linux.resources.cpu.cpus"),
        "{err}"
    );
}

#[test]
fn device_rules_as_device_allow() {
    let r = resources(
        r#"{"devices": [{"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 136, "access": "rw"},
            {"allow": true, "type": "b", "access": "m"},
            {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rwm"}]}"#,
    );
    let lookup = |block: bool, major: i64| (!block && major == 136).then(|| "pts".to_string());
    let props = properties::device_properties(&r, &lookup);
    assert_eq!(
        names(&props),
        vec![
            ("DevicePolicy", Value::Str("strict".into())),
            (
                "DeviceAllow",
                Value::StrPairs(vec![
                    ("/dev/char/1:3".into(), "rwm".into()),
                    ("char-pts".into(), "rw".into()),
                    ("block-*".into(), "m".into()),
                ])
            ),
        ]
    );
    let open = resources(r#"{"devices": [{"allow": true, "access": "rwm"}]}"#);
    let props = properties::device_properties(&open, &lookup);
    assert_eq!(props[0], ("DevicePolicy", Value::Str("auto".into())));
}

#[test]
fn proc_devices_names() {
    let text = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
    assert_eq!(
        properties::devices_name(text, false, 136).as_deref(),
        Some("pts")
    );
    assert_eq!(
        properties::devices_name(text, true, 8).as_deref(),
        Some("sd")
    );
    assert_eq!(properties::devices_name(text, false, 8), None);
}

#[test]
fn property_array_bytes() {
    let mut w = Writer::default();
    w.properties(&[("Delegate", Value::Bool(true))]);
    let mut want = vec![20, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0];
    want.extend_from_slice(b"Delegate\0");
    want.extend_from_slice(&[1, b'b', 0, 1, 0, 0, 0]);
    assert_eq!(w.buf, want);

    let mut w = Writer::default();
    w.properties(&[("MemoryMax", Value::U64(1))]);
    let mut want = vec![32, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0];
    want.extend_from_slice(b"MemoryMax\0");
    want.extend_from_slice(&[1, b't', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(w.buf, want);
}

#[test]
fn method_call_header_bytes() {
    let msg = dbus::method_call_to(1, None, "/", "a.b", "M", "", &[]);
    let mut want = vec![b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 42, 0, 0, 0];
    want.extend_from_slice(&[1, 1, b'o', 0, 1, 0, 0, 0, b'/', 0, 0, 0, 0, 0, 0, 0]);
    want.extend_from_slice(&[2, 1, b's', 0, 3, 0, 0, 0, b'a', b'.', b'b', 0, 0, 0, 0, 0]);
    want.extend_from_slice(&[3, 1, b's', 0, 1, 0, 0, 0, b'M', 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(msg, want);
}

#[test]
fn reply_and_signal_parsing() {
    let mut msg = vec![b'l', 2, 1, 1, 7, 0, 0, 0, 9, 0, 0, 0, 15, 0, 0, 0];
    msg.extend_from_slice(&[5, 1, b'u', 0, 7, 0, 0, 0]);
    msg.extend_from_slice(&[8, 1, b'g', 0, 1, b's', 0, 0]);
    msg.extend_from_slice(&[2, 0, 0, 0, b'o', b'k', 0]);
    let fixed: [u8; 16] = msg[..16].try_into().unwrap();
    assert_eq!(dbus::message_len(&fixed), Some(msg.len()));
    let inc = dbus::parse(&msg).unwrap();
    assert_eq!(inc.kind, dbus::METHOD_RETURN);
    assert_eq!(inc.reply_serial, Some(7));
    assert_eq!(inc.signature, "s");
    assert_eq!(dbus::Reader::new(&inc.body).str().as_deref(), Some("ok"));
    assert_eq!(dbus::parse(&msg[..msg.len() - 1]), None);

    let mut body = Writer::default();
    body.u32(3);
    body.str("/org/freedesktop/systemd1/job/3");
    body.str("runc-x.scope");
    body.str("done");
    assert_eq!(
        dbus::job_removed(&body.buf),
        Some(("/org/freedesktop/systemd1/job/3".into(), "done".into()))
    );
}
