//! The prefix run on a small classic-BPF interpreter: which (arch, nr) pairs get ENOSYS and
//! which reach the filter.

use super::*;

const X86: u32 = 0x4000_0003;
const AARCH64: u32 = 0xC000_00B7;

#[derive(Debug, PartialEq)]
enum Verdict {
    Enosys,
    Filter,
}

/// Run the prefix on (nr, arch) until it returns or falls off its end into the filter.
fn run(prog: &[SockFilter], nr: u32, arch: u32) -> Verdict {
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let Some(i) = prog.get(pc) else {
            return Verdict::Filter;
        };
        pc += 1;
        let jump = |cond: bool| usize::from(if cond { i.jt } else { i.jf });
        match i.code {
            op::LD_W_ABS => a = if i.k == 0 { nr } else { arch },
            op::JA => pc += i.k as usize,
            op::JEQ_K => pc += jump(a == i.k),
            op::JGT_K => pc += jump(a > i.k),
            op::JSET_K => pc += jump(a & i.k != 0),
            op::RET_K => {
                assert_eq!(i.k, RET_ENOSYS);
                return Verdict::Enosys;
            }
            other => panic!("unexpected opcode {other:#x}"),
        }
    }
}

fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).unwrap()
}

fn nr(name: &str, arch: ScmpArch) -> u32 {
    i32::from(ScmpSyscall::from_name_by_arch(name, arch).unwrap()) as u32
}

#[test]
fn numbers_above_the_highest_named_get_enosys_per_arch() {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [
            {"names": ["read", "write", "openat"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}
        ]
    }));
    let prog = stub(&s).unwrap();
    let x64_max = nr("openat", ScmpArch::X8664).max(nr("mkdir", ScmpArch::X8664));
    assert_eq!(run(&prog, x64_max, AUDIT_ARCH_X86_64), Verdict::Filter);
    assert_eq!(run(&prog, x64_max + 1, AUDIT_ARCH_X86_64), Verdict::Enosys);
    assert_eq!(run(&prog, 1000, AUDIT_ARCH_X86_64), Verdict::Enosys);
    assert_eq!(run(&prog, 0, AUDIT_ARCH_X86_64), Verdict::Filter);
    // x32 is not covered: its calls are for the filter to refuse.
    assert_eq!(
        run(&prog, 1000 | X32_SYSCALL_BIT, AUDIT_ARCH_X86_64),
        Verdict::Filter
    );
    let x86_max = nr("openat", ScmpArch::X86);
    assert_eq!(run(&prog, x86_max, X86), Verdict::Filter);
    assert_eq!(run(&prog, x86_max + 1, X86), Verdict::Enosys);
    // aarch64 has no mkdir and numbers read and write above openat.
    let arm_max = nr("write", ScmpArch::Aarch64);
    assert!(arm_max > nr("openat", ScmpArch::Aarch64));
    assert_eq!(run(&prog, arm_max, AARCH64), Verdict::Filter);
    assert_eq!(run(&prog, arm_max + 1, AARCH64), Verdict::Enosys);
    // An arch the profile does not list is the filter's business.
    assert_eq!(run(&prog, 5000, 0x1234), Verdict::Filter);
}

#[test]
fn x32_and_x86_64_each_have_their_maximum() {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["read", "close"], "action": "SCMP_ACT_ALLOW"}]
    }));
    let prog = stub(&s).unwrap();
    let close64 = nr("close", ScmpArch::X8664);
    let close32 = nr("close", ScmpArch::X32) | X32_SYSCALL_BIT;
    assert_eq!(run(&prog, close64, AUDIT_ARCH_X86_64), Verdict::Filter);
    assert_eq!(run(&prog, close64 + 1, AUDIT_ARCH_X86_64), Verdict::Enosys);
    assert_eq!(run(&prog, close32, AUDIT_ARCH_X86_64), Verdict::Filter);
    assert_eq!(run(&prog, close32 + 1, AUDIT_ARCH_X86_64), Verdict::Enosys);
}

#[test]
fn no_prefix_where_unknown_syscalls_already_pass_or_get_enosys() {
    for (action, errno) in [
        ("SCMP_ACT_ALLOW", None),
        ("SCMP_ACT_LOG", None),
        ("SCMP_ACT_TRACE", None),
        ("SCMP_ACT_ERRNO", Some(38)),
    ] {
        let mut json = serde_json::json!({"defaultAction": action,
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL"}]});
        if let Some(e) = errno {
            json["defaultErrnoRet"] = e.into();
        }
        assert!(stub(&profile(json)).unwrap().is_empty(), "{action}");
    }
    // No architectures listed: the native one is covered, as libseccomp covers it.
    let s = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}));
    let prog = stub(&s).unwrap();
    assert!(!prog.is_empty());
    if ScmpArch::native() == ScmpArch::X8664 {
        assert_eq!(run(&prog, 1000, AUDIT_ARCH_X86_64), Verdict::Enosys);
        assert_eq!(run(&prog, 0, AUDIT_ARCH_X86_64), Verdict::Filter);
    }
}
