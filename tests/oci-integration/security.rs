//! Regression tests for escape classes from /work/shared/SECURITY.md: a malicious rootfs must not
//! reach the host. (Container id traversal is in bad_input.rs, inherited capabilities in process.rs.)

use crate::support::{assert_nothing_left, container_test};
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;

container_test! {
    fn mount_destination_symlink_stays_inside_the_rootfs(f) {
        // The image points /mnt/evil at a host directory; the tmpfs and anything written to it
        // must land inside the rootfs, never on the host path.
        let victim = f.dir.path().join("victim");
        fs::create_dir(&victim).unwrap();
        symlink(&victim, f.rootfs().join("mnt/evil")).unwrap();
        f.config["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/mnt/evil", "type": "tmpfs", "source": "tmpfs"}));
        f.run_sh("echo pwned > /mnt/evil/owned");
        assert!(!victim.join("owned").exists(), "the container wrote through the symlink to the host");
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mountinfo.contains(victim.to_str().unwrap()), "a mount landed on the host path");
    }
}

container_test! {
    fn proc_as_a_symlink_is_refused(f) {
        // CVE-2019-16884 class: /proc in the image is a symlink to a host directory.
        let victim = f.dir.path().join("fakeproc");
        fs::create_dir(&victim).unwrap();
        fs::remove_dir(f.rootfs().join("proc")).unwrap();
        symlink(&victim, f.rootfs().join("proc")).unwrap();
        f.set_args(&["true"]);
        let out = f.run();
        let out = out.failed();
        assert!(out.stderr.contains("proc"), "{out}");
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0, "something was written to the host dir");
        assert_nothing_left(&f, &f.id);
    }
}
