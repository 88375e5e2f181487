//! Large cached bodies sent by page reference (`viewer_io`, `mapped`): they arrive whole and
//! right, also when their entries are evicted and their memory handed out again while the
//! kernel still holds the pages for a slow viewer.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// An origin whose `/v/<k>` is a new version at every fetch: `<size>` bytes of
/// `pattern(k * 1000 + version)`, the version in `x-version`.
async fn versioned_origin(size: usize) -> Origin {
    let versions: Arc<Mutex<HashMap<u64, u64>>> = Default::default();
    Origin::start(move |req| {
        let k: u64 = req.uri().path().trim_start_matches("/v/").parse().unwrap();
        let version = {
            let mut v = versions.lock().unwrap();
            let n = v.entry(k).or_default();
            *n += 1;
            *n
        };
        Reply {
            status: 200,
            headers: vec![
                ("cache-control".into(), "max-age=3600".into()),
                ("x-version".into(), version.to_string()),
            ],
            body: pattern(k * 1000 + version, size),
            delay: Duration::ZERO,
        }
    })
    .await
}

async fn sent_by_reference(admin: SocketAddr) -> u64 {
    let text = get(admin, "/metrics").await.body;
    let text = std::str::from_utf8(&text).unwrap();
    text.lines()
        .find(|l| l.starts_with("cdnlab_edge_sent_by_reference_bytes_total"))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |v| v.parse::<f64>().unwrap() as u64)
}

fn config(capacity: &str) -> String {
    simple("")
        .replace(
            "capacity = \"64MiB\"",
            &format!("capacity = \"{capacity}\""),
        )
        .replace("max_object_size = \"1MiB\"", "max_object_size = \"512KiB\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_hits_arrive_whole_and_small_ones_are_copied() {
    let origin = versioned_origin(300 * 1024).await;
    let edge = edge(&origin, &config("64MiB")).await;
    let miss = get(edge.listen, "/v/1").await;
    assert_eq!(miss.x_cache(), "Miss from tst");
    assert_eq!(miss.body, pattern(1001, 300 * 1024));
    let before = sent_by_reference(edge.admin).await;
    for _ in 0..5 {
        let hit = get(edge.listen, "/v/1").await;
        assert_eq!(hit.x_cache(), "Hit from tst");
        assert_eq!(hit.body, pattern(1001, 300 * 1024));
    }
    let by_reference = sent_by_reference(edge.admin).await - before;
    #[cfg(target_os = "linux")]
    assert_eq!(
        by_reference,
        5 * 300 * 1024,
        "every hit's body went by reference"
    );
    #[cfg(not(target_os = "linux"))]
    assert_eq!(by_reference, 0);
    // A range below the threshold is copied, and is the right slice.
    let part = send(
        edge.listen,
        "GET",
        "/v/1",
        &[("range", "bytes=1000-1999")],
        "",
    )
    .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, pattern(1001, 300 * 1024).slice(1000..2000));
    assert_eq!(sent_by_reference(edge.admin).await - before, by_reference);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ranges_at_any_offset_go_by_reference() {
    const SIZE: usize = 500 * 1024; // two pipefuls
    let origin = versioned_origin(SIZE).await;
    let edge = edge(&origin, &config("64MiB")).await;
    let whole = pattern(1001, SIZE);
    assert_eq!(get(edge.listen, "/v/1").await.body, whole);
    let before = sent_by_reference(edge.admin).await;
    let mut expected = 0;
    for (a, b) in [
        (0, SIZE - 2),
        (1, 70_000),
        (4095, 4096 + 300_000),
        (12_345, SIZE - 1),
    ] {
        let range = format!("bytes={a}-{b}");
        let part = send(edge.listen, "GET", "/v/1", &[("range", &range)], "").await;
        assert_eq!(part.status, 206, "{range}");
        assert!(part.body == whole.slice(a..=b), "{range}: wrong bytes");
        expected += (b + 1 - a) as u64;
    }
    #[cfg(target_os = "linux")]
    assert_eq!(sent_by_reference(edge.admin).await - before, expected);
    #[cfg(not(target_os = "linux"))]
    let _ = (before, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_copy_off_copies_everything() {
    let origin = versioned_origin(300 * 1024).await;
    let off = config("64MiB").replace("[cache]\n", "[cache]\nzero_copy = false\n");
    let edge = edge(&origin, &off).await;
    for _ in 0..3 {
        assert_eq!(
            get(edge.listen, "/v/1").await.body,
            pattern(1001, 300 * 1024)
        );
    }
    assert_eq!(sent_by_reference(edge.admin).await, 0);
}

/// One keep-alive connection with a small receive buffer that reads each response slowly,
/// so the edge's pipe and socket hold its bytes while the entry behind them is evicted.
async fn slow_viewer(edge: SocketAddr, keys: &[u64], size: usize) -> usize {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let mut conn: TcpStream = socket.connect(edge).await.unwrap();
    let mut checked = 0;
    for &k in keys {
        conn.write_all(format!("GET /v/{k} HTTP/1.1\r\nhost: t\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(conn.read_u8().await.unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or_else(|| panic!("no {name} in {head}"))
                .to_string()
        };
        let len: usize = header("content-length").parse().unwrap();
        let version: u64 = header("x-version").parse().unwrap();
        assert_eq!(len, size);
        let mut body = vec![0; len];
        let mut at = 0;
        while at < len {
            let n = conn
                .read(&mut body[at..(at + 4096).min(len)])
                .await
                .unwrap();
            assert!(n > 0, "connection closed mid-body");
            at += n;
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        assert!(
            body == pattern(k * 1000 + version, size),
            "/v/{k} version {version}: the body is not that version's bytes"
        );
        checked += 1;
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stay_right_while_their_entries_are_evicted_mid_send() {
    const SIZE: usize = 200 * 1024;
    let origin = versioned_origin(SIZE).await;
    // Room for three objects: the churn below evicts what the slow viewers are receiving.
    let edge = edge(&origin, &config("620KiB")).await;
    let addr = edge.listen;
    let slow: Vec<_> = (0..6u64)
        .map(|i| {
            let keys: Vec<u64> = (0..12).map(|j| (i + j) % 3).collect();
            tokio::spawn(async move { slow_viewer(addr, &keys, SIZE).await })
        })
        .collect();
    let churn = tokio::spawn(async move {
        for round in 0..60u64 {
            let k = 10 + round % 7;
            let got = get(addr, &format!("/v/{k}")).await;
            let version: u64 = got.header("x-version").parse().unwrap();
            assert!(
                got.body == pattern(k * 1000 + version, SIZE),
                "/v/{k} v{version}"
            );
        }
    });
    let mut checked = 0;
    for s in slow {
        checked += s.await.unwrap();
    }
    churn.await.unwrap();
    assert_eq!(checked, 72);
    // The keys were fetched again after evictions, so more than one version went out.
    assert!(origin.hits("/v/0") > 1, "no eviction happened");
    #[cfg(target_os = "linux")]
    assert!(sent_by_reference(edge.admin).await > 0);
}
