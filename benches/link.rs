//! What a link costs when it adds nothing (0 ms, unlimited: the fast path): loopback bulk
//! throughput and the latency of a small request/response, through a link vs. direct.
//!
//! Targets (from the links issue): at least 1 GB/s through one link, at most 50 µs added to
//! the median round trip. Client and server are plain blocking sockets on their own threads;
//! only the link runs on a tokio runtime (2 workers), as in a scenario run. Also measured: the
//! throughput of the delaying path (a link with a bandwidth so high it never paces: the cost of
//! the reader/writer tasks and the timer). Nothing here asserts timing.
//!
//! `cargo bench --bench link`; the latency percentiles are printed before criterion's figures.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim::link::{Link, LinkSpec};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

const BULK: usize = 256 << 20;
const MSG: usize = 64;

/// A sink: reads each connection to EOF, then answers one byte.
fn sink_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        let _ = s.write_all(b"k");
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// An echo server for fixed-size messages.
fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            s.set_nodelay(true).unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; MSG];
                while s.read_exact(&mut buf).is_ok() {
                    if s.write_all(&buf).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn bulk(addr: SocketAddr, chunk: &[u8]) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut left = BULK;
    while left > 0 {
        let n = left.min(chunk.len());
        s.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut k = [0u8; 1];
    s.read_exact(&mut k).unwrap();
}

fn ping(s: &mut TcpStream, buf: &mut [u8; MSG]) {
    s.write_all(buf).unwrap();
    s.read_exact(buf).unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn start(rt: &tokio::runtime::Runtime, up: SocketAddr, spec: LinkSpec) -> Link {
    rt.block_on(Link::start("127.0.0.1:0".parse().unwrap(), up, spec))
        .unwrap()
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let up = sink_server();
    let fast = start(&rt, up, LinkSpec::default());
    let paced = start(
        &rt,
        up,
        LinkSpec {
            bandwidth_bps: Some(1_000_000_000_000),
            ..LinkSpec::default()
        },
    );
    let chunk = vec![0xA5u8; 1 << 20];
    let mut g = c.benchmark_group("link_throughput");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(BULK as u64));
    g.bench_function("direct", |b| b.iter(|| bulk(up, &chunk)));
    g.bench_function("link_fast_path", |b| {
        b.iter(|| bulk(fast.local_addr(), &chunk))
    });
    g.bench_function("link_delaying_path_1Tbit", |b| {
        b.iter(|| bulk(paced.local_addr(), &chunk))
    });
    g.finish();
}

fn percentiles(label: &str, addr: SocketAddr) -> Duration {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = [7u8; MSG];
    for _ in 0..2_000 {
        ping(&mut s, &mut buf);
    }
    let mut v: Vec<Duration> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            ping(&mut s, &mut buf);
            t.elapsed()
        })
        .collect();
    v.sort();
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
    eprintln!(
        "{label:>8}: {MSG}-byte round trip p50 {:?} p90 {:?} p99 {:?} max {:?}",
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
    q(0.5)
}

fn latency(c: &mut Criterion) {
    let rt = runtime();
    let up = echo_server();
    let fast = start(&rt, up, LinkSpec::default());
    let direct = percentiles("direct", up);
    let linked = percentiles("link", fast.local_addr());
    eprintln!(
        "added by the link at p50: {:?}",
        linked.saturating_sub(direct)
    );
    let mut g = c.benchmark_group("link_round_trip_64B");
    for (name, addr) in [("direct", up), ("link_fast_path", fast.local_addr())] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [7u8; MSG];
        g.bench_function(name, |b| b.iter(|| ping(&mut s, &mut buf)));
    }
    g.finish();
}

criterion_group!(benches, latency, throughput);
criterion_main!(benches);
