//! Mounts and their flags, maskedPaths, readonlyPaths, root.readonly and devices.

use crate::support::{container_test, mountinfo_line};
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn add_mount(f: &mut crate::support::Fixture, mount: serde_json::Value) {
    f.config["mounts"].as_array_mut().unwrap().push(mount);
}

/// The per-mount options (field 6) and super options (last field) of a mountinfo line.
fn options(line: &str) -> (Vec<&str>, Vec<&str>) {
    let fields: Vec<&str> = line.split(' ').collect();
    let per_mount = fields[5].split(',').collect();
    let super_opts = fields.last().unwrap().split(',').collect();
    (per_mount, super_opts)
}

container_test! {
    fn tmpfs_options_apply(f) {
        add_mount(&mut f, json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "noexec", "mode=755", "size=4m"]}));
        let out = f.run_sh(
            "cat /proc/self/mountinfo; echo ==; stat -c %a /mnt/t; \
             echo hi > /mnt/t/file && echo write=ok; \
             cp /bin/busybox /mnt/t/bb && /mnt/t/bb true 2>/dev/null; echo exec=$?; \
             dd if=/dev/zero of=/mnt/t/big bs=1024 count=5000 2>/dev/null; echo dd=$?",
        );
        let (mountinfo, checks) = out.split_once("==\n").unwrap();
        let line = mountinfo_line(mountinfo, "/mnt/t").unwrap_or_else(|| panic!("no /mnt/t in\n{mountinfo}"));
        let (per_mount, super_opts) = options(line);
        for flag in ["nosuid", "nodev", "noexec"] {
            assert!(per_mount.contains(&flag), "{flag} missing: {line}");
        }
        assert!(super_opts.contains(&"size=4096k"), "{line}");
        assert!(super_opts.contains(&"mode=755"), "{line}");
        assert_eq!(checks, "755\nwrite=ok\nexec=126\ndd=1\n");
    }
}

container_test! {
    fn bind_mounts_are_read_only_or_writable_as_configured(f) {
        let ro = f.dir.path().join("host-ro");
        let rw = f.dir.path().join("host-rw");
        fs::create_dir(&ro).unwrap();
        fs::create_dir(&rw).unwrap();
        fs::write(ro.join("hello"), "from host\n").unwrap();
        add_mount(&mut f, json!({"destination": "/mnt/ro", "type": "bind", "source": ro, "options": ["bind", "ro"]}));
        add_mount(&mut f, json!({"destination": "/mnt/rw", "type": "bind", "source": rw, "options": ["rbind", "rw"]}));
        let out = f.run_sh(
            "cat /mnt/ro/hello; touch /mnt/ro/x 2>&1; echo from-container > /mnt/rw/out; \
             echo ==; cat /proc/self/mountinfo",
        );
        let (checks, mountinfo) = out.split_once("==\n").unwrap();
        assert_eq!(checks, "from host\ntouch: /mnt/ro/x: Read-only file system\n");
        assert!(!ro.join("x").exists());
        assert_eq!(fs::read_to_string(rw.join("out")).unwrap(), "from-container\n");
        let ro_line = mountinfo_line(mountinfo, "/mnt/ro").expect("/mnt/ro mounted");
        assert!(options(ro_line).0.contains(&"ro"), "{ro_line}");
        let rw_line = mountinfo_line(mountinfo, "/mnt/rw").expect("/mnt/rw mounted");
        assert!(options(rw_line).0.contains(&"rw"), "{rw_line}");
    }
}

container_test! {
    fn container_mounts_do_not_reach_the_host(f) {
        add_mount(&mut f, json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs"}));
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.wait_status(&f.id, "running");
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = f.dir.path().to_str().unwrap();
        let leaked: Vec<&str> = mountinfo.lines().filter(|l| l.contains(dir)).collect();
        assert!(leaked.is_empty(), "container mounts visible on the host: {leaked:#?}");
    }
}

container_test! {
    fn masked_paths_hide_files_and_dirs(f) {
        fs::create_dir(f.rootfs().join("etc/secret")).unwrap();
        fs::write(f.rootfs().join("etc/secret/key"), "hidden").unwrap();
        fs::write(f.rootfs().join("etc/secret.txt"), "hidden").unwrap();
        let masked = f.config["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.push(json!("/etc/secret"));
        masked.push(json!("/etc/secret.txt"));
        let out = f.run_sh(
            "echo kcore=$(head -c 16 /proc/kcore | wc -c); echo dir=$(ls -A /etc/secret | wc -l); \
             echo file=$(cat /etc/secret.txt | wc -c); echo x > /etc/secret.txt 2>/dev/null; true",
        );
        assert_eq!(out, "kcore=0\ndir=0\nfile=0\n");
        // A write to a masked file may fail or vanish, but never reaches the rootfs.
        assert_eq!(fs::read_to_string(f.rootfs().join("etc/secret.txt")).unwrap(), "hidden");
        assert!(f.rootfs().join("etc/secret/key").exists());
    }
}

container_test! {
    fn readonly_paths_refuse_writes(f) {
        fs::create_dir(f.rootfs().join("data")).unwrap();
        f.config["linux"]["readonlyPaths"].as_array_mut().unwrap().push(json!("/data"));
        let out = f.run_sh(
            "touch /data/x 2>&1; echo x 2>&1 > /proc/sys/kernel/hostname; touch /tmp/ok && echo tmp=ok",
        );
        assert_eq!(
            out,
            "touch: /data/x: Read-only file system\n\
             sh: can't create /proc/sys/kernel/hostname: Read-only file system\ntmp=ok\n"
        );
    }
}

container_test! {
    fn readonly_root_refuses_writes(f) {
        f.config["root"]["readonly"] = json!(true);
        let out = f.run_sh("touch /newfile 2>&1; echo x > /dev/shm/ok && echo shm=ok; cat /proc/self/mountinfo");
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("touch: /newfile: Read-only file system"));
        assert_eq!(lines.next(), Some("shm=ok"));
        let root = mountinfo_line(&out, "/").expect("a / mount");
        assert!(options(root).0.contains(&"ro"), "{root}");
        assert!(!f.rootfs().join("newfile").exists());
    }
}

container_test! {
    fn writable_root_by_default(f) {
        f.run_sh("echo data > /newfile");
        assert_eq!(fs::read_to_string(f.rootfs().join("newfile")).unwrap(), "data\n");
    }
}

container_test! {
    fn default_devices_exist(f) {
        // busybox stat prints major and minor in hex.
        let out = f.run_sh(
            "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; \
             for l in fd stdin ptmx; do readlink /dev/$l; done",
        );
        assert_eq!(
            out,
            "/dev/null character special file 1:3 666\n\
             /dev/zero character special file 1:5 666\n\
             /dev/full character special file 1:7 666\n\
             /dev/random character special file 1:8 666\n\
             /dev/urandom character special file 1:9 666\n\
             /dev/tty character special file 5:0 666\n\
             /proc/self/fd\n/proc/self/fd/0\npts/ptmx\n"
        );
    }
}

container_test! {
    fn configured_devices_are_created(f) {
        f.config["linux"]["devices"] = json!([
            {"path": "/dev/nook0", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 1000, "gid": 2000},
            {"path": "/dev/sub/nookb", "type": "b", "major": 7, "minor": 3, "fileMode": 0o600, "uid": 0, "gid": 0}
        ]);
        let out = f.run_sh("stat -c '%n %F %t:%T %a %u %g' /dev/nook0 /dev/sub/nookb");
        assert_eq!(
            out,
            "/dev/nook0 character special file a:e5 640 1000 2000\n\
             /dev/sub/nookb block special file 7:3 600 0 0\n"
        );
    }
}

container_test! {
    fn an_unbindable_root_propagation_is_applied(f) {
        // The rootfs is bind-mounted onto itself before pivot_root; an unbindable "/" would
        // refuse that, so "/" becomes unbindable only once it is the rootfs.
        if crate::support::is_runc() {
            // runc 1.1.5 makes "/" unbindable first and then fails to bind the rootfs (EINVAL).
            crate::support::skip(
                "an_unbindable_root_propagation_is_applied",
                "runc",
                "runc 1.1.5 fails to bind the rootfs under an unbindable /",
            );
            return;
        }
        f.config["linux"]["rootfsPropagation"] = serde_json::json!("unbindable");
        let out = f.run_sh("cat /proc/self/mountinfo");
        let root = out
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap_or_else(|| panic!("no / in {out}"));
        assert!(root.contains(" unbindable "), "{root}");
    }
}

container_test! {
    fn fifo_devices_are_made_as_fifos(f) {
        // `linux.devices` of type p: a FIFO with the given mode and owner, and no device cgroup
        // rule (a FIFO has none), so the default "deny all" config runs. Fails if a FIFO is
        // refused, made as another kind of node, or turned into a rule the kernel rejects.
        f.config["linux"]["devices"] = json!([
            {"path": "/dev/nookfifo", "type": "p", "major": 0, "minor": 0, "fileMode": 0o640, "uid": 1000, "gid": 2000}
        ]);
        let out = f.run_sh("stat -c '%n %F %a %u %g' /dev/nookfifo");
        assert_eq!(out, "/dev/nookfifo fifo 640 1000 2000\n");
    }
}

container_test! {
    fn a_bind_source_the_mapped_root_cannot_reach_still_mounts(f) {
        // The source sits under a directory only the host's root may search; the container's
        // root is host uid 100000. The runtime reaches the source for it, as runc does.
        let hidden = f.dir.path().join("hidden");
        fs::create_dir(&hidden).unwrap();
        fs::set_permissions(&hidden, fs::Permissions::from_mode(0o700)).unwrap();
        let shared = hidden.join("shared");
        fs::create_dir(&shared).unwrap();
        fs::write(shared.join("data"), "reached\n").unwrap();
        fs::write(hidden.join("file"), "a file\n").unwrap();
        fs::set_permissions(hidden.join("file"), fs::Permissions::from_mode(0o644)).unwrap();
        // The mapped root cannot create them in the image's root-owned /mnt either.
        fs::create_dir(f.rootfs().join("mnt/shared")).unwrap();
        fs::write(f.rootfs().join("mnt/file"), "").unwrap();
        f.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        f.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let mounts = f.config["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
        mounts.push(json!({"destination": "/mnt/shared", "type": "bind", "source": shared, "options": ["rbind", "ro"]}));
        mounts.push(json!({"destination": "/mnt/file", "type": "bind", "source": hidden.join("file"), "options": ["bind"]}));
        let out = f.run_sh("cat /mnt/shared/data /mnt/file; touch /mnt/shared/x 2>/dev/null || echo read-only");
        assert_eq!(out, "reached\na file\nread-only\n");
    }
}
