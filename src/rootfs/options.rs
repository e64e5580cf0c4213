//! Mount option strings (as in config.json `mounts[].options`) to what the kernel takes:
//! mount(2) flags, propagation changes, mount_setattr(2) recursive attributes and a data string.
//! Pure: no syscalls here.

use nix::mount::MsFlags;

use super::mount_api::{
    MountAttr, MOUNT_ATTR_ATIME_MASK, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME,
};

/// MS_NOSYMFOLLOW (Linux 5.10); `nix` has no name for it.
pub const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(0x100);

/// Everything a spec mount's option list asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for mount(2), after later options overrode earlier ones ("ro,rw" is rw).
    pub flags: MsFlags,
    /// Flags an option explicitly turned off (e.g. "rw" puts MS_RDONLY here).
    pub cleared: MsFlags,
    /// Propagation changes, applied in order after the mount exists.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes ("rro", "rnosuid", ...), applied with mount_setattr(AT_RECURSIVE).
    pub rec_attr: Option<MountAttr>,
    /// Everything that is not a flag: passed verbatim to the filesystem, which rejects what it
    /// does not know (runc does the same, so typos surface as EINVAL rather than vanishing).
    pub data: Vec<String>,
    /// `tmpcopyup`: a tmpfs starts with the contents of the directory it covers.
    pub copy_up: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_attr: None,
            copy_up: false,
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn is_recursive_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC)
    }

    /// The comma-joined data string, or None when there is nothing to pass.
    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }

    /// A bind mount ignores every flag but MS_BIND|MS_REC; the others need a second,
    /// MS_REMOUNT step.
    pub fn bind_remount_flags(&self) -> Option<MsFlags> {
        let extra = self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        (!extra.is_empty()).then_some(extra)
    }
}

/// An option this runtime recognises but deliberately does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mount option {option:?} is not supported by nook ({why})")]
pub struct UnsupportedOption {
    pub option: String,
    pub why: &'static str,
}

enum Effect {
    Set(MsFlags),
    Clear(MsFlags),
    Propagation(MsFlags),
    /// mount_setattr: (attributes to set, attributes to clear).
    RecAttr(u64, u64),
    CopyUp,
    Ignore,
}

/// Every option name `parse` gives a meaning to (the features document lists these).
pub const KNOWN: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "lazytime",
    "nolazytime",
    "iversion",
    "noiversion",
    "silent",
    "loud",
    "nosymfollow",
    "symfollow",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rnosymfollow",
    "rsymfollow",
    "rrelatime",
    "rnoatime",
    "rstrictatime",
    "ratime",
    "rnostrictatime",
    "rnorelatime",
    "tmpcopyup",
    "idmap",
    "ridmap",
];

fn effect(option: &str) -> Option<Effect> {
    use Effect::*;
    let f = |bits| Set(bits);
    let c = |bits| Clear(bits);
    let atime = |bits| RecAttr(bits, MOUNT_ATTR_ATIME_MASK);
    Some(match option {
        "defaults" => Ignore,
        "ro" => f(MsFlags::MS_RDONLY),
        "rw" => c(MsFlags::MS_RDONLY),
        "nosuid" => f(MsFlags::MS_NOSUID),
        "suid" => c(MsFlags::MS_NOSUID),
        "nodev" => f(MsFlags::MS_NODEV),
        "dev" => c(MsFlags::MS_NODEV),
        "noexec" => f(MsFlags::MS_NOEXEC),
        "exec" => c(MsFlags::MS_NOEXEC),
        "sync" => f(MsFlags::MS_SYNCHRONOUS),
        "async" => c(MsFlags::MS_SYNCHRONOUS),
        "dirsync" => f(MsFlags::MS_DIRSYNC),
        "remount" => f(MsFlags::MS_REMOUNT),
        "mand" => f(MsFlags::MS_MANDLOCK),
        "nomand" => c(MsFlags::MS_MANDLOCK),
        "noatime" => f(MsFlags::MS_NOATIME),
        "atime" => c(MsFlags::MS_NOATIME),
        "nodiratime" => f(MsFlags::MS_NODIRATIME),
        "diratime" => c(MsFlags::MS_NODIRATIME),
        "relatime" => f(MsFlags::MS_RELATIME),
        "norelatime" => c(MsFlags::MS_RELATIME),
        "strictatime" => f(MsFlags::MS_STRICTATIME),
        "nostrictatime" => c(MsFlags::MS_STRICTATIME),
        "lazytime" => f(MsFlags::MS_LAZYTIME),
        "nolazytime" => c(MsFlags::MS_LAZYTIME),
        "iversion" => f(MsFlags::MS_I_VERSION),
        "noiversion" => c(MsFlags::MS_I_VERSION),
        "silent" => f(MsFlags::MS_SILENT),
        "loud" => c(MsFlags::MS_SILENT),
        "nosymfollow" => f(MS_NOSYMFOLLOW),
        "symfollow" => c(MS_NOSYMFOLLOW),
        "bind" => f(MsFlags::MS_BIND),
        "rbind" => f(MsFlags::MS_BIND | MsFlags::MS_REC),
        "private" => Propagation(MsFlags::MS_PRIVATE),
        "rprivate" => Propagation(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
        "shared" => Propagation(MsFlags::MS_SHARED),
        "rshared" => Propagation(MsFlags::MS_SHARED | MsFlags::MS_REC),
        "slave" => Propagation(MsFlags::MS_SLAVE),
        "rslave" => Propagation(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        "unbindable" => Propagation(MsFlags::MS_UNBINDABLE),
        "runbindable" => Propagation(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC),
        "rro" => RecAttr(MOUNT_ATTR_RDONLY, 0),
        "rrw" => RecAttr(0, MOUNT_ATTR_RDONLY),
        "rnosuid" => RecAttr(MOUNT_ATTR_NOSUID, 0),
        "rsuid" => RecAttr(0, MOUNT_ATTR_NOSUID),
        "rnodev" => RecAttr(MOUNT_ATTR_NODEV, 0),
        "rdev" => RecAttr(0, MOUNT_ATTR_NODEV),
        "rnoexec" => RecAttr(MOUNT_ATTR_NOEXEC, 0),
        "rexec" => RecAttr(0, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => RecAttr(MOUNT_ATTR_NODIRATIME, 0),
        "rdiratime" => RecAttr(0, MOUNT_ATTR_NODIRATIME),
        "rnosymfollow" => RecAttr(MOUNT_ATTR_NOSYMFOLLOW, 0),
        "rsymfollow" => RecAttr(0, MOUNT_ATTR_NOSYMFOLLOW),
        // The access-time mode is one field: mount_setattr(2) wants the whole field cleared
        // whenever one value of it is set.
        "rrelatime" => atime(MOUNT_ATTR_RELATIME),
        "rnoatime" => atime(MOUNT_ATTR_NOATIME),
        "rstrictatime" => atime(MOUNT_ATTR_STRICTATIME),
        // The kernel refuses to clear part of the access-time field (EINVAL), so undoing
        // noatime/strictatime means returning to the kernel default, relatime.
        "ratime" | "rnostrictatime" => atime(MOUNT_ATTR_RELATIME),
        // relatime is the field's zero value; leaving it means strictatime, as for
        // mount(8)'s "norelatime".
        "rnorelatime" => atime(MOUNT_ATTR_STRICTATIME),
        "tmpcopyup" => CopyUp,
        // Made by the runtime before the fork (rootfs::idmap), from the mount's mappings.
        "idmap" | "ridmap" => Ignore,
        _ => return None,
    })
}

/// `linux.mountLabel` as SELinux's `context="<label>"` option after the mount's own data. A
/// mount whose options already name a context keeps its own; no label leaves the data as it is.
pub fn with_mount_label(data: Option<String>, label: Option<&str>) -> Option<String> {
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return data;
    };
    let context = format!("context=\"{label}\"");
    match data {
        None => Some(context),
        Some(d) if d.split(',').any(|o| o.starts_with("context=")) => Some(d),
        Some(d) => Some(format!("{d},{context}")),
    }
}

/// Parse a spec mount's option list. Unknown options become data (see [`MountOptions::data`]).
pub fn parse<S: AsRef<str>>(options: &[S]) -> Result<MountOptions, UnsupportedOption> {
    let mut out = MountOptions::default();
    let mut set: u64 = 0;
    let mut clr: u64 = 0;
    let mut any_rec = false;
    for option in options {
        let option = option.as_ref();
        match effect(option) {
            Some(Effect::Set(bits)) => {
                out.flags |= bits;
                out.cleared -= bits;
            }
            Some(Effect::Clear(bits)) => {
                out.flags -= bits;
                out.cleared |= bits;
            }
            Some(Effect::Propagation(bits)) => out.propagation.push(bits),
            Some(Effect::RecAttr(s, c)) => {
                any_rec = true;
                set = (set & !c) | s;
                clr = (clr & !s) | c;
            }
            Some(Effect::CopyUp) => out.copy_up = true,
            Some(Effect::Ignore) => {}
            None => out.data.push(option.to_owned()),
        }
    }
    if any_rec {
        out.rec_attr = Some(MountAttr {
            attr_set: set,
            attr_clr: clr,
            ..MountAttr::default()
        });
    }
    Ok(out)
}

/// `linux.rootfsPropagation` to the flags runc applies to "/" before building the rootfs.
/// Unset means rslave: host mounts still reach the container, nothing flows back.
pub fn root_propagation(value: Option<&str>) -> Result<MsFlags, UnsupportedOption> {
    let value = match value {
        None | Some("") => return Ok(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        Some(v) => v,
    };
    match effect(value) {
        Some(Effect::Propagation(bits)) => Ok(bits),
        _ => Err(UnsupportedOption {
            option: value.to_owned(),
            why: "linux.rootfsPropagation must be one of private, rprivate, shared, rshared, \
                  slave, rslave, unbindable, runbindable",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_option_has_a_meaning() {
        for name in KNOWN {
            assert!(effect(name).is_some(), "{name} listed but not parsed");
        }
    }

    #[test]
    fn flags_accumulate_and_later_options_win() {
        let o = parse(&["nosuid", "ro", "noexec", "rw", "nodev"]).unwrap();
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
        );
        assert_eq!(o.cleared, MsFlags::MS_RDONLY);
        assert!(o.data.is_empty());
        let o = parse(&["rw", "ro"]).unwrap();
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert!(o.cleared.is_empty());
    }

    #[test]
    fn every_runc_flag_is_known() {
        for opt in [
            "ro",
            "rw",
            "suid",
            "nosuid",
            "dev",
            "nodev",
            "exec",
            "noexec",
            "sync",
            "async",
            "dirsync",
            "remount",
            "mand",
            "nomand",
            "atime",
            "noatime",
            "diratime",
            "nodiratime",
            "relatime",
            "norelatime",
            "strictatime",
            "nostrictatime",
            "bind",
            "rbind",
            "nosymfollow",
            "symfollow",
            "defaults",
            "private",
            "rprivate",
            "shared",
            "rshared",
            "slave",
            "rslave",
            "unbindable",
            "runbindable",
            "rro",
            "rrw",
            "rnosuid",
            "rsuid",
            "rnodev",
            "rdev",
            "rnoexec",
            "rexec",
            "rnoatime",
            "ratime",
            "rrelatime",
            "rnorelatime",
            "rstrictatime",
            "rnostrictatime",
            "rnodiratime",
            "rdiratime",
            "rnosymfollow",
            "rsymfollow",
        ] {
            let o = parse(&[opt]).unwrap();
            assert!(o.data.is_empty(), "{opt} became data");
        }
    }

    #[test]
    fn bind_variants() {
        let o = parse(&["rbind", "ro"]).unwrap();
        assert!(o.is_bind() && o.is_recursive_bind());
        assert_eq!(o.bind_remount_flags(), Some(MsFlags::MS_RDONLY));
        let o = parse(&["bind"]).unwrap();
        assert!(o.is_bind() && !o.is_recursive_bind());
        assert_eq!(o.bind_remount_flags(), None);
        assert!(!parse(&["nosuid"]).unwrap().is_bind());
        assert_eq!(parse(&["nosymfollow"]).unwrap().flags, MS_NOSYMFOLLOW);
    }

    #[test]
    fn data_options_pass_through_in_order() {
        let o = parse(&[
            "nosuid",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ])
        .unwrap();
        assert_eq!(
            o.data_string().as_deref(),
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5")
        );
        assert_eq!(
            parse(&["mode=755", "size=65536k"])
                .unwrap()
                .data_string()
                .as_deref(),
            Some("mode=755,size=65536k")
        );
        assert_eq!(parse::<&str>(&[]).unwrap().data_string(), None);
        // Unknown flag-like words are not dropped: the kernel gets to reject them.
        assert_eq!(
            parse(&["nosuidd"]).unwrap().data,
            vec!["nosuidd".to_string()]
        );
    }

    #[test]
    fn propagation_kept_in_order() {
        let o = parse(&["rbind", "rprivate", "shared"]).unwrap();
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SHARED]
        );
        assert!(!o.flags.intersects(MsFlags::MS_PRIVATE | MsFlags::MS_SHARED));
    }

    #[test]
    fn recursive_attributes() {
        let a = parse(&["rro", "rnosuid", "rdev"])
            .unwrap()
            .rec_attr
            .unwrap();
        assert_eq!(a.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(a.attr_clr, MOUNT_ATTR_NODEV);
        let a = parse(&["rro", "rrw"]).unwrap().rec_attr.unwrap();
        assert_eq!((a.attr_set, a.attr_clr), (0, MOUNT_ATTR_RDONLY));
        let a = parse(&["rnoatime"]).unwrap().rec_attr.unwrap();
        assert_eq!(
            (a.attr_set, a.attr_clr),
            (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME_MASK)
        );
        let a = parse(&["rrelatime"]).unwrap().rec_attr.unwrap();
        assert_eq!((a.attr_set, a.attr_clr), (0, MOUNT_ATTR_ATIME_MASK));
        assert!(parse(&["ro"]).unwrap().rec_attr.is_none());
    }

    #[test]
    fn idmap_options_are_not_mount_data() {
        for opt in ["idmap", "ridmap"] {
            let o = parse(&["rbind", opt]).unwrap();
            assert!(o.data.is_empty(), "{opt}");
        }
    }

    #[test]
    fn root_propagation_default_is_rslave() {
        assert_eq!(
            root_propagation(None).unwrap(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
        assert_eq!(
            root_propagation(Some("private")).unwrap(),
            MsFlags::MS_PRIVATE
        );
        assert_eq!(
            root_propagation(Some("rshared")).unwrap(),
            MsFlags::MS_SHARED | MsFlags::MS_REC
        );
        assert!(root_propagation(Some("ro")).is_err());
        assert!(root_propagation(Some("bogus")).is_err());
    }

    #[test]
    fn mount_label_becomes_a_context_option() {
        let label = Some("system_u:object_r:container_file_t:s0:c1,c2");
        assert_eq!(
            with_mount_label(None, label).as_deref(),
            Some("context=\"system_u:object_r:container_file_t:s0:c1,c2\"")
        );
        assert_eq!(
            with_mount_label(Some("mode=755".into()), Some("l")).as_deref(),
            Some("mode=755,context=\"l\"")
        );
        assert_eq!(
            with_mount_label(Some("context=\"own\"".into()), Some("l")).as_deref(),
            Some("context=\"own\"")
        );
        assert_eq!(
            with_mount_label(Some("size=1k".into()), None).as_deref(),
            Some("size=1k")
        );
        assert_eq!(with_mount_label(None, Some("")), None);
    }
}
