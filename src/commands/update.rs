use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nook::logging::{Level, Logger};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxPids, LinuxResources};

use crate::cli::{Global, UpdateArgs};

/// `update`: resources from --resources (a file or stdin), then runc's flags on top of them.
pub fn run(root: &Path, args: &UpdateArgs, global: &Global) -> Result<u8> {
    warn_ignored(args, global);
    let mut res = match &args.resources {
        Some(path) => read_resources(path)?,
        None => LinuxResources::default(),
    };
    apply_flags(&mut res, args)?;
    let l3 = args.l3_cache_schema.as_deref().filter(|v| !v.is_empty());
    let mb = args.mem_bw_schema.as_deref().filter(|v| !v.is_empty());
    let rdt_flags = match (l3, mb) {
        (None, None) => None,
        (Some(_), Some(_)) => Some("--l3-cache-schema, --mem-bw-schema"),
        (Some(_), None) => Some("--l3-cache-schema"),
        (None, Some(_)) => Some("--mem-bw-schema"),
    };
    // Before any limit changes: a schema that cannot be applied fails the whole update.
    if let Some(flags) = rdt_flags {
        let mut rdt = oci_spec::runtime::LinuxIntelRdt::default();
        rdt.set_l3_cache_schema(l3.map(String::from));
        rdt.set_mem_bw_schema(mb.map(String::from));
        nook::resctrl::validate(&rdt)
            .and_then(|()| nook::resctrl::host_mount().map(drop))
            .map_err(|e| anyhow::anyhow!("{flags}: {}", nook::error_chain(&e)))?;
    }
    nook::container::update(root, &args.id, &res).map_err(|e| name_flag(args, e))?;
    if let Some(flags) = rdt_flags {
        nook::container::update_intel_rdt(root, &args.id, l3, mb)
            .map_err(|e| anyhow::anyhow!("{flags}: {}", nook::error_chain(&e)))?;
    }
    Ok(0)
}

/// An error about a field one of the flags set names the flag first: the caller typed the
/// flag, not the field.
fn name_flag(args: &UpdateArgs, err: nook::container::ContainerError) -> anyhow::Error {
    let text = nook::error_chain(&err);
    let flags = [
        (
            "linux.resources.cpu.burst",
            "--cpu-burst",
            args.cpu_burst.is_some(),
        ),
        (
            "linux.resources.cpu.idle",
            "--cpu-idle",
            args.cpu_idle.is_some(),
        ),
        (
            "linux.resources.cpu.realtimePeriod",
            "--cpu-rt-period",
            args.cpu_rt_period.is_some(),
        ),
        (
            "linux.resources.cpu.realtimeRuntime",
            "--cpu-rt-runtime",
            args.cpu_rt_runtime.is_some(),
        ),
    ];
    for (field, flag, given) in flags {
        if given && text.starts_with(&format!("{field}:")) {
            return anyhow::anyhow!("{flag}: {text}");
        }
    }
    anyhow::anyhow!(text)
}

/// Kernel memory limits are obsolete (the kernel dropped them); runc warns and ignores them.
fn warn_ignored(args: &UpdateArgs, global: &Global) {
    for (flag, value) in [
        ("--kernel-memory", &args.kernel_memory),
        ("--kernel-memory-tcp", &args.kernel_memory_tcp),
    ] {
        if value.as_deref().is_some_and(|v| !v.is_empty()) {
            let log = Logger::open(
                global.log.as_deref(),
                global.log_format.into(),
                global.debug,
            );
            if let Ok(mut log) = log {
                log.log(
                    Level::Warn,
                    &format!("{flag} is ignored: kernel memory limits are obsolete"),
                );
            }
        }
    }
}

fn read_resources(path: &Path) -> Result<LinuxResources> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read resources from stdin")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    }
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        anyhow::anyhow!(
            "--resources {}: field {}: {}",
            path.display(),
            e.path(),
            e.inner()
        )
    })
}

fn apply_flags(res: &mut LinuxResources, args: &UpdateArgs) -> Result<()> {
    if args.memory.is_some() || args.memory_reservation.is_some() || args.memory_swap.is_some() {
        let mut m = res.memory().unwrap_or_default();
        if let Some(v) = &args.memory {
            m.set_limit(Some(bytes(v, "--memory")?));
        }
        if let Some(v) = &args.memory_reservation {
            m.set_reservation(Some(bytes(v, "--memory-reservation")?));
        }
        if let Some(v) = &args.memory_swap {
            m.set_swap(Some(bytes(v, "--memory-swap")?));
        }
        res.set_memory(Some(m));
    }
    let cpu_flags = args.cpu_shares.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_period.is_some()
        || args.cpu_burst.is_some()
        || args.cpu_rt_period.is_some()
        || args.cpu_rt_runtime.is_some()
        || args.cpu_idle.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some();
    if cpu_flags {
        let mut c: LinuxCpu = res.cpu().clone().unwrap_or_default();
        if let Some(v) = args.cpu_shares {
            c.set_shares(Some(v));
        }
        if let Some(v) = args.cpu_quota {
            c.set_quota(Some(v));
        }
        if let Some(v) = args.cpu_period {
            c.set_period(Some(v));
        }
        if let Some(v) = args.cpu_burst {
            c.set_burst(Some(v));
        }
        if let Some(v) = args.cpu_rt_period {
            c.set_realtime_period(Some(v));
        }
        if let Some(v) = args.cpu_rt_runtime {
            c.set_realtime_runtime(Some(v));
        }
        if let Some(v) = args.cpu_idle {
            c.set_idle(Some(v));
        }
        if let Some(v) = &args.cpuset_cpus {
            c.set_cpus(Some(v.clone()));
        }
        if let Some(v) = &args.cpuset_mems {
            c.set_mems(Some(v.clone()));
        }
        res.set_cpu(Some(c));
    }
    if let Some(limit) = args.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        res.set_pids(Some(p));
    }
    if let Some(w) = args.blkio_weight {
        let mut b: LinuxBlockIo = res.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    Ok(())
}

/// Bytes with an optional k/m/g suffix (powers of 1024), or -1 for unlimited.
fn bytes(text: &str, flag: &str) -> Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: i64 = match num.parse() {
        Ok(n) if n >= 0 => n,
        _ => bail!("{flag} {text:?}: not a size (bytes, or a number with k, m or g)"),
    };
    n.checked_mul(mult)
        .with_context(|| format!("{flag} {text:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes("1024", "--memory").unwrap(), 1024);
        assert_eq!(bytes("512m", "--memory").unwrap(), 512 << 20);
        assert_eq!(bytes("2G", "--memory").unwrap(), 2 << 30);
        assert_eq!(bytes("4kb", "--memory").unwrap(), 4096);
        assert_eq!(bytes("-1", "--memory-swap").unwrap(), -1);
        assert!(bytes("lots", "--memory").is_err());
        assert!(bytes("-5", "--memory").is_err());
    }
}
