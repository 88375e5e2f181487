//! A load run of the generator alone against a simulated origin on loopback (no edge, no
//! link): how many requests per second the viewers sustain and what each costs them.
//! `cargo run --release -p loadgen --example against_origin -- RATE SECONDS`

use loadgen::{
    Arrival, CatalogClass, Loadgen, MixEntry, Mode, Plan, Popularity, RegionPlan, WorkloadSpec,
};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: f64 = args.get(1).map_or(30000.0, |s| s.parse().unwrap());
    let secs: u64 = args.get(2).map_or(5, |s| s.parse().unwrap());
    let world = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("world")
        .enable_all()
        .build()
        .unwrap();
    let viewers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("viewers")
        .enable_all()
        .build()
        .unwrap();
    let cfg = sim::origin::OriginConfig::from_str(
        "listen = \"127.0.0.1:0\"\n[[class]]\nprefix = \"/s/\"\nobjects = 1000\nsize = \"1KiB\"\n",
        "origin",
    )
    .unwrap();
    let origin = world.block_on(sim::origin::start(cfg)).unwrap();
    let plan = Plan {
        seed: 1,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(secs),
        workload: WorkloadSpec {
            rate,
            arrival: Arrival::Poisson,
            mix: vec![MixEntry {
                class: "/s/".into(),
                share: 1.0,
                popularity: Popularity::Zipf { alpha: 0.8 },
                range: None,
            }],
            phases: vec![],
            mode: Mode::Open,
            same_sequence: false,
            trace: None,
        },
        catalog: vec![CatalogClass::class(
            origin.config().seed,
            origin.config().classes[0].clone(),
            origin.started(),
        )],
        regions: vec![RegionPlan {
            name: "r".into(),
            share: 1.0,
            pop: 0,
            target: origin.local_addr(),
            source: None,
            connections: 256,
            requests_per_connection: 0,
            protocol: loadgen::Protocol::Http1,
        }],
        host: "t".into(),
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        record_sequence: false,
    };
    let t0 = Instant::now();
    let rep =
        viewers.block_on(async { Loadgen::start(plan, Instant::now()).unwrap().finish().await });
    let wall = t0.elapsed();
    let f = rep.regions[0].total.figures(secs as f64);
    let cpu = |name: &str| -> f64 {
        let mut t = 0.0;
        for e in std::fs::read_dir("/proc/self/task").unwrap() {
            let d = e.unwrap().path();
            let comm = std::fs::read_to_string(d.join("comm")).unwrap_or_default();
            if comm.trim() == name {
                let st = std::fs::read_to_string(d.join("stat")).unwrap();
                let rest = &st[st.rfind(')').unwrap() + 1..];
                let v: Vec<f64> = rest
                    .split_whitespace()
                    .map(|x| x.parse().unwrap_or(0.0))
                    .collect();
                t += (v[11] + v[12]) / 100.0;
            }
        }
        t
    };
    let all = f.requests + rep.regions[0].warmup.requests;
    println!(
        "offered {rate}/s for {secs}s (+1s warm-up), wall {:.2}s: measured {} requests = {:.0}/s, errors {}, unsent {}, p50 {:.3} ms, p99 {:.3} ms, send-lag p99 {:.3} ms",
        wall.as_secs_f64(), f.requests, f.throughput_rps, f.errors, f.unsent_requests,
        f.latency_ms.p50, f.latency_ms.p99, f.send_lag_ms.p99
    );
    let v = cpu("viewers");
    let w = cpu("world");
    println!(
        "cpu: viewers {:.2}s = {:.1} µs/request; origin {:.2}s = {:.1} µs/request",
        v,
        v * 1e6 / all as f64,
        w,
        w * 1e6 / all as f64
    );
}
