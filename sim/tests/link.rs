//! Fidelity of the links: timing, pacing, order, loss, counters, stop, on 127.0.0.1 only.
//!
//! Each test starts a tiny server on 127.0.0.1:0 and a link in front of it, and measures
//! what a client sees through the link. The measured distributions are printed (run with
//! `--nocapture` to see them).

use sim::link::{Link, LinkSpec, LinkStats};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn any_port() -> SocketAddr {
    SocketAddr::new(LOCAL, 0)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An echo server: writes back whatever it reads, closes after the client's EOF.
async fn echo_server() -> SocketAddr {
    let l = TcpListener::bind(any_port()).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            s.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn link(upstream: SocketAddr, spec: LinkSpec) -> Link {
    Link::start(any_port(), upstream, spec).await.unwrap()
}

async fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `msg` and reads as many bytes back.
async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> io::Result<()> {
    s.write_all(msg).await?;
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).await?;
    assert_eq!(back, msg);
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn show(label: &str, v: &[Duration]) {
    let mut v = v.to_vec();
    v.sort();
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    println!(
        "{label}: n={} min={:?} p50={:?} p90={:?} max={:?}",
        v.len(),
        q(0.0),
        q(0.5),
        q(0.9),
        q(1.0)
    );
}

/// Waits (a little) until no connection is open through the link, then returns its stats.
async fn settled(link: &Link) -> LinkStats {
    let t0 = Instant::now();
    while link.stats().open > 0 && t0.elapsed() < ms(2000) {
        tokio::time::sleep(ms(2)).await;
    }
    link.stats()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_take_the_rtt_and_a_new_connection_one_more() {
    let _serial = serial().await;
    let up = echo_server().await;
    let l = link(
        up,
        LinkSpec {
            rtt: ms(80),
            ..LinkSpec::default()
        },
    )
    .await;
    let t0 = Instant::now();
    let mut s = connect(l.local_addr()).await;
    round_trip(&mut s, b"hello").await.unwrap();
    let first = t0.elapsed();
    let mut rtts = Vec::new();
    for i in 0..20u32 {
        let t = Instant::now();
        round_trip(&mut s, format!("request {i}").as_bytes())
            .await
            .unwrap();
        rtts.push(t.elapsed());
    }
    println!("first round trip of a new connection: {first:?}");
    show("round trips at rtt 80ms", &rtts);
    let p50 = median(&mut rtts);
    assert!(
        p50.abs_diff(ms(80)) <= ms(2),
        "median round trip {p50:?}, want 80ms ± 2ms"
    );
    assert!(
        first.abs_diff(ms(160)) <= ms(5),
        "first round trip {first:?}, want 160ms (handshake + rtt)"
    );
    assert!(rtts.iter().all(|r| *r >= ms(79)), "{rtts:?}");
    drop(s);
    let st = settled(&l).await;
    assert_eq!((st.connections, st.open, st.lost_chunks), (1, 0, 0));
    assert_eq!(st.bytes_up, st.bytes_down);
    // 21 chunks each way at 40 ms plus the 80 ms handshake, and a little timer slack.
    assert!(
        st.delay_applied >= ms(80 + 42 * 40),
        "{:?}",
        st.delay_applied
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_like_handshake_costs_more_round_trips() {
    let _serial = serial().await;
    let up = echo_server().await;
    let l = link(
        up,
        LinkSpec {
            rtt: ms(30),
            handshake_rtts: 3,
            ..LinkSpec::default()
        },
    )
    .await;
    let t0 = Instant::now();
    let mut s = connect(l.local_addr()).await;
    round_trip(&mut s, b"x").await.unwrap();
    let first = t0.elapsed();
    println!("first round trip, 3 handshake rtts of 30ms: {first:?}");
    assert!(first.abs_diff(ms(120)) <= ms(5), "{first:?}, want 4 × 30ms");
}

/// A server that, on each connection, sends `down` bytes and reads to EOF at the same time,
/// and reports when it had read everything.
async fn bulk_server(
    down: usize,
) -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<(usize, Instant)>,
) {
    let l = TcpListener::bind(any_port()).await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (mut r, mut w) = s.into_split();
                tokio::spawn(async move {
                    w.write_all(&vec![7u8; down]).await.unwrap();
                    w.shutdown().await.unwrap();
                });
                let mut got = Vec::new();
                r.read_to_end(&mut got).await.unwrap();
                let _ = tx.send((got.len(), Instant::now()));
            });
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_paces_each_direction_separately() {
    let _serial = serial().await;
    const BODY: usize = 1_000_000;
    let (up, mut done) = bulk_server(BODY).await;
    let l = link(
        up,
        LinkSpec {
            bandwidth_bps: Some(8_000_000),
            ..LinkSpec::default()
        },
    )
    .await;
    let t0 = Instant::now();
    let s = connect(l.local_addr()).await;
    let (mut r, mut w) = s.into_split();
    let sender = tokio::spawn(async move {
        w.write_all(&vec![1u8; BODY]).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut body = Vec::new();
    r.read_to_end(&mut body).await.unwrap();
    let down = t0.elapsed();
    sender.await.unwrap();
    let (n, at) = done.recv().await.unwrap();
    let upward = at - t0;
    println!("1 MB at 8 Mbit/s: down {down:?}, up {upward:?} (at the same time)");
    assert_eq!((body.len(), n), (BODY, BODY));
    for (what, t) in [("down", down), ("up", upward)] {
        let err = (t.as_secs_f64() - 1.0).abs();
        assert!(err <= 0.05, "{what}: {t:?}, want 1.0s ± 5%");
    }
    let st = settled(&l).await;
    assert_eq!((st.bytes_up, st.bytes_down), (BODY as u64, BODY as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_varies_the_delay_but_keeps_byte_order() {
    let _serial = serial().await;
    let up = echo_server().await;
    let l = link(
        up,
        LinkSpec {
            rtt: ms(80),
            jitter: ms(20),
            seed: 42,
            ..LinkSpec::default()
        },
    )
    .await;
    let mut s = connect(l.local_addr()).await;
    round_trip(&mut s, b"warm").await.unwrap();
    let mut rtts = Vec::new();
    for _ in 0..8 {
        let t = Instant::now();
        round_trip(&mut s, b"ping").await.unwrap();
        rtts.push(t.elapsed());
    }
    show("round trips at rtt 80ms jitter 20ms", &rtts);
    assert!(
        rtts.iter().all(|r| *r >= ms(59) && *r <= ms(103)),
        "{rtts:?}"
    );
    let spread = *rtts.iter().max().unwrap() - *rtts.iter().min().unwrap();
    assert!(spread >= ms(3), "jitter should vary round trips: {rtts:?}");

    // A numbered stream written in 1 kB pieces about 1 ms apart: with ±10 ms per direction,
    // chunks would overtake each other if the link let them.
    let (mut r, mut w) = s.into_split();
    const PIECES: u32 = 200;
    let writer = tokio::spawn(async move {
        let mut sent = Vec::new();
        for p in 0..PIECES {
            let piece: Vec<u8> = (p * 250..(p + 1) * 250)
                .flat_map(|i: u32| i.to_be_bytes())
                .collect();
            w.write_all(&piece).await.unwrap();
            sent.extend_from_slice(&piece);
            tokio::time::sleep(ms(1)).await;
        }
        w.shutdown().await.unwrap();
        sent
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    let sent = writer.await.unwrap();
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "bytes came back out of order");
    let st = settled(&l).await;
    println!("jitter stream: {st:?}");
    assert_eq!(st.bytes_up, 4 + 8 * 4 + u64::from(PIECES) * 1000);
    assert_eq!(st.bytes_down, st.bytes_up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_chunks_arrive_one_rto_late_and_are_counted() {
    let _serial = serial().await;
    let up = echo_server().await;
    let l = link(
        up,
        LinkSpec {
            rtt: ms(20),
            loss: 1.0,
            ..LinkSpec::default()
        },
    )
    .await;
    // RTO = max(200ms, 3 × 20ms) = 200ms, on each way: 20 (handshake) + 2 × (10 + 200).
    let t0 = Instant::now();
    let mut s = connect(l.local_addr()).await;
    round_trip(&mut s, b"hello").await.unwrap();
    let first = t0.elapsed();
    println!("first round trip at loss 100%, rtt 20ms: {first:?}");
    assert!(
        first >= ms(440) && first < ms(490),
        "{first:?}, want ≈440ms"
    );
    assert_eq!(l.stats().lost_chunks, 2);
}

/// A server that reads a request to EOF, then answers with twice as many bytes and closes:
/// it only answers if the half-close came through.
async fn doubling_server() -> SocketAddr {
    let l = TcpListener::bind(any_port()).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut req = Vec::new();
                s.read_to_end(&mut req).await.unwrap();
                s.write_all(&vec![3u8; 2 * req.len()]).await.unwrap();
            });
        }
    });
    addr
}

async fn counters_add_up(spec: LinkSpec) {
    let up = doubling_server().await;
    let l = link(up, spec).await;
    let sizes = [1usize, 1000, 300_000];
    let mut tasks = Vec::new();
    for n in sizes {
        let addr = l.local_addr();
        tasks.push(tokio::spawn(async move {
            let mut s = connect(addr).await;
            s.write_all(&vec![5u8; n]).await.unwrap();
            s.shutdown().await.unwrap();
            let mut resp = Vec::new();
            s.read_to_end(&mut resp).await.unwrap();
            assert_eq!(resp.len(), 2 * n);
        }));
    }
    for t in tasks {
        timeout(ms(3000), t).await.unwrap().unwrap();
    }
    let st = settled(&l).await;
    let sent: usize = sizes.iter().sum();
    assert_eq!(
        st,
        LinkStats {
            connections: 3,
            open: 0,
            bytes_up: sent as u64,
            bytes_down: 2 * sent as u64,
            delay_applied: st.delay_applied,
            lost_chunks: 0,
            upstream_failures: 0,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_add_up_and_half_close_goes_through() {
    let _serial = serial().await;
    counters_add_up(LinkSpec {
        rtt: ms(10),
        ..LinkSpec::default()
    })
    .await;
    counters_add_up(LinkSpec {
        rtt: ms(10),
        bandwidth_bps: Some(1_000_000_000),
        ..LinkSpec::default()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_counts_and_half_closes_too() {
    let _serial = serial().await;
    let spec = LinkSpec::default();
    assert!(spec.is_transparent());
    counters_add_up(spec).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_close_everything() {
    let _serial = serial().await;
    let up = echo_server().await;
    for how in ["shutdown", "drop"] {
        for rtt in [0, 10] {
            let l = link(
                up,
                LinkSpec {
                    rtt: ms(rtt),
                    ..LinkSpec::default()
                },
            )
            .await;
            let addr = l.local_addr();
            let mut s = connect(addr).await;
            round_trip(&mut s, b"ping").await.unwrap();
            // Bytes in flight when the link stops are dropped with the connection.
            s.write_all(b"in flight").await.unwrap();
            if how == "shutdown" {
                l.shutdown();
                timeout(ms(1000), l.stopped()).await.unwrap();
                assert_eq!(l.stats().open, 0);
            } else {
                drop(l);
            }
            let mut buf = [0u8; 64];
            let n = timeout(ms(1000), s.read(&mut buf))
                .await
                .expect("the relayed connection closes")
                .unwrap_or(0);
            assert!(
                n < b"in flight".len() || rtt == 0,
                "{how}, rtt {rtt}: got {n} bytes"
            );
            // The listening socket is gone: new connections are refused.
            let mut refused = false;
            for _ in 0..100 {
                if TcpStream::connect(addr).await.is_err() {
                    refused = true;
                    break;
                }
                tokio::time::sleep(ms(5)).await;
            }
            assert!(refused, "{how}, rtt {rtt}: still accepting");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_closes_the_client() {
    let _serial = serial().await;
    // A port nobody listens on: bind one, note it, close it.
    let gone = TcpListener::bind(any_port())
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    for rtt in [0, 10] {
        let l = link(
            gone,
            LinkSpec {
                rtt: ms(rtt),
                ..LinkSpec::default()
            },
        )
        .await;
        let mut s = connect(l.local_addr()).await;
        let mut buf = [0u8; 8];
        let n = timeout(ms(1000), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        assert_eq!(n, 0);
        let st = settled(&l).await;
        assert_eq!((st.connections, st.open, st.upstream_failures), (1, 0, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_come_from_the_source_address() {
    let _serial = serial().await;
    let l = TcpListener::bind(any_port()).await.unwrap();
    let up = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, peer) = l.accept().await.unwrap();
        s.write_all(b"!").await.unwrap();
        peer
    });
    // Only 127.0.0.1 here; a scenario gives each region its own 127.0.0.0/8 address.
    let link = link(
        up,
        LinkSpec {
            upstream_source: Some(LOCAL),
            rtt: ms(2),
            ..LinkSpec::default()
        },
    )
    .await;
    let mut s = connect(link.local_addr()).await;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await.unwrap();
    let peer = server.await.unwrap();
    assert_eq!(peer.ip(), LOCAL);
    assert_ne!(peer.port(), link.local_addr().port());
}

#[tokio::test]
async fn bad_specs_are_refused_before_binding() {
    let _serial = serial().await;
    let up = SocketAddr::new(LOCAL, 9);
    let cases = [
        LinkSpec {
            loss: 2.0,
            ..LinkSpec::default()
        },
        LinkSpec {
            bandwidth_bps: Some(0),
            ..LinkSpec::default()
        },
        LinkSpec {
            upstream_source: Some("::1".parse().unwrap()),
            ..LinkSpec::default()
        },
    ];
    for spec in cases {
        let e = Link::start(any_port(), up, spec.clone())
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{spec:?}: {e}");
    }
}

/// The timing tests run one at a time: on a 2-core machine, several links sleeping and
/// waking at once would measure each other rather than the link.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}
