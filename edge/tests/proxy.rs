//! The edge's HTTP caching semantics, end to end: an in-process origin and edge on loopback
//! ports, real HTTP on both sides.

mod support;

use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_then_hit_with_via_and_age() {
    let origin =
        Origin::start(|_| Reply::ok("hello", "public, max-age=60").header("age", "7")).await;
    let e = edge(&origin, &simple("")).await;
    let first = get(e.listen, "/a").await;
    assert_eq!(
        (first.status, first.x_cache(), &first.body[..]),
        (200, "Miss from tst", &b"hello"[..])
    );
    assert_eq!(first.header("via"), "1.1 tst (cdnlab)");
    let second = get(e.listen, "/a").await;
    assert_eq!(
        (second.status, second.x_cache(), &second.body[..]),
        (200, "Hit from tst", &b"hello"[..])
    );
    // The origin said the response was already 7 s old: the cache's Age counts from there.
    let age: u64 = second.header("age").parse().unwrap();
    assert!((7..60).contains(&age), "{age}");
    assert_eq!(origin.hits("/a"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_is_clamped_into_the_behavior_bounds() {
    let origin = Origin::start(|r| match r.uri().path() {
        "/long" => Reply::ok("l", "max-age=999999"),
        "/short" => Reply::ok("s", "max-age=1"),
        _ => Reply::ok("d", ""),
    })
    .await;
    let e = edge(
        &origin,
        &simple("ttl = { min = \"10s\", default = \"30s\", max = \"100s\" }"),
    )
    .await;
    for p in ["/long", "/short", "/default"] {
        get(e.listen, p).await;
    }
    let fresh = |p: &str| {
        e.edge
            .store
            .peek(edge::store::Store::hash_key(p), p)
            .unwrap()
            .fresh_for()
    };
    assert_eq!(fresh("/long"), Duration::from_secs(100));
    assert_eq!(fresh("/short"), Duration::from_secs(10));
    assert_eq!(fresh("/default"), Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_store_private_and_set_cookie_are_not_stored() {
    let origin = Origin::start(|r| match r.uri().path() {
        "/ns" => Reply::ok("x", "no-store"),
        "/private" => Reply::ok("x", "private, max-age=60"),
        _ => Reply::ok("x", "max-age=60").header("set-cookie", "a=b"),
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    for p in ["/ns", "/private", "/cookie"] {
        assert_eq!(get(e.listen, p).await.x_cache(), "Miss from tst");
        assert_eq!(
            get(e.listen, p).await.x_cache(),
            "Miss from tst",
            "{p} was stored"
        );
        assert_eq!(origin.hits(p), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_is_revalidated_and_a_304_gives_refresh_hit() {
    let origin = Origin::start(|_| Reply::ok("body", "no-cache").header("etag", "\"v1\"")).await;
    let e = edge(&origin, &simple("")).await;
    assert_eq!(get(e.listen, "/r").await.x_cache(), "Miss from tst");
    let again = get(e.listen, "/r").await;
    assert_eq!(
        (again.x_cache(), &again.body[..]),
        ("RefreshHit from tst", &b"body"[..])
    );
    assert_eq!(
        origin.last_headers("/r").get("if-none-match").unwrap(),
        "\"v1\""
    );
    assert_eq!(origin.hits("/r"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_conditional_requests_get_304_from_a_fresh_entry() {
    let origin = Origin::start(|_| Reply::ok("body", "max-age=60").header("etag", "\"e\"")).await;
    let e = edge(&origin, &simple("")).await;
    get(e.listen, "/c").await;
    let r = send(e.listen, "GET", "/c", &[("if-none-match", "\"e\"")], "").await;
    assert_eq!(
        (r.status, r.x_cache(), r.body.len()),
        (304, "Hit from tst", 0)
    );
    let r = send(e.listen, "GET", "/c", &[("if-none-match", "\"other\"")], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(origin.hits("/c"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_serves_stale_and_refreshes_in_the_background() {
    let n = Arc::new(AtomicU64::new(0));
    let n2 = n.clone();
    let origin = Origin::start(move |_| {
        let v = n2.fetch_add(1, Ordering::SeqCst);
        Reply::ok(&format!("v{v}"), "max-age=1, stale-while-revalidate=60")
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    assert_eq!(&get(e.listen, "/s").await.body[..], b"v0");
    // Let the entry go stale: freshness is whole seconds of wall time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let stale = get(e.listen, "/s").await;
    assert_eq!(
        (stale.x_cache(), &stale.body[..]),
        ("StaleHit from tst", &b"v0"[..])
    );
    // The background refresh lands; wait for it by polling the origin's counter.
    for _ in 0..100 {
        if origin.hits("/s") == 2
            && e.edge
                .store
                .peek(edge::store::Store::hash_key("/s"), "/s")
                .is_some_and(|x| &x.body()[..] == b"v1")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = get(e.listen, "/s").await;
    assert_eq!(
        (fresh.x_cache(), &fresh.body[..]),
        ("Hit from tst", &b"v1"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_if_error_serves_stale_when_the_origin_is_down() {
    let origin = Origin::start(|_| Reply::ok("kept", "max-age=1, stale-if-error=60")).await;
    let e = edge(&origin, &simple("")).await;
    get(e.listen, "/x").await;
    origin.stop();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = get(e.listen, "/x").await;
    assert_eq!(
        (r.status, r.x_cache(), &r.body[..]),
        (200, "StaleHit from tst", &b"kept"[..])
    );
    // Without anything stale, a refused connection is a 502.
    let r = get(e.listen, "/never-seen").await;
    assert_eq!((r.status, r.x_cache()), (502, "Error from tst"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_timeout_is_a_504_and_an_origin_error_passes_through() {
    let origin = Origin::start(|r| match r.uri().path() {
        "/slow" => Reply::ok("late", "max-age=60").delay(Duration::from_secs(3)),
        _ => Reply::ok("broken", "").status(503),
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    let r = get(e.listen, "/slow").await;
    assert_eq!((r.status, r.x_cache()), (504, "Error from tst"));
    let r = get(e.listen, "/err").await;
    assert_eq!((r.status, &r.body[..]), (503, &b"broken"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vary_keeps_one_variant_per_header_value() {
    let origin = Origin::start(|r| {
        let lang = r
            .headers()
            .get("accept-language")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Reply::ok(&format!("in {lang}"), "max-age=60").header("vary", "Accept-Language")
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    let fr = send(e.listen, "GET", "/v", &[("accept-language", "fr")], "").await;
    let de = send(e.listen, "GET", "/v", &[("accept-language", "de")], "").await;
    assert_eq!((&fr.body[..], &de.body[..]), (&b"in fr"[..], &b"in de"[..]));
    let fr2 = send(e.listen, "GET", "/v", &[("accept-language", "fr")], "").await;
    let de2 = send(e.listen, "GET", "/v", &[("accept-language", "de")], "").await;
    assert_eq!(
        (fr2.x_cache(), &fr2.body[..]),
        ("Hit from tst", &b"in fr"[..])
    );
    assert_eq!(
        (de2.x_cache(), &de2.body[..]),
        ("Hit from tst", &b"in de"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_misses_make_one_origin_request() {
    let body: String = (0..50_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let b2 = body.clone();
    let origin =
        Origin::start(move |_| Reply::ok(&b2, "max-age=60").delay(Duration::from_millis(300)))
            .await;
    let e = edge(&origin, &simple("")).await;
    let addr = e.listen;
    let tasks: Vec<_> = (0..100)
        .map(|_| tokio::spawn(async move { get(addr, "/cold").await }))
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(origin.hits("/cold"), 1, "collapsed into one origin fetch");
    for r in &results {
        assert_eq!((r.status, r.body.len()), (200, body.len()));
        assert_eq!(&r.body[..], body.as_bytes());
    }
    let misses = results
        .iter()
        .filter(|r| r.x_cache() == "Miss from tst")
        .count();
    assert_eq!(misses, 1, "one leader; the rest are collapsed hits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidation_by_path_and_wildcard() {
    let origin = Origin::start(|_| Reply::ok("x", "max-age=60")).await;
    let e = edge(&origin, &simple("")).await;
    for p in ["/a.css", "/img/1.png", "/img/2.png", "/other"] {
        get(e.listen, p).await;
    }
    let r = send(
        e.admin,
        "POST",
        "/invalidations",
        &[("content-type", "application/json")],
        r#"{"paths": ["/a.css", "/img/*"]}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        std::str::from_utf8(&r.body)
            .unwrap()
            .contains("\"invalidated\":3"),
        "{:?}",
        r.body
    );
    assert_eq!(get(e.listen, "/a.css").await.x_cache(), "Miss from tst");
    assert_eq!(get(e.listen, "/img/1.png").await.x_cache(), "Miss from tst");
    assert_eq!(get(e.listen, "/other").await.x_cache(), "Hit from tst");
    let bad = send(e.admin, "POST", "/invalidations", &[], "{not json").await;
    assert_eq!(bad.status, 400);
    let metrics = get(e.admin, "/metrics").await;
    let text = std::str::from_utf8(&metrics.body).unwrap();
    assert!(
        text.contains("cdnlab_edge_invalidated_objects_total"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_larger_than_max_object_size_streams_through_uncached() {
    let big = Bytes::from(vec![b'z'; 3 << 20]);
    let b2 = big.clone();
    let origin = Origin::start(move |_| Reply {
        status: 200,
        headers: vec![("cache-control".into(), "max-age=60".into())],
        body: b2.clone(),
        delay: Duration::ZERO,
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    for _ in 0..2 {
        let r = get(e.listen, "/big").await;
        assert_eq!((r.status, r.body.len()), (200, big.len()));
        assert_eq!(r.x_cache(), "Miss from tst");
    }
    assert_eq!(origin.hits("/big"), 2);
    assert_eq!(e.edge.store.stats().objects, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_do_not_cross_the_proxy() {
    let origin = Origin::start(|_| {
        Reply::ok("x", "max-age=60")
            .header("connection", "x-secret")
            .header("x-secret", "1")
            .header("keep-alive", "timeout=5")
    })
    .await;
    let e = edge(&origin, &simple("")).await;
    let r = send(
        e.listen,
        "GET",
        "/h",
        &[("connection", "x-viewer"), ("x-viewer", "2")],
        "",
    )
    .await;
    assert!(r.headers.get("x-secret").is_none());
    assert!(r.headers.get("keep-alive").is_none());
    assert!(origin.last_headers("/h").get("x-viewer").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_methods_and_uncached_behaviors_pass_through_with_bodies() {
    let origin =
        Origin::start(|r| Reply::ok(&format!("{} {}", r.method(), r.uri().path()), "max-age=60"))
            .await;
    let cfg = simple("").replace("[[behavior]]\npath = \"*\"", "[[behavior]]\npath = \"/api/*\"\norigin = \"o\"\ncache = false\n[[behavior]]\npath = \"*\"");
    let e = edge(&origin, &cfg).await;
    let r = send(e.listen, "POST", "/x", &[], "payload").await;
    assert_eq!(
        (r.x_cache(), &r.body[..]),
        ("Pass from tst", &b"POST /x"[..])
    );
    for _ in 0..2 {
        assert_eq!(get(e.listen, "/api/v").await.x_cache(), "Pass from tst");
    }
    assert_eq!(origin.hits("/api/v"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400_and_do_not_disturb_others() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = Origin::start(|_| Reply::ok("x", "max-age=60")).await;
    let e = edge(&origin, &simple("")).await;
    let mut s = tokio::net::TcpStream::connect(e.listen).await.unwrap();
    s.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\nBad Header Line\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 256];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        std::str::from_utf8(&buf[..n])
            .unwrap()
            .starts_with("HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert_eq!(get(e.listen, "/x").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_disconnected_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let origin = Origin::start(|_| Reply::ok("x", "max-age=60")).await;
    let cfg = format!("{}[limits]\nheader_read_timeout = \"1s\"\n", simple(""));
    let e = edge(&origin, &cfg).await;
    // A client that never finishes its request head.
    let mut slow = tokio::net::TcpStream::connect(e.listen).await.unwrap();
    slow.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    // A client that sends one request, then idles on the kept-alive connection.
    let mut idle = tokio::net::TcpStream::connect(e.listen).await.unwrap();
    idle.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(std::str::from_utf8(&buf[..n])
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    let started = std::time::Instant::now();
    for s in [&mut slow, &mut idle] {
        // The edge closes it (read returns 0 or an error) well before this bound.
        let r = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(r.is_ok(), "connection still open after 5 s");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_results_bytes_and_origin_requests() {
    let origin = Origin::start(|_| Reply::ok("hello", "max-age=60")).await;
    let cfg = simple("").replace("[[behavior]]\npath = \"*\"", "[[behavior]]\npath = \"/api/*\"\norigin = \"o\"\ncache = false\n[[behavior]]\npath = \"*\"");
    let e = edge(&origin, &cfg).await;
    get(e.listen, "/m").await;
    get(e.listen, "/m").await;
    get(e.listen, "/api/p").await;
    let text = String::from_utf8(get(e.admin, "/metrics").await.body.to_vec()).unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("cdnlab_edge_requests_total{pop=\"tst\",result=\"hit\"}"),
        1.0
    );
    assert_eq!(
        value("cdnlab_edge_requests_total{pop=\"tst\",result=\"miss\"}"),
        1.0
    );
    assert_eq!(
        value("cdnlab_edge_requests_total{pop=\"tst\",result=\"pass\"}"),
        1.0
    );
    assert_eq!(value("cdnlab_edge_sent_bytes_total{pop=\"tst\"}"), 15.0);
    assert_eq!(
        value("cdnlab_edge_origin_requests_total{pop=\"tst\",origin=\"o\",status=\"200\"}"),
        2.0
    );
    assert_eq!(value("cdnlab_edge_cache_objects{pop=\"tst\"}"), 1.0);
    assert_eq!(value("cdnlab_edge_cache_bytes{pop=\"tst\"}"), 5.0);
    assert!(
        text.contains("cdnlab_edge_origin_response_seconds_bucket"),
        "{text}"
    );
    assert_eq!(get(e.admin, "/healthz").await.status, 200);
}
