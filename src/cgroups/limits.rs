//! Validation and unit conversions shared by both layouts: pure functions of spec values.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;

fn invalid(field: &'static str, value: impl ToString, why: &'static str) -> CgroupError {
    CgroupError::InvalidValue {
        field,
        value: value.to_string(),
        why,
    }
}

/// Page sizes become part of a file name (`hugetlb.2MB.limit_in_bytes`), so only the
/// kernel's own spelling is let through: digits then KB, MB or GB.
pub(crate) fn check_page_size(size: &str) -> Result<(), CgroupError> {
    let digits = size.trim_end_matches(['K', 'M', 'G', 'B']);
    let unit = &size[digits.len()..];
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "KB" | "MB" | "GB");
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "linux.resources.hugepageLimits.pageSize",
            size,
            "expected digits followed by KB, MB or GB, e.g. 2MB",
        ))
    }
}

/// `pids.max` value: negative means unlimited; 0 is what Go callers send for "unset".
pub(crate) fn pids_value(limit: i64) -> Option<String> {
    match limit {
        0 => None,
        l if l < 0 => Some("max".into()),
        l => Some(l.to_string()),
    }
}

pub(crate) fn check_swappiness(s: u64) -> Result<(), CgroupError> {
    if s > 100 {
        return Err(invalid(
            "linux.resources.memory.swappiness",
            s,
            "must be between 0 and 100",
        ));
    }
    Ok(())
}

/// v1 `cpu.shares` (2..=262144, default 1024) to v2 `cpu.weight` (1..=10000, default 100),
/// mapping the two ranges linearly onto each other, as runc and crun do.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9_999) / 262_142
}

/// v1 `blkio.weight` (10..=1000) to v2 `io.weight` (1..=10000), linearly.
pub(crate) fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + ((w - 10) * 9_999) / 990
}

/// The spec's `memory.swap` is memory+swap (v1 semantics); v2's `memory.swap.max` is swap
/// alone. None: nothing to write (swap unset or 0).
pub(crate) fn v2_swap_max(
    limit: Option<i64>,
    swap: Option<i64>,
) -> Result<Option<String>, CgroupError> {
    const FIELD: &str = "linux.resources.memory.swap";
    match swap {
        None | Some(0) => Ok(None),
        Some(-1) => Ok(Some("max".into())),
        Some(s) if s < 0 => Err(invalid(FIELD, s, "must be -1 (unlimited) or positive")),
        Some(s) => match limit {
            Some(l) if l > 0 && s >= l => Ok(Some((s - l).to_string())),
            Some(l) if l > 0 => Err(invalid(
                FIELD,
                s,
                "memory+swap must not be smaller than linux.resources.memory.limit",
            )),
            _ => Err(invalid(
                FIELD,
                s,
                "a swap limit needs a positive linux.resources.memory.limit on cgroup v2",
            )),
        },
    }
}

/// `memory.max`-style value: negative means unlimited.
pub(crate) fn v2_bytes(value: i64) -> String {
    if value < 0 {
        "max".into()
    } else {
        value.to_string()
    }
}

/// One v1 device rule in the kernel's syntax, `c 1:3 rwm`, with `*` for an absent number.
pub(crate) fn device_rule(rule: &LinuxDeviceCgroup) -> Result<String, CgroupError> {
    const FIELD: &str = "linux.resources.devices";
    let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => "a",
        LinuxDeviceType::B => "b",
        LinuxDeviceType::C | LinuxDeviceType::U => "c",
        LinuxDeviceType::P => {
            return Err(invalid(
                FIELD,
                "p",
                "the devices cgroup has no rule for FIFOs",
            ))
        }
    };
    let number = |n: Option<i64>| match n {
        None | Some(-1) => Ok("*".to_string()),
        Some(n) if n >= 0 => Ok(n.to_string()),
        Some(n) => Err(invalid(FIELD, n, "device numbers must be non-negative")),
    };
    let access = rule.access().as_deref().unwrap_or("rwm");
    let access = if access.is_empty() { "rwm" } else { access };
    let mut seen = String::new();
    for ch in access.chars() {
        if !"rwm".contains(ch) || seen.contains(ch) {
            return Err(invalid(
                FIELD,
                access,
                "access must be letters from \"rwm\"",
            ));
        }
        seen.push(ch);
    }
    Ok(format!(
        "{typ} {}:{} {access}",
        number(rule.major())?,
        number(rule.minor())?
    ))
}

/// One `rdma.max` line: `<device> hca_handle=<n> hca_object=<n>`, "max" where unset.
pub(crate) fn rdma_line(device: &str, r: &oci_spec::runtime::LinuxRdma) -> String {
    let v = |n: Option<u32>| n.map_or("max".to_string(), |n| n.to_string());
    format!(
        "{device} hca_handle={} hca_object={}",
        v(r.hca_handles()),
        v(r.hca_objects())
    )
}

/// Write every rdma limit (v1 and v2 share the file format).
pub(crate) fn apply_rdma(
    dir: &std::path::Path,
    rdma: &std::collections::HashMap<String, oci_spec::runtime::LinuxRdma>,
) -> Result<(), CgroupError> {
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by_key(|(d, _)| d.as_str());
    for (device, limits) in devices {
        super::files::write(dir, "rdma.max", &rdma_line(device, limits))?;
    }
    Ok(())
}

#[cfg(test)]
mod rdma_tests {
    use super::*;

    #[test]
    fn rdma_lines() {
        let r: oci_spec::runtime::LinuxRdma = serde_json::from_str(r#"{"hcaHandles": 3}"#).unwrap();
        assert_eq!(
            rdma_line("mlx5_0", &r),
            "mlx5_0 hca_handle=3 hca_object=max"
        );
    }
}
