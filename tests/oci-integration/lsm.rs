//! LSM labels on a host without AppArmor or SELinux (this test host): a config or an exec that
//! asks for a profile or label is refused with an error naming the field, and nothing is left.
//! Where the LSM is enabled the refusal tests skip themselves, and
//! `apparmor_profile_is_applied_where_enabled` checks the labels are applied instead (the
//! cgroup v2 VM lane has AppArmor on).

use crate::support::{assert_nothing_left, container_test, is_nook, Fixture};
use serde_json::json;
use std::path::Path;

fn apparmor_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|c| c.first() == Some(&b'Y'))
}

fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Runs the fixture's config and requires a clean refusal naming `field` (nook's wording is
/// checked only for nook).
#[track_caller]
fn refused(f: &mut Fixture, field: &str, lsm: &str) {
    f.set_args(&["true"]);
    let out = f.run().failed();
    if is_nook() {
        let want = format!("{field}: {lsm} is not enabled on this host");
        assert!(out.stderr.contains(&want), "{out}");
    }
    assert_nothing_left(f, &f.id);
}

container_test! {
    fn apparmor_profile_without_apparmor_is_refused(f) {
        if apparmor_enabled() {
            crate::support::skip(
                "apparmor_profile_without_apparmor_is_refused",
                "apparmor-off",
                "AppArmor is enabled here",
            );
            return;
        }
        f.config["process"]["apparmorProfile"] = json!("nook-test-profile");
        refused(&mut f, "process.apparmorProfile", "AppArmor");
    }
}

container_test! {
    fn selinux_label_without_selinux_is_refused(f) {
        if selinux_enabled() {
            crate::support::skip(
                "selinux_label_without_selinux_is_refused",
                "selinux-off",
                "SELinux is enabled here",
            );
            return;
        }
        f.config["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
        refused(&mut f, "process.selinuxLabel", "SELinux");
    }
}

container_test! {
    fn mount_label_without_selinux_is_refused(f) {
        // runc 1.1.5 gets as far as mounting /dev with context= before the kernel refuses it;
        // nook refuses at validation. Either way: exit 1, nothing left.
        if selinux_enabled() {
            crate::support::skip(
                "mount_label_without_selinux_is_refused",
                "selinux-off",
                "SELinux is enabled here",
            );
            return;
        }
        f.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
        refused(&mut f, "linux.mountLabel", "SELinux");
    }
}

container_test! {
    fn exec_with_a_label_for_a_disabled_lsm_is_refused(f) {
        // --apparmor, --process-label and a --process file's apparmorProfile: each refused
        // before anything runs in the container (the marker never appears), the container
        // untouched. Fails if a flag is ignored (the exec then succeeds) or applied late.
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let marker = f.rootfs().join("tmp/ran");
        let process = json!({
            "user": {"uid": 0, "gid": 0}, "args": ["touch", "/tmp/ran"], "cwd": "/",
            "env": ["PATH=/bin"], "apparmorProfile": "nook-test-profile"
        });
        let file = f.dir.path().join("process.json");
        std::fs::write(&file, process.to_string()).unwrap();
        let mut cases: Vec<(Vec<&str>, &str)> = Vec::new();
        if !apparmor_enabled() {
            cases.push((vec!["--apparmor", "nook-test-profile"], "process.apparmorProfile: AppArmor"));
            cases.push((vec!["--process", file.to_str().unwrap()], "process.apparmorProfile: AppArmor"));
        }
        if !selinux_enabled() {
            cases.push((vec!["--process-label", "system_u:system_r:container_t:s0"], "process.selinuxLabel: SELinux"));
        }
        for (flags, want) in cases {
            let mut args = vec!["exec"];
            args.extend_from_slice(&flags);
            args.push(&f.id);
            if !flags.contains(&"--process") {
                args.extend_from_slice(&["touch", "/tmp/ran"]);
            }
            let out = f.rt(&args);
            assert!(!out.status.success(), "{flags:?} was accepted: {out}");
            if is_nook() {
                // A failed exec exits 255, as runc's does.
                assert_eq!(out.code(), Some(255), "{out}");
                assert!(out.stderr.contains(&format!("{want} is not enabled on this host")), "{out}");
            }
            assert!(!marker.exists(), "{flags:?}: the process ran");
        }
        assert_eq!(f.state(&f.id)["status"], "running");
        f.rt(&["delete", "--force", &f.id]).ok();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn apparmor_profile_is_applied_where_enabled(f) {
        // The other side of the refusals above, for hosts with AppArmor (the cgroup v2 VM lane:
        // Debian's kernel enables it by default, with no profile loaded). Without a policy to
        // load, two things still prove the profile reaches the kernel at exec: the built-in
        // "unconfined" is what the container and an exec'd process then run under, and a
        // profile the kernel does not have makes create fail naming the field (the write of
        // `exec <profile>` is refused). Fails if nook skips the write (the missing profile would
        // then start) or writes it to the wrong attribute. Skips where AppArmor is off.
        if !apparmor_enabled() {
            crate::support::skip(
                "apparmor_profile_is_applied_where_enabled",
                "apparmor",
                "AppArmor is not enabled on this host",
            );
            return;
        }
        let current = "cat /proc/self/attr/apparmor/current 2>/dev/null || cat /proc/self/attr/current";
        f.config["process"]["apparmorProfile"] = json!("unconfined");
        f.set_args(&["sh", "-c", &format!("{current}; exec sleep 100")]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let out = f.rt(&["exec", "--apparmor", "unconfined", &f.id, "sh", "-c", current]).ok();
        assert_eq!(out.stdout.trim(), "unconfined", "{out}");
        f.rt(&["delete", "--force", &f.id]).ok();

        let id = f.another_id("missing");
        f.config["process"]["apparmorProfile"] = json!("nook-test-no-such-profile");
        f.set_args(&["true"]);
        let out = f.create_with(&id, &[]).failed();
        assert!(out.stderr.contains("apparmor"), "{out}");
        assert_nothing_left(&f, &id);
    }
}
