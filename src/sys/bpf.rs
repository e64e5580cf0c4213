//! The slice of bpf(2) a cgroup device program needs: the instruction encoding, loading a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program, and attaching, listing and detaching the programs on
//! a cgroup directory. Every `unsafe` has a `// SAFETY:` line.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Several programs may sit on one cgroup; every one must allow an access. `update` relies on
/// it to attach the new program before detaching the old, so no access slips through between.
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;

/// The kernel's `struct bpf_insn`: the register byte holds dst in the low nibble, src in the high.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// Opcodes, each one class | operation | source, as `linux/bpf_common.h` builds them.
pub(crate) mod op {
    /// `dst = *(u32 *)(src + off)`
    pub const LDX_W: u8 = 0x61;
    /// 32-bit `dst &= imm`
    pub const AND32_K: u8 = 0x54;
    /// 32-bit `dst >>= imm`
    pub const RSH32_K: u8 = 0x74;
    /// 32-bit `dst = imm`
    pub const MOV32_K: u8 = 0xb4;
    /// `if dst != imm goto pc + 1 + off`
    pub const JNE_K: u8 = 0x55;
    /// `if dst & imm goto pc + 1 + off`
    pub const JSET_K: u8 = 0x45;
    /// `goto pc + 1 + off`
    pub const JA: u8 = 0x05;
    /// return r0
    pub const EXIT: u8 = 0x95;
}

impl Insn {
    pub(crate) fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }

    #[cfg(test)]
    pub(crate) fn dst(&self) -> u8 {
        self.regs & 0x0f
    }

    #[cfg(test)]
    pub(crate) fn src(&self) -> u8 {
        self.regs >> 4
    }
}

/// `union bpf_attr` as BPF_PROG_LOAD reads it, up to `expected_attach_type`; the kernel
/// accepts a shorter attr and treats the rest as zero.
#[repr(C)]
#[derive(Default)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY, up to `prog_cnt`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// bpf(2) on one attr struct, which the kernel reads (and for QUERY writes) during the call.
fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> Result<libc::c_long, Errno> {
    // SAFETY: attr is a live, exclusively borrowed repr(C) bpf_attr prefix of the size passed;
    // every pointer inside it was set by our caller to memory that outlives this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    Errno::result(ret)
}

fn owned_fd(ret: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) just returned this fd to us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(ret as RawFd) }
}

/// Why a program was refused: the errno, and the verifier's log when there is one.
#[derive(Debug)]
pub(crate) struct LoadError {
    pub errno: Errno,
    pub log: String,
}

/// Load a cgroup device program. The first attempt runs without a verifier log (a log can
/// itself fail the load when it overflows); only a refused program is loaded again with one,
/// so the error can say what the verifier disliked.
pub(crate) fn load_device_program(insns: &[Insn]) -> Result<OwnedFd, LoadError> {
    match load(insns, None) {
        Ok(fd) => Ok(fd),
        Err(errno) => {
            let mut log = vec![0u8; 64 * 1024];
            match load(insns, Some(&mut log)) {
                Ok(fd) => Ok(fd),
                Err(_) => {
                    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
                    Err(LoadError {
                        errno,
                        log: String::from_utf8_lossy(&log[..end]).trim().to_string(),
                    })
                }
            }
        }
    }
}

fn load(insns: &[Insn], log: Option<&mut [u8]>) -> Result<OwnedFd, Errno> {
    let license = c"Apache-2.0";
    let mut attr = LoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..5].copy_from_slice(b"nook\0");
    if let Some(buf) = log {
        attr.log_level = 1;
        attr.log_size = buf.len() as u32;
        attr.log_buf = buf.as_mut_ptr() as u64;
    }
    bpf(BPF_PROG_LOAD, &mut attr).map(owned_fd)
}

/// Attach `prog` to the cgroup directory `cgroup`, next to any programs already there.
pub(crate) fn attach_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

pub(crate) fn detach_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> Result<(), Errno> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// The ids of the device programs attached to this very cgroup (not inherited ones).
pub(crate) fn query_device_programs(cgroup: BorrowedFd<'_>) -> Result<Vec<u32>, Errno> {
    // The kernel reports the real count with ENOSPC when the buffer is short; programs can
    // be attached meanwhile, hence the loop.
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            Err(Errno::ENOSPC) if attr.prog_cnt as usize > ids.len() => {
                ids = vec![0; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// An fd for an attached program, needed to detach it.
pub(crate) fn program_by_id(id: u32) -> Result<OwnedFd, Errno> {
    let mut attr = GetFdAttr {
        prog_id: id,
        ..Default::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned_fd)
}
