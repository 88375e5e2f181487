//! Policy replay speed: requests per second through each policy, on the shared CloudPhysics
//! trace and on a 2M-request synthetic Zipf trace, both held in memory (so only the policy is
//! measured; `cdnlab simulate` reports the end-to-end figure, reading included).
//!
//! Anchor: libCacheSim does about 9–11 M requests/s for LRU, FIFO and SIEVE and about 4 M/s
//! for S3-FIFO on such traces on this machine (see the foundation issue); we aim at twice that.

use cache::{Evicted, Request};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim::synth::{ZipfSpec, ZipfTrace};
use sim::trace::{Format, Record, TraceReader};
use std::path::PathBuf;
use std::time::Duration;

fn load(reader: &mut dyn TraceReader) -> Vec<Request> {
    let (mut all, mut batch) = (Vec::new(), Vec::new());
    while reader.read_batch(&mut batch, 1 << 16).expect("trace reads") > 0 {
        all.extend(
            batch
                .iter()
                .filter(|r: &&Record| r.size > 0)
                .map(|r| Request {
                    id: r.id,
                    size: r.size,
                    next_access: r.next_access,
                }),
        );
    }
    all
}

fn working_set(reqs: &[Request]) -> u64 {
    let mut seen = cache::IdMap::default();
    reqs.iter()
        .filter(|r| seen.insert(r.id, ()).is_none())
        .map(|r| r.size)
        .sum()
}

fn replay(spec: &cache::PolicySpec, capacity: u64, reqs: &[Request]) -> u64 {
    let mut p = cache::build(spec, capacity).expect("policy builds");
    let mut ev: Vec<Evicted> = Vec::with_capacity(64);
    let mut misses = 0;
    for r in reqs {
        ev.clear();
        misses += u64::from(!p.access(r, &mut ev));
    }
    misses
}

fn bench_trace(c: &mut Criterion, group_name: &str, reqs: &[Request]) {
    let wss = working_set(reqs);
    let mut g = c.benchmark_group(group_name);
    g.throughput(Throughput::Elements(reqs.len() as u64));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for info in cache::REGISTRY {
        let spec: cache::PolicySpec = info.name.parse().expect("registry names parse");
        if cache::build(&spec, 1).is_err() {
            continue; // not implemented yet
        }
        g.bench_with_input(BenchmarkId::new(info.name, "10%"), &spec, |b, spec| {
            b.iter(|| replay(spec, wss / 10, reqs))
        });
    }
    g.finish();
}

fn policies(c: &mut Criterion) {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/traces/cloudPhysicsIO.oracleGeneral.bin"
    ));
    let mut reader = sim::trace::open(&path, &Format::OracleGeneral).expect("shared trace opens");
    bench_trace(c, "cloudphysics", &load(reader.as_mut()));
    let spec: ZipfSpec = "zipf:requests=2000000,objects=200000,alpha=0.8,seed=1"
        .parse()
        .expect("zipf spec");
    bench_trace(c, "zipf2m", &load(&mut ZipfTrace::new(&spec)));
}

criterion_group!(benches, policies);
criterion_main!(benches);
