//! The proxy's hit path end to end: one HTTP/1.1 keep-alive connection, sequential GETs of a
//! cached object through the in-process edge (viewer socket → behavior → key → store → response).
//! Reports time per request; the loopback load run against nginx is benches/edge_vs_nginx/run.sh.
//! The 100 KiB object is measured twice: sent by page reference (the default) and copied
//! (`cache.zero_copy = false`), the anchor for what the former saves.

#[path = "../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http_body_util::BodyExt;
use std::time::{Duration, Instant};
use support::{edge, simple, Origin, Reply};

fn hit_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("edge_hit");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for (size, zero_copy) in [(1024usize, true), (100 * 1024, true), (100 * 1024, false)] {
        let body = Bytes::from(vec![b'x'; size]);
        let (e, client, uri) = rt.block_on(async {
            let b = body.clone();
            let origin = Origin::start(move |_| Reply {
                status: 200,
                headers: vec![("cache-control".into(), "max-age=3600".into())],
                body: b.clone(),
                delay: Duration::ZERO,
            })
            .await;
            let config =
                simple("").replace("[cache]\n", &format!("[cache]\nzero_copy = {zero_copy}\n"));
            let e = edge(&origin, &config).await;
            std::mem::forget(origin); // keep it serving for the whole bench
            let client = support::client();
            let uri: http::Uri = format!("http://{}/obj", e.listen).parse().unwrap();
            let warm = client.get(uri.clone()).await.unwrap();
            warm.into_body().collect().await.unwrap();
            (e, client, uri)
        });
        g.throughput(Throughput::Elements(1));
        let name = if zero_copy {
            "sequential_get"
        } else {
            "sequential_get_copied"
        };
        g.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let resp = client.get(uri.clone()).await.unwrap();
                        debug_assert_eq!(resp.headers()["x-cache"], "Hit from tst");
                        let _ = resp.into_body().collect().await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
        drop(e);
    }
    g.finish();
}

criterion_group!(benches, hit_path);
criterion_main!(benches);
