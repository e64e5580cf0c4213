//! The device rules every container gets on top of the spec's own, as runc adds them: the
//! standard nodes in /dev must work even under a "deny all" rule, and so must every device the
//! spec asks nook to create.

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// null, zero, full, tty, random, urandom, ptmx, the pts nodes and tun; plus mknod of anything
/// (creating a node is harmless; opening it is what the rules guard).
pub fn standard_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    let c = |maj, min| rule(C, Some(maj), Some(min), "rwm");
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        c(1, 3),
        c(1, 5),
        c(1, 7),
        c(5, 0),
        c(1, 8),
        c(1, 9),
        c(5, 2),
        rule(C, Some(136), None, "rwm"),
        c(10, 200),
    ]
}

/// The resources to apply: the spec's, with the standard rules and one allow rule per
/// `linux.devices` entry appended when the spec restricts devices at all.
pub fn resources_with_defaults(
    resources: Option<&LinuxResources>,
    devices: &[LinuxDevice],
) -> Option<LinuxResources> {
    let mut res = resources?.clone();
    let Some(rules) = res.devices().clone().filter(|r| !r.is_empty()) else {
        return Some(res);
    };
    let mut rules = rules;
    rules.extend(standard_rules());
    for d in devices {
        let typ = match d.typ() {
            LinuxDeviceType::U => LinuxDeviceType::C,
            other => other,
        };
        rules.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
    }
    res.set_devices(Some(rules));
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec_rules() {
        let res: LinuxResources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        let dev: LinuxDevice =
            serde_json::from_str(r#"{"path":"/dev/fuse","type":"c","major":10,"minor":229}"#)
                .unwrap();
        let out = resources_with_defaults(Some(&res), &[dev]).unwrap();
        let rules = out.devices().as_ref().unwrap();
        assert!(!rules[0].allow());
        assert_eq!(rules.len(), 1 + standard_rules().len() + 1);
        let last = rules.last().unwrap();
        assert_eq!((last.major(), last.minor()), (Some(10), Some(229)));
    }

    #[test]
    fn no_rules_means_no_additions() {
        let res: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":5}}"#).unwrap();
        let out = resources_with_defaults(Some(&res), &[]).unwrap();
        assert!(out.devices().is_none());
        assert!(resources_with_defaults(None, &[]).is_none());
    }
}
