//! Random operation sequences through every registered policy, checked by `cache::Checked`:
//! never over capacity, `contains`/`len`/`used` agree with what was admitted and not evicted
//! or removed, evicted sizes add up.

use cache::{build, Checked, Evicted, Policy, PolicySpec, Request, REGISTRY};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// A trace request: hit, or miss and admit.
    Access {
        id: u64,
        size: u64,
    },
    /// The edge's split path: look up, and admit later if it missed.
    TouchThenAdmit {
        id: u64,
        size: u64,
    },
    /// The edge store's path: find the slot, record the hit by slot, or else offer the miss
    /// to `touch` (which may learn from it) and admit.
    BySlotThenAdmit {
        id: u64,
        size: u64,
    },
    Remove {
        id: u64,
    },
    Contains {
        id: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // Few ids so that hits, ghost hits and re-admissions are common; sizes up to above the
    // smallest capacities so that oversize refusals happen too.
    let id = 0u64..24;
    let size = prop_oneof![Just(1u64), 1u64..40];
    prop_oneof![
        6 => (id.clone(), size.clone()).prop_map(|(id, size)| Op::Access { id, size }),
        2 => (id.clone(), size.clone()).prop_map(|(id, size)| Op::TouchThenAdmit { id, size }),
        2 => (id.clone(), size).prop_map(|(id, size)| Op::BySlotThenAdmit { id, size }),
        1 => id.clone().prop_map(|id| Op::Remove { id }),
        1 => id.prop_map(|id| Op::Contains { id }),
    ]
}

fn drive(spec: &PolicySpec, capacity: u64, ops: &[Op]) {
    let mut p = Checked::new(build(spec, capacity).unwrap());
    let mut ev: Vec<Evicted> = Vec::new();
    let mut next_access = 0;
    for op in ops {
        next_access += 1;
        match *op {
            Op::Access { id, size } => {
                // A made-up but consistent future for belady: ids recur in order of id.
                p.access(
                    &Request {
                        id,
                        size,
                        next_access: next_access + id,
                    },
                    &mut ev,
                );
            }
            Op::TouchThenAdmit { id, size } => {
                let req = Request {
                    id,
                    size,
                    next_access: next_access + id,
                };
                if !p.touch(&req) {
                    p.admit(&req, &mut ev);
                }
            }
            Op::BySlotThenAdmit { id, size } => {
                let req = Request {
                    id,
                    size,
                    next_access: next_access + id,
                };
                // Other operations change what is held: take the owners from the mirror.
                let mut owners: Owners =
                    p.held().map(|id| (p.slot(id).expect("held"), id)).collect();
                by_slot(&mut p, &req, &mut ev, &mut owners);
            }
            Op::Remove { id } => {
                p.remove(id);
            }
            Op::Contains { id } => {
                p.contains(id);
            }
        }
    }
    let reported: u64 = ev.iter().map(|e| e.size).sum();
    assert_eq!(
        reported,
        p.evicted_bytes,
        "{}: evicted sizes add up",
        p.name()
    );
}

/// Which object the caller keeps at each slot, as the edge store knows it from its entries.
type Owners = std::collections::HashMap<u32, u64>;

/// A request as the edge store makes it: the slot if held, found with `slot_where` and the
/// caller's own knowledge of what each slot holds (`owners`), then the hit by slot; a miss
/// goes to `touch` (which may learn from it) and then `admit`, whose evictions free their
/// slots before the newcomer takes its own. Keeps `owners` up to date.
fn by_slot(p: &mut dyn Policy, req: &Request, ev: &mut Vec<Evicted>, owners: &mut Owners) -> bool {
    let found = p.slot_where(req.id, &mut |s| owners.get(&s) == Some(&req.id));
    assert_eq!(
        found,
        p.slot(req.id),
        "{}: slot_where and slot disagree",
        p.name()
    );
    match found {
        Some(s) => {
            p.touch_slot(req, s);
            true
        }
        None => {
            let hit = p.touch(req);
            assert!(!hit, "{}: touch hit what slot() said is not held", p.name());
            let start = ev.len();
            let admitted = p.admit(req, ev);
            for e in &ev[start..] {
                if owners.get(&e.slot) == Some(&e.id) {
                    owners.remove(&e.slot);
                }
            }
            if admitted {
                let s = p.slot(req.id).expect("admitted, so held at a slot");
                assert_eq!(
                    owners.insert(s, req.id),
                    None,
                    "{}: slot {s} taken",
                    p.name()
                );
            }
            false
        }
    }
}

/// The same operations through `touch` and through `slot` + `touch_slot` make the same
/// decisions: the same hits, the same evictions (slots included) in the same order.
fn same_by_slot(spec: &PolicySpec, capacity: u64, ops: &[Op]) {
    let mut a = build(spec, capacity).unwrap();
    let mut b = build(spec, capacity).unwrap();
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    let mut owners = Owners::new();
    for (t, op) in ops.iter().enumerate() {
        match *op {
            Op::Access { id, size }
            | Op::TouchThenAdmit { id, size }
            | Op::BySlotThenAdmit { id, size } => {
                let req = Request {
                    id,
                    size,
                    next_access: t as u64 + 1 + id,
                };
                let hit = a.touch(&req);
                if !hit {
                    a.admit(&req, &mut ea);
                }
                let b_hit = by_slot(b.as_mut(), &req, &mut eb, &mut owners);
                assert_eq!(b_hit, hit, "{}", a.name());
            }
            Op::Remove { id } => {
                if let Some(s) = b.slot(id) {
                    owners.remove(&s);
                }
                assert_eq!(a.remove(id), b.remove(id));
            }
            Op::Contains { id } => assert_eq!(a.slot(id), b.slot(id)),
        }
        assert_eq!(ea, eb, "{}: evictions differ after {op:?}", a.name());
    }
}

fn implemented() -> Vec<PolicySpec> {
    REGISTRY
        .iter()
        .map(|i| i.name.parse::<PolicySpec>().unwrap())
        .filter(|s| build(s, 1).is_ok())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_policy_keeps_its_invariants(capacity in prop_oneof![1u64..8, 8u64..200], ops in prop::collection::vec(op(), 1..400)) {
        for spec in implemented() {
            drive(&spec, capacity, &ops);
        }
    }

    #[test]
    fn touch_by_slot_decides_as_touch(capacity in prop_oneof![1u64..8, 8u64..200], ops in prop::collection::vec(op(), 1..400)) {
        for spec in implemented() {
            same_by_slot(&spec, capacity, &ops);
        }
    }
}

#[test]
fn every_policy_survives_a_long_random_run() {
    // A deterministic long sequence at a mid capacity: the slow drift bugs (leaked slots,
    // ghost bookkeeping) show up only after many operations.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut ops = Vec::new();
    for _ in 0..50_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let id = (x % 500).min(x % 97 * 7);
        ops.push(match x >> 60 {
            0 => Op::Remove { id },
            1 => Op::TouchThenAdmit {
                id,
                size: 1 + (x >> 20) % 50,
            },
            2 => Op::BySlotThenAdmit {
                id,
                size: 1 + (x >> 20) % 50,
            },
            _ => Op::Access {
                id,
                size: 1 + (x >> 20) % 50,
            },
        });
    }
    for spec in implemented() {
        drive(&spec, 2_000, &ops);
        same_by_slot(&spec, 2_000, &ops);
    }
}
