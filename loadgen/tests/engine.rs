//! The generator against a real simulated origin on loopback: open loop keeps the schedule
//! and checks every body; a server that corrupts bodies is caught; closed loop runs its
//! viewers; a saturated pool queues requests and counts the unsent.

use loadgen::{
    Arrival, CatalogClass, Loadgen, MixEntry, Mode, Plan, Popularity, RegionPlan, WorkloadSpec,
};
use sim::origin::{start, OriginConfig, RunningOrigin};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn origin(extra: &str) -> RunningOrigin {
    let cfg = OriginConfig::from_str(
        &format!(
            "listen = \"127.0.0.1:0\"\nseed = 3\n{extra}[[class]]\nprefix = \"/s/\"\nobjects = 200\nsize = {{ dist = \"uniform\", min = \"100B\", max = \"20KiB\" }}\n"
        ),
        "origin.toml",
    )
    .unwrap();
    start(cfg).await.unwrap()
}

fn plan(o: &RunningOrigin, target: SocketAddr, rate: f64, mode: Mode) -> Plan {
    Plan {
        seed: 9,
        warmup: Duration::from_millis(200),
        duration: Duration::from_secs(1),
        workload: WorkloadSpec {
            rate,
            arrival: Arrival::Constant,
            mix: vec![MixEntry {
                class: "/s/".into(),
                share: 1.0,
                popularity: Popularity::Zipf { alpha: 0.9 },
                range: None,
            }],
            phases: vec![],
            mode,
            same_sequence: false,
            trace: None,
        },
        catalog: vec![CatalogClass::class(
            3,
            o.config().classes[0].clone(),
            o.started(),
        )],
        regions: vec![RegionPlan {
            name: "r".into(),
            share: 1.0,
            pop: 0,
            target,
            source: Some("127.0.1.9".parse().unwrap()),
            connections: 16,
            requests_per_connection: 10,
            protocol: loadgen::Protocol::Http1,
        }],
        host: "t".into(),
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        record_sequence: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_keeps_the_schedule_and_checks_bodies() {
    let o = origin("").await;
    let lg = Loadgen::start(plan(&o, o.local_addr(), 300.0, Mode::Open), Instant::now()).unwrap();
    let rep = lg.finish().await;
    let r = &rep.regions[0];
    // Constant arrivals at 300/s: 60 in the warm-up, 300 measured (±1 at the edges).
    assert!((59..=61).contains(&r.warmup.requests), "{:?}", r.warmup);
    assert!(
        (299..=301).contains(&r.total.counters.requests),
        "{:?}",
        r.total.counters
    );
    assert_eq!(r.total.counters.errors, 0, "{:?}", r.total.counters);
    assert_eq!(r.total.counters.integrity_failures, 0);
    assert_eq!(r.total.counters.unsent, 0);
    // 10 requests per connection: a new connection every 10.
    let opened = r.total.counters.connections_opened + r.warmup.connections_opened;
    let all = r.total.counters.requests + r.warmup.requests;
    assert!(
        opened >= all / 10,
        "{opened} connections for {all} requests"
    );
    assert_eq!(rep.sequence.len() as u64, all);
    // The same seed gives the same sequence of objects.
    let again = Loadgen::start(plan(&o, o.local_addr(), 300.0, Mode::Open), Instant::now())
        .unwrap()
        .finish()
        .await;
    let objects = |s: &[loadgen::Sent]| {
        let mut v: Vec<(u64, u64)> = s.iter().map(|x| (x.scheduled_us, x.index)).collect();
        v.sort_unstable();
        v.into_iter().map(|x| x.1).collect::<Vec<_>>()
    };
    assert_eq!(objects(&rep.sequence), objects(&again.sequence));
    // Every second's row adds up to the totals.
    let per_second: u64 = r.seconds.iter().map(|s| s.counters.requests).sum();
    assert_eq!(per_second, all);
}

/// Relays to the origin but flips the 600th byte each upstream connection sends.
async fn corrupting_proxy(upstream: SocketAddr) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut down, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut up = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let (mut dr, mut dw) = down.split();
                let (mut ur, mut uw) = up.split();
                let a = tokio::io::copy(&mut dr, &mut uw);
                let b = async {
                    let mut buf = vec![0u8; 65536];
                    let mut total = 0usize;
                    loop {
                        let n = ur.read(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        if total < 600 && total + n > 600 {
                            buf[600 - total] ^= 0x40;
                        }
                        total += n;
                        dw.write_all(&buf[..n]).await?;
                    }
                    Ok::<_, std::io::Error>(())
                };
                let _ = tokio::join!(a, b);
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_body_is_an_integrity_failure() {
    let o = origin("").await;
    let proxy = corrupting_proxy(o.local_addr()).await;
    let mut p = plan(&o, proxy, 100.0, Mode::Open);
    p.regions[0].requests_per_connection = 1;
    let rep = Loadgen::start(p, Instant::now()).unwrap().finish().await;
    let c = rep.regions[0].total.counters;
    // Each connection's first response is corrupted past its headers (unless the body is
    // too short to reach byte 600, which 100 B..20 KiB sizes make rare).
    assert!(c.integrity_failures > c.requests / 2, "{c:?}");
    assert_eq!(c.transport_errors, 0, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_viewers_wait_for_answers() {
    let o = origin("service_time = \"10ms\"\n").await;
    let p = plan(
        &o,
        o.local_addr(),
        1.0,
        Mode::Closed {
            viewers: 2,
            think_time: Duration::from_millis(10),
        },
    );
    let rep = Loadgen::start(p, Instant::now()).unwrap().finish().await;
    let c = rep.regions[0].total.counters;
    // 2 viewers, each cycle ≥ 20 ms: at most 100 requests in the measured second.
    assert!(c.requests > 30 && c.requests <= 102, "{c:?}");
    assert_eq!(c.errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_queues_and_latency_counts_the_wait() {
    // One connection, 50 ms per request, 100 requests/s offered: the queue grows, latency
    // from the scheduled instant grows with it, and what is still queued at the end is unsent.
    let o = origin("service_time = \"50ms\"\n").await;
    let mut p = plan(&o, o.local_addr(), 100.0, Mode::Open);
    p.regions[0].connections = 1;
    p.regions[0].requests_per_connection = 0;
    let rep = Loadgen::start(p, Instant::now()).unwrap().finish().await;
    let r = &rep.regions[0];
    let c = r.total.counters;
    assert!(c.unsent > 40, "{c:?}");
    let p50_service = r.total.service.value_at_quantile(0.5);
    let p50_latency = r.total.latency.value_at_quantile(0.5);
    assert!(p50_service < 80_000, "service p50 {p50_service} µs");
    assert!(p50_latency > 200_000, "latency p50 {p50_latency} µs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_requests_are_checked_chunk_by_chunk() {
    // The origin answers ranges itself: every response is a 206 of the chunk asked for.
    let o = origin("").await;
    let mut p = plan(&o, o.local_addr(), 200.0, Mode::Open);
    p.workload.mix[0].range = Some(4096);
    let rep = Loadgen::start(p, Instant::now()).unwrap().finish().await;
    let c = rep.regions[0].total.counters;
    assert!(c.requests > 150, "{c:?}");
    assert_eq!(c.errors, 0, "{c:?}");
    // Chunks of 4 KiB of 100 B..20 KiB objects: far fewer bytes than whole objects.
    assert!(c.bytes <= c.requests * 4096, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_is_replayed_at_its_instants_split_over_regions() {
    use loadgen::{Replay, TraceRequest, TraceSpec, TRACE_CLASS};
    use std::sync::Arc;
    // 300 requests, one every 4 ms, for 20 objects of different sizes.
    let o = origin("").await;
    let replay = Arc::new(Replay::from_requests(
        (0..300u64)
            .map(|i| TraceRequest {
                at_ns: i * 4_000_000,
                id: 1000 + i % 20,
                size: 100 + (i % 20) * 997,
            })
            .collect(),
    ));
    let mut p = plan(&o, o.local_addr(), 1.0, Mode::Open);
    p.workload = WorkloadSpec {
        rate: 0.0,
        arrival: Arrival::Poisson,
        mix: vec![MixEntry {
            class: TRACE_CLASS.into(),
            share: 1.0,
            popularity: Popularity::Trace,
            range: None,
        }],
        phases: vec![],
        mode: Mode::Open,
        same_sequence: false,
        trace: Some(TraceSpec {
            file: "t.bin".into(),
            format: sim::trace::Format::OracleGeneral,
            speed: 1.0,
            skip: Duration::ZERO,
            limit: None,
        }),
    };
    p.catalog = vec![CatalogClass::trace(3, replay.clone())];
    let mut second = p.regions[0].clone();
    second.name = "r2".into();
    p.regions[0].share = 0.25;
    second.share = 0.75;
    p.regions.push(second);
    let rep = Loadgen::start(p, Instant::now()).unwrap().finish().await;
    let mut sent = 0;
    for (r, share) in rep.regions.iter().zip([0.25, 0.75]) {
        let c = r.total.counters;
        assert_eq!((c.errors, c.unsent), (0, 0), "{c:?}");
        let n = c.requests + r.warmup.requests;
        assert!((n as f64 - 300.0 * share).abs() < 40.0, "{n} for {share}");
        assert_eq!(r.classes[0].counters.requests, c.requests);
        sent += n;
    }
    assert_eq!(sent, 300);
    // Each request was scheduled at its trace instant, and each went out once.
    let mut indexes: Vec<u64> = rep.sequence.iter().map(|s| s.index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..300).collect::<Vec<_>>());
    for s in &rep.sequence {
        assert_eq!(s.scheduled_us, s.index * 4000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_viewers_multiplex_on_few_connections_and_check_bodies() {
    let o = origin("").await;
    // 400 requests a second over `connections` HTTP/2 connections replaced every `quota`.
    let run = |connections: usize, quota: u64| {
        let mut p = plan(&o, o.local_addr(), 400.0, Mode::Open);
        let r = &mut p.regions[0];
        (r.protocol, r.connections, r.requests_per_connection) =
            (loadgen::Protocol::Http2, connections, quota);
        async { Loadgen::start(p, Instant::now()).unwrap().finish().await }
    };
    let rep = run(2, 0).await;
    let r = &rep.regions[0];
    let c = &r.total.counters;
    assert!((399..=401).contains(&c.requests), "{c:?}");
    assert_eq!(
        (c.errors, c.integrity_failures, c.unsent),
        (0, 0, 0),
        "{c:?}"
    );
    // Everything went over the region's (at most) two shared connections: slots are reused
    // most recently idle first, so a light load needs one.
    let opened = c.connections_opened + r.warmup.connections_opened;
    assert!((1..=2).contains(&opened), "{opened} connections");
    // With a quota, connections are replaced after that many requests.
    let rep = run(1, 50).await;
    let r = &rep.regions[0];
    let all = r.total.counters.requests + r.warmup.requests;
    let opened = r.total.counters.connections_opened + r.warmup.connections_opened;
    assert_eq!(
        opened,
        all.div_ceil(50),
        "{opened} connections for {all} requests"
    );
    assert_eq!(r.total.counters.integrity_failures, 0);
}
