//! The -ENOSYS prefix put in front of a seccomp filter, as runc arranges it.
//!
//! A profile is written against the syscalls its author knew. A syscall added to the kernel
//! later (clone3, openat2, faccessat2, ...) is not named in it and so gets the default action,
//! typically EPERM. libc treats EPERM as a real refusal and fails; it treats ENOSYS as "this
//! kernel is too old" and falls back to the older call the profile does allow. So: on each
//! architecture the profile covers, a syscall numbered above the highest one the profile names
//! returns ENOSYS before the filter proper is consulted. Syscalls at or below it (named or not)
//! still get the filter's verdict.
//!
//! Not done when the default action already lets unknown syscalls through (ALLOW, LOG, TRACE:
//! a tracer handles ENOSYS itself) or already is ENOSYS.
//!
//! The prefix is classic BPF over `struct seccomp_data` (nr at offset 0, arch at offset 4):
//!
//! ```text
//!   ld  [4]                      arch
//!   jeq AUDIT_ARCH_a  -> sec_a   one test per architecture
//!   ...
//!   ja  filter                   an arch we do not cover: the filter decides
//! sec_a:
//!   ld  [0]                      syscall number
//!   (x86_64: bit 30 set means an x32 call, compared with the x32 maximum instead)
//!   (s390: number 0 is where unknown syscalls land; ENOSYS)
//!   jgt max_a -> enosys
//!   ja  filter
//!   ...
//! enosys:
//!   ret ERRNO(ENOSYS)
//! filter:                        libseccomp's program, which reloads what it needs
//! ```

use libseccomp::{ScmpArch, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Action};

pub use crate::sys::seccomp::SockFilter;

/// Opcodes of classic BPF, as `linux/filter.h` composes them.
pub mod op {
    /// `A = *(u32 *)(data + k)`
    pub const LD_W_ABS: u16 = 0x20;
    /// `pc += k`
    pub const JA: u16 = 0x05;
    /// `pc += (A == k) ? jt : jf`
    pub const JEQ_K: u16 = 0x15;
    /// `pc += (A > k) ? jt : jf`
    pub const JGT_K: u16 = 0x25;
    /// `pc += (A & k) ? jt : jf`
    pub const JSET_K: u16 = 0x45;
    /// `return k`
    pub const RET_K: u16 = 0x06;
}

const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const RET_ENOSYS: u32 = SECCOMP_RET_ERRNO | nix::errno::Errno::ENOSYS as u32;
/// x32 calls arrive on the x86_64 audit arch with this bit set in the number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

#[derive(Debug, thiserror::Error)]
#[error("linux.seccomp: the -ENOSYS prefix needs a jump of {0} instructions (at most 255)")]
pub struct StubTooLong(usize);

/// The audit arch the kernel reports for a libseccomp arch (x32 shares x86_64's).
fn audit_arch(arch: ScmpArch) -> Option<u32> {
    const LE: u32 = 0x4000_0000;
    const B64: u32 = 0x8000_0000;
    const N32: u32 = 0x2000_0000;
    Some(match arch {
        ScmpArch::X86 => 3 | LE,
        ScmpArch::X8664 | ScmpArch::X32 => AUDIT_ARCH_X86_64,
        ScmpArch::Arm => 40 | LE,
        ScmpArch::Aarch64 => 183 | B64 | LE,
        ScmpArch::Mips => 8,
        ScmpArch::Mipsel => 8 | LE,
        ScmpArch::Mips64 => 8 | B64,
        ScmpArch::Mipsel64 => 8 | B64 | LE,
        ScmpArch::Mips64N32 => 8 | B64 | N32,
        ScmpArch::Mipsel64N32 => 8 | B64 | N32 | LE,
        ScmpArch::Ppc => 20,
        ScmpArch::Ppc64 => 21 | B64,
        ScmpArch::Ppc64Le => 21 | B64 | LE,
        ScmpArch::S390 => 22,
        ScmpArch::S390X => 22 | B64,
        ScmpArch::Parisc => 15,
        ScmpArch::Parisc64 => 15 | B64,
        ScmpArch::Riscv64 => 243 | B64 | LE,
        ScmpArch::Loongarch64 => 258 | B64 | LE,
        ScmpArch::M68k => 4,
        ScmpArch::Sh => 42 | LE,
        ScmpArch::Sheb => 42,
        _ => return None,
    })
}

/// The highest syscall number among the names in the profile's syscalls[], on one arch.
fn highest(s: &LinuxSeccomp, arch: ScmpArch) -> Option<u32> {
    s.syscalls()
        .iter()
        .flatten()
        .flat_map(|call| call.names())
        .filter_map(|name| ScmpSyscall::from_name_by_arch(name, arch).ok())
        .filter_map(|nr| u32::try_from(i32::from(nr)).ok())
        .max()
}

/// What one architecture's section compares against.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Limits {
    audit: u32,
    /// The highest native number, or None when the profile covers only x32 on x86_64.
    max: Option<u32>,
    /// x86_64 only: the highest x32 number (bit 30 included), when x32 is covered.
    max_x32: Option<u32>,
    /// s390/s390x: syscall 0 stands for "unknown to the kernel".
    zero_is_unknown: bool,
}

/// Whether the profile gets the prefix at all (see the module doc).
pub fn wanted(s: &LinuxSeccomp) -> bool {
    let allow_like = matches!(
        s.default_action(),
        Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
    );
    let already_enosys = s.default_action() == Action::ScmpActErrno
        && s.default_errno_ret() == Some(nix::errno::Errno::ENOSYS as u32);
    !allow_like && !already_enosys
}

/// Per audit arch, the limits the profile implies; the architectures the filter covers are the
/// profile's, or the native one when it lists none (libseccomp's own default).
fn limits(s: &LinuxSeccomp) -> Vec<Limits> {
    let mut arches: Vec<ScmpArch> = s
        .architectures()
        .iter()
        .flatten()
        .map(|&a| super::seccomp::arch(a))
        .collect();
    if arches.is_empty() {
        arches.push(ScmpArch::Native);
    }
    let mut out: Vec<Limits> = Vec::new();
    for arch in arches {
        let arch = if arch == ScmpArch::Native {
            ScmpArch::native()
        } else {
            arch
        };
        let (Some(audit), Some(max)) = (audit_arch(arch), highest(s, arch)) else {
            continue;
        };
        let i = match out.iter().position(|l| l.audit == audit) {
            Some(i) => i,
            None => {
                out.push(Limits {
                    audit,
                    zero_is_unknown: matches!(arch, ScmpArch::S390 | ScmpArch::S390X),
                    ..Limits::default()
                });
                out.len() - 1
            }
        };
        if arch == ScmpArch::X32 {
            out[i].max_x32 = Some(max | X32_SYSCALL_BIT);
        } else {
            out[i].max = Some(max);
        }
    }
    out
}

/// Where a jump goes, resolved once the whole prefix is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Next,
    Section(usize),
    /// The instruction after this one (`jt`) within the same section.
    Skip(u8),
    Enosys,
    Filter,
}

struct Asm {
    code: Vec<(u16, To, To, u32)>,
    sections: Vec<usize>,
}

impl Asm {
    fn emit(&mut self, code: u16, jt: To, jf: To, k: u32) {
        self.code.push((code, jt, jf, k));
    }

    /// Turn targets into forward offsets; the filter starts right after the prefix.
    fn link(self) -> Result<Vec<SockFilter>, StubTooLong> {
        let enosys = self.code.len();
        let filter = enosys + 1;
        let target = |pc: usize, to: To| -> usize {
            match to {
                To::Next => pc + 1,
                To::Section(i) => self.sections[i],
                To::Skip(n) => pc + 1 + usize::from(n),
                To::Enosys => enosys,
                To::Filter => filter,
            }
        };
        let mut out: Vec<SockFilter> = Vec::with_capacity(filter);
        for (pc, &(code, jt, jf, k)) in self.code.iter().enumerate() {
            let insn = if code == op::JA {
                let k = target(pc, jt) - pc - 1;
                SockFilter {
                    code,
                    jt: 0,
                    jf: 0,
                    k: u32::try_from(k).map_err(|_| StubTooLong(k))?,
                }
            } else if code == op::LD_W_ABS {
                SockFilter {
                    code,
                    jt: 0,
                    jf: 0,
                    k,
                }
            } else {
                let off = |to| {
                    let d = target(pc, to) - pc - 1;
                    u8::try_from(d).map_err(|_| StubTooLong(d))
                };
                SockFilter {
                    code,
                    jt: off(jt)?,
                    jf: off(jf)?,
                    k,
                }
            };
            out.push(insn);
        }
        out.push(SockFilter {
            code: op::RET_K,
            jt: 0,
            jf: 0,
            k: RET_ENOSYS,
        });
        Ok(out)
    }
}

/// The prefix for `s`, or an empty program when it needs none.
pub fn stub(s: &LinuxSeccomp) -> Result<Vec<SockFilter>, StubTooLong> {
    if !wanted(s) {
        return Ok(Vec::new());
    }
    let limits = limits(s);
    if limits.is_empty() {
        return Ok(Vec::new());
    }
    let mut asm = Asm {
        code: Vec::new(),
        sections: Vec::new(),
    };
    asm.emit(op::LD_W_ABS, To::Next, To::Next, 4);
    for (i, l) in limits.iter().enumerate() {
        asm.emit(op::JEQ_K, To::Section(i), To::Next, l.audit);
    }
    asm.emit(op::JA, To::Filter, To::Filter, 0);
    for l in &limits {
        asm.sections.push(asm.code.len());
        asm.emit(op::LD_W_ABS, To::Next, To::Next, 0);
        if l.zero_is_unknown {
            asm.emit(op::JEQ_K, To::Enosys, To::Next, 0);
        }
        if l.audit == AUDIT_ARCH_X86_64 {
            // Bit 30 set: an x32 call. Each half is compared with its own maximum; a half the
            // profile does not cover goes to the filter (which refuses that ABI).
            match (l.max, l.max_x32) {
                (Some(max), Some(x32)) => {
                    asm.emit(op::JSET_K, To::Skip(1), To::Next, X32_SYSCALL_BIT);
                    asm.emit(op::JGT_K, To::Enosys, To::Filter, max);
                    asm.emit(op::JGT_K, To::Enosys, To::Filter, x32);
                }
                (Some(max), None) => {
                    asm.emit(op::JSET_K, To::Filter, To::Next, X32_SYSCALL_BIT);
                    asm.emit(op::JGT_K, To::Enosys, To::Filter, max);
                }
                (None, Some(x32)) => {
                    asm.emit(op::JSET_K, To::Next, To::Filter, X32_SYSCALL_BIT);
                    asm.emit(op::JGT_K, To::Enosys, To::Filter, x32);
                }
                (None, None) => asm.emit(op::JA, To::Filter, To::Filter, 0),
            }
        } else if let Some(max) = l.max {
            asm.emit(op::JGT_K, To::Enosys, To::Filter, max);
        } else {
            asm.emit(op::JA, To::Filter, To::Filter, 0);
        }
    }
    asm.link()
}

#[cfg(test)]
#[path = "enosys_tests.rs"]
mod tests;
