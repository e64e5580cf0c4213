//! `--systemd-cgroup` where it must fail: a malformed `linux.cgroupsPath`, and no D-Bus socket
//! to reach systemd. Each exits 1 naming the field or the socket and leaves nothing behind.
//! The working path (a scope systemd makes) needs systemd as PID 1 and is not tested here.

use crate::support::{assert_nothing_left, container_test, is_runc, skip, Fixture, Outcome};
use std::fs;
use std::path::Path;

/// `create --systemd-cgroup` of the fixture's config, with `env` set.
fn create_systemd(f: &Fixture, env: &[(&str, &str)]) -> Outcome {
    f.write_config();
    let bundle = f.bundle();
    let mut cmd = f.cmd(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        &f.id,
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    f.remember(&f.id);
    f.exec(cmd)
}

#[track_caller]
fn assert_clean_failure(f: &Fixture, out: Outcome, name: &str) {
    let out = out.failed();
    assert!(
        out.stderr.contains(name),
        "stderr does not name {name:?}: {out}"
    );
    f.rt(&["state", &f.id]).failed();
    assert_nothing_left(f, &f.id);
    let entries: Vec<_> = fs::read_dir(f.root())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "state left under --root: {entries:?}");
}

container_test! {
    fn systemd_cgroups_path_not_slice_prefix_name(f) {
        f.config["linux"]["cgroupsPath"] = "/nook/not-systemd".into();
        let out = create_systemd(&f, &[]);
        assert_clean_failure(&f, out, "cgroupsPath");
    }
}

container_test! {
    fn systemd_cgroups_path_bad_slice(f) {
        // runc 1.1.5 checks the slice only once it talks to systemd, which this host may lack.
        if is_runc() && !Path::new("/run/systemd/system").exists() {
            skip("systemd_cgroups_path_bad_slice", "systemd", "runc checks the slice after connecting");
            return;
        }
        for bad in ["a--b.slice:p:n", "a/b.slice:p:n", "notaslice:p:n", "system.slice:p:"] {
            f.config["linux"]["cgroupsPath"] = bad.into();
            let out = create_systemd(&f, &[]);
            assert_clean_failure(&f, out, "cgroupsPath");
        }
    }
}

container_test! {
    fn systemd_cgroup_without_dbus_socket(f) {
        if Path::new("/run/systemd/private").exists() {
            skip("systemd_cgroup_without_dbus_socket", "no-systemd",
                 "systemd's private socket is there to fall back on");
            return;
        }
        let missing = f.dir.path().join("no-such-bus");
        let address = format!("unix:path={}", missing.display());
        f.config["linux"]["cgroupsPath"] = "system.slice:nook-test:x".into();
        let out = create_systemd(&f, &[("DBUS_SYSTEM_BUS_ADDRESS", &address)]);
        // runc 1.1.5 checks for /run/systemd/system first and says only that systemd is not
        // running; nook names the socket it could not reach.
        let name = if is_runc() { "systemd" } else { missing.to_str().unwrap() };
        assert_clean_failure(&f, out, name);
    }
}
