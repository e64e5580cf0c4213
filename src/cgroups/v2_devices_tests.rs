//! The generated programs, run by a small interpreter, against a model of the v1 devices
//! controller written from the kernel's own logic (a plain list of exceptions, matched the
//! way `devcgroup_legacy_check_permission` does), for many rule lists and every request.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType};

use super::bpf::{op, Insn};
use super::default_devices::standard_rules;
use super::v2_devices::*;
use super::CgroupError;

/// Run a program on one `bpf_cgroup_dev_ctx`. Panics on anything the generator should never
/// emit: unknown opcodes, reads of unset registers, backward or out-of-range jumps.
fn run(prog: &[Insn], kind: Kind, major: u32, minor: u32, access: u8) -> u32 {
    let ctx = [(u32::from(access) << 16) | kind as u32, major, minor];
    let mut reg = [0u64; 11];
    let mut set = [false; 11];
    set[1] = true;
    let mut pc = 0usize;
    loop {
        let insn = prog[pc];
        pc += 1;
        let (dst, src) = (usize::from(insn.dst()), usize::from(insn.src()));
        let imm64 = insn.imm as i64 as u64;
        let mut jump = false;
        match insn.code {
            op::LDX_W => {
                assert!(src == 1 && set[1], "loads only from the context");
                assert!(insn.off >= 0 && insn.off % 4 == 0 && insn.off < 12);
                reg[dst] = u64::from(ctx[insn.off as usize / 4]);
            }
            op::AND32_K => reg[dst] = u64::from(read(&reg, &set, dst) as u32 & insn.imm as u32),
            op::RSH32_K => reg[dst] = u64::from((read(&reg, &set, dst) as u32) >> insn.imm),
            op::MOV32_K => reg[dst] = u64::from(insn.imm as u32),
            op::JNE_K => jump = read(&reg, &set, dst) != imm64,
            op::JSET_K => jump = read(&reg, &set, dst) & imm64 != 0,
            op::JA => jump = true,
            op::EXIT => return read(&reg, &set, 0) as u32,
            code => panic!("unexpected opcode {code:#x} at {}", pc - 1),
        }
        if insn.code != op::JSET_K && insn.code != op::JNE_K && insn.code != op::JA {
            set[dst] = true;
        }
        if jump {
            assert!(insn.off >= 0, "backward jump at {}", pc - 1);
            pc += insn.off as usize;
        }
        assert!(pc < prog.len(), "ran off the end");
    }
}

fn read(reg: &[u64; 11], set: &[bool; 11], r: usize) -> u64 {
    assert!(set[r], "read of unset r{r}");
    reg[r]
}

/// The v1 controller after writing the rules to devices.allow / devices.deny in order.
struct V1Model {
    default_allow: bool,
    exceptions: Vec<(Kind, Option<u32>, Option<u32>, u8)>,
}

impl V1Model {
    fn new(rules: &[Rule]) -> V1Model {
        let mut m = V1Model {
            default_allow: false,
            exceptions: Vec::new(),
        };
        for r in rules {
            let Some(kind) = r.kind else {
                m.default_allow = r.allow;
                m.exceptions.clear();
                continue;
            };
            let pos = m
                .exceptions
                .iter()
                .position(|e| (e.0, e.1, e.2) == (kind, r.major, r.minor));
            match (r.allow != m.default_allow, pos) {
                (true, Some(i)) => m.exceptions[i].3 |= r.access,
                (true, None) => m.exceptions.push((kind, r.major, r.minor, r.access)),
                (false, Some(i)) => {
                    m.exceptions[i].3 &= !r.access;
                    if m.exceptions[i].3 == 0 {
                        m.exceptions.remove(i);
                    }
                }
                (false, None) => {}
            }
        }
        m
    }

    fn allows(&self, kind: Kind, major: u32, minor: u32, access: u8) -> bool {
        let on = |e: &&(Kind, Option<u32>, Option<u32>, u8)| {
            e.0 == kind && e.1.is_none_or(|m| m == major) && e.2.is_none_or(|m| m == minor)
        };
        if self.default_allow {
            !self.exceptions.iter().filter(on).any(|e| e.3 & access != 0)
        } else {
            self.exceptions
                .iter()
                .filter(on)
                .any(|e| access & !e.3 == 0)
        }
    }
}

fn spec_rule(allow: bool, typ: &str, major: i64, minor: i64, access: &str) -> LinuxDeviceCgroup {
    let typ = match typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        _ => LinuxDeviceType::C,
    };
    LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .major(major)
        .minor(minor)
        .access(access)
        .build()
        .unwrap()
}

/// The decision of the compiled program; no program means everything is allowed.
fn decide(rules: &[LinuxDeviceCgroup], kind: Kind, major: u32, minor: u32, access: u8) -> bool {
    match compile(rules).unwrap() {
        Some(prog) => run(&prog, kind, major, minor, access) == 1,
        None => true,
    }
}

#[test]
fn deny_all_then_allow_a_few() {
    let mut rules = vec![spec_rule(false, "a", -1, -1, "rwm")];
    rules.extend(standard_rules());
    use Kind::{Block, Char};
    assert!(decide(&rules, Char, 1, 3, READ | WRITE)); // /dev/null
    assert!(decide(&rules, Char, 136, 7, READ | WRITE)); // any pts
    assert!(!decide(&rules, Char, 10, 229, READ)); // /dev/fuse
    assert!(!decide(&rules, Block, 8, 0, READ)); // /dev/sda
    assert!(decide(&rules, Block, 8, 0, MKNOD)); // mknod of anything
    assert!(!decide(&rules, Block, 8, 0, MKNOD | READ));
}

#[test]
fn access_merges_and_splits_per_device_like_v1() {
    use Kind::Char;
    // Two allows for the same device merge: O_RDWR is allowed.
    let rules = vec![
        spec_rule(false, "a", -1, -1, "rwm"),
        spec_rule(true, "c", 1, 3, "r"),
        spec_rule(true, "c", 1, 3, "w"),
    ];
    assert!(decide(&rules, Char, 1, 3, READ | WRITE));
    assert!(!decide(&rules, Char, 1, 3, MKNOD));
    // A later deny takes its bits away again.
    let rules = vec![
        spec_rule(false, "a", -1, -1, "rwm"),
        spec_rule(true, "c", 1, 3, "rwm"),
        spec_rule(false, "c", 1, 3, "w"),
    ];
    assert!(decide(&rules, Char, 1, 3, READ));
    assert!(!decide(&rules, Char, 1, 3, READ | WRITE));
    // In allow-by-default mode, a deny of one bit refuses any request containing it.
    let rules = vec![
        spec_rule(true, "a", -1, -1, "rwm"),
        spec_rule(false, "c", 1, 3, "w"),
    ];
    assert!(decide(&rules, Char, 1, 3, READ));
    assert!(!decide(&rules, Char, 1, 3, READ | WRITE));
    assert!(decide(&rules, Char, 1, 5, WRITE));
}

#[test]
fn type_a_resets_whatever_its_numbers() {
    let rules = vec![
        spec_rule(true, "c", 1, 3, "rwm"),
        spec_rule(false, "a", 1, 3, "r"),
    ];
    assert!(!decide(&rules, Kind::Char, 1, 3, WRITE));
    let rules = vec![
        spec_rule(false, "a", -1, -1, "rwm"),
        spec_rule(true, "a", -1, -1, "rwm"),
    ];
    assert_eq!(compile(&rules).unwrap(), None, "allow-all needs no program");
}

#[test]
fn holes_in_wildcards_are_refused() {
    for (first, second) in [
        (("c", 1, -1), ("c", 1, 3)),
        (("c", -1, 3), ("c", 1, 3)),
        (("b", -1, -1), ("b", 8, -1)),
    ] {
        for default_allow in [false, true] {
            let rules = vec![
                spec_rule(default_allow, "a", -1, -1, "rwm"),
                spec_rule(!default_allow, first.0, first.1, first.2, "rw"),
                spec_rule(default_allow, second.0, second.1, second.2, "w"),
            ];
            assert!(matches!(
                compile(&rules),
                Err(CgroupError::InvalidValue { .. })
            ));
        }
    }
    // No overlap in access: nothing is silently kept, so it is fine.
    let rules = vec![
        spec_rule(false, "a", -1, -1, "rwm"),
        spec_rule(true, "c", 1, -1, "m"),
        spec_rule(false, "c", 1, 3, "rw"),
    ];
    assert!(compile(&rules).is_ok());
}

#[test]
fn invalid_rules_are_refused() {
    let mut fifo = spec_rule(true, "c", 1, 3, "rwm");
    fifo.set_typ(Some(LinuxDeviceType::P));
    let huge = spec_rule(true, "c", 1 << 31, 3, "rwm");
    let letters = spec_rule(true, "c", 1, 3, "rx");
    for rule in [fifo, huge, letters] {
        assert!(compile(&[rule]).is_err());
    }
}

/// A deterministic stream of small rule lists over a universe where wildcards, exact numbers
/// and every access subset collide often.
fn rule_lists() -> Vec<Vec<LinuxDeviceCgroup>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let accesses = ["r", "w", "m", "rw", "rm", "wm", "rwm"];
    (0..3000)
        .map(|_| {
            let len = 1 + next(6);
            (0..len)
                .map(|_| {
                    let typ = ["a", "b", "c", "c"][next(4) as usize];
                    let major = [-1, 1, 5][next(3) as usize];
                    let minor = [-1, 0, 3][next(3) as usize];
                    let access = accesses[next(7) as usize];
                    spec_rule(next(2) == 0, typ, major, minor, access)
                })
                .collect()
        })
        .collect()
}

#[test]
fn programs_agree_with_the_v1_model() {
    let mut compared = 0;
    for rules in rule_lists() {
        let Ok(program) = compile(&rules) else {
            continue;
        };
        let parsed: Vec<Rule> = rules.iter().map(|r| parse_rule(r).unwrap()).collect();
        let model = V1Model::new(&parsed);
        for kind in [Kind::Block, Kind::Char] {
            for major in [0, 1, 5, 7] {
                for minor in [0, 3, 9] {
                    for access in 1..=RWM {
                        let want = model.allows(kind, major, minor, access);
                        let got = match &program {
                            Some(p) => run(p, kind, major, minor, access) == 1,
                            None => true,
                        };
                        assert_eq!(
                            got, want,
                            "{kind:?} {major}:{minor} access {access} under {rules:?}"
                        );
                    }
                }
            }
        }
        compared += 1;
    }
    // Most lists must be representable, or the comparison proves little.
    assert!(compared > 2000, "only {compared} lists compiled");
}

#[test]
fn program_shape() {
    let rules = vec![
        spec_rule(false, "a", -1, -1, "rwm"),
        spec_rule(true, "c", 1, 3, "rwm"),
    ];
    let prog = compile(&rules).unwrap().unwrap();
    // 6 loads, then: type, major, minor checks, verdict, exit; then the default.
    assert_eq!(prog.len(), 6 + 5 + 2);
    assert_eq!(prog[6], Insn::new(op::JNE_K, 2, 0, 4, Kind::Char as i32));
    assert_eq!(prog.last().unwrap().code, op::EXIT);
}

#[test]
fn listed_nodes_get_no_access_under_deny_all() {
    use oci_spec::runtime::{LinuxDevice, LinuxResources};
    let res: LinuxResources =
        serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
    let listed: Vec<LinuxDevice> = serde_json::from_str(
        r#"[{"path":"/dev/kmsg","type":"c","major":1,"minor":11},
            {"path":"/dev/zero","type":"c","major":1,"minor":5},
            {"path":"/dev/fifo","type":"p","major":0,"minor":0}]"#,
    )
    .unwrap();
    let res = super::default_devices::resources_with_defaults(Some(&res), &listed).unwrap();
    let rules = res.devices().as_ref().unwrap();
    use Kind::Char;
    assert!(!decide(rules, Char, 1, 11, WRITE)); // /dev/kmsg: made, not opened
    assert!(!decide(rules, Char, 1, 5, READ)); // a listed /dev/zero loses its default rule
    assert!(decide(rules, Char, 1, 3, READ | WRITE)); // /dev/null keeps it
}
