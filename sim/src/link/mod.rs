//! Links of the simulated world: a user-space TCP relay that makes a loopback connection
//! behave like one across the globe.
//!
//! The kernel here has no netem, so a [`Link`] listens on one address and relays every
//! connection it accepts to an upstream address, and on the way:
//!
//! - **delays** every chunk of bytes, in each direction, by half the round-trip time plus a
//!   jitter sample, never reordering bytes: a chunk is delivered no earlier than the one
//!   before it;
//! - **paces** each direction separately to the bandwidth (store-and-forward: a chunk of `n`
//!   bytes is delivered `n · 8 / bandwidth` seconds after the link became free for it);
//! - **charges a new connection its handshake**: nothing goes through, either way, until
//!   `handshake_rtts × rtt` after the connection was accepted (1 for TCP; 2 or 3 model TLS
//!   on top), so the first request/response of a new connection takes one round trip more
//!   than the next ones, as it would over a real network;
//! - models **loss** as its effect on TCP: a chunk that loses a segment (`loss` is the
//!   probability per 1460-byte segment, so a chunk of `k` segments is late with probability
//!   `1 − (1 − loss)^k`, whatever size the chunks are read in) arrives one retransmission
//!   timeout late, `max(200 ms, 3 × rtt)`, and everything after it queues behind it
//!   (head-of-line blocking). Fast retransmit (a loss costing one RTT) is not modelled.
//!
//! With no delay, no bandwidth limit and no loss the link takes a fast path: a plain
//! bidirectional copy with large buffers, so that a relay is never the bottleneck.
//!
//! Jitter: each one-way delay is `rtt / 2 + u`, with `u` uniform in `[-jitter/2, +jitter/2]`
//! (clamped at zero), drawn from a generator seeded by the link's seed, the connection's
//! number (in accept order) and the direction; a round trip therefore lies within
//! `rtt ± jitter`, and is longer only when a chunk queues behind a later-drawn earlier one.
//!
//! The draws are deterministic per chunk; which bytes form a chunk depends on how the
//! sender's writes and the kernel happen to split them, so two runs agree on the delay
//! distribution, not on each byte's delay.
//!
//! Timing: the waits use a dedicated timer thread (about 0.1 ms late, where tokio's 1 ms
//! timer wheel is about 1 ms late per wait); pacing keeps a virtual clock so that a late
//! wake-up is made up by the chunks that follow, and the rate holds on average. Each
//! direction holds at most a window of bytes (4 MiB, or twice the bandwidth × delay product
//! of a paced link, up to 256 MiB); past it the link stops reading and TCP's flow control
//! pushes back on the sender, as a receive window would.
//!
//! Half-closes (EOF) travel in order after the data, with the same one-way delay; an error
//! on either side closes both. Per-link counters ([`LinkStats`]) count connections, bytes
//! each way, the delay applied and the lost chunks.

mod schedule;
mod spec;
pub mod timer;

pub use schedule::{Delivery, Schedule, SEGMENT};
pub use spec::{
    format_bandwidth, parse_bandwidth, parse_percent, LinkSpec, LinkStats, MAX_HANDSHAKE_RTTS,
    MAX_RTT,
};

use bytes::{Bytes, BytesMut};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use timer::sleep_until;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;

/// A running link. Dropping it stops it, like [`Link::shutdown`].
pub struct Link {
    local: SocketAddr,
    upstream: SocketAddr,
    spec: LinkSpec,
    inner: Arc<Inner>,
}

struct Inner {
    connections: AtomicU64,
    open: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    delay_nanos: AtomicU64,
    lost_chunks: AtomicU64,
    upstream_failures: AtomicU64,
    stop: watch::Sender<bool>,
    /// The accept loop and the connection tasks still running.
    tasks: watch::Sender<usize>,
}

/// Read size on the fast path and on delayed links without a bandwidth limit.
const BIG_CHUNK: usize = 256 * 1024;
/// Read size on a link with a bandwidth limit, the granularity of pacing: about 1 ms of
/// transmission, within these bounds (4 KiB is 4 ms at 8 Mbit/s; 64 KiB is 0.5 ms at 1 Gbit/s).
const PACED_CHUNK_MIN: usize = 4 * 1024;
const PACED_CHUNK_MAX: usize = 64 * 1024;
/// Bytes one direction holds in flight at least (its "window"): past it the link stops
/// reading and TCP's flow control pushes back on the sender.
const MIN_IN_FLIGHT: usize = 4 << 20;
/// ... and at most, whatever the bandwidth-delay product.
const MAX_IN_FLIGHT: usize = 256 << 20;

impl Link {
    /// Binds `listen` (port 0 allowed) and relays every accepted connection to `upstream`.
    /// Runs on the current tokio runtime. Fails if the spec is invalid (`InvalidInput`, see
    /// [`LinkSpec::validate`]), if `upstream_source` is not of `upstream`'s family, or if
    /// `listen` cannot be bound.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        spec: LinkSpec,
    ) -> io::Result<Link> {
        spec.validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if let Some(src) = spec.upstream_source {
            if src.is_ipv4() != upstream.is_ipv4() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "source address {src} and upstream {upstream} are of different IP families"
                    ),
                ));
            }
        }
        let listener = TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        let (stop, _) = watch::channel(false);
        let (tasks, _) = watch::channel(1usize);
        let inner = Arc::new(Inner {
            connections: AtomicU64::new(0),
            open: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            delay_nanos: AtomicU64::new(0),
            lost_chunks: AtomicU64::new(0),
            upstream_failures: AtomicU64::new(0),
            stop,
            tasks,
        });
        let spec2 = Arc::new(spec.clone());
        tokio::spawn(accept_loop(listener, upstream, spec2, inner.clone()));
        Ok(Link {
            local,
            upstream,
            spec,
            inner,
        })
    }

    /// The address the link listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Where the link relays to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// What the link does to traffic.
    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }

    /// The counters so far.
    pub fn stats(&self) -> LinkStats {
        let i = &self.inner;
        LinkStats {
            connections: i.connections.load(Ordering::Relaxed),
            open: i.open.load(Ordering::Relaxed),
            bytes_up: i.bytes_up.load(Ordering::Relaxed),
            bytes_down: i.bytes_down.load(Ordering::Relaxed),
            delay_applied: Duration::from_nanos(i.delay_nanos.load(Ordering::Relaxed)),
            lost_chunks: i.lost_chunks.load(Ordering::Relaxed),
            upstream_failures: i.upstream_failures.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting and closes every relayed connection (both sides), at once, dropping
    /// any bytes still held. Returns without waiting: see [`Link::stopped`].
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Waits until the link has stopped: the listening socket is closed and every relayed
    /// connection is closed. Only returns after [`Link::shutdown`] (or once the runtime that
    /// runs the link's tasks has lost them).
    pub async fn stopped(&self) {
        let mut rx = self.inner.tasks.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Decrements the task count (and the open count, for a connection) however a task ends.
struct TaskGuard {
    inner: Arc<Inner>,
    connection: bool,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.connection {
            self.inner.open.fetch_sub(1, Ordering::Relaxed);
        }
        self.inner.tasks.send_modify(|n| *n -= 1);
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    spec: Arc<LinkSpec>,
    inner: Arc<Inner>,
) {
    let _guard = TaskGuard {
        inner: inner.clone(),
        connection: false,
    };
    let mut stop = inner.stop.subscribe();
    let mut conn_no = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((client, _)) => {
                let at = Instant::now();
                inner.connections.fetch_add(1, Ordering::Relaxed);
                inner.open.fetch_add(1, Ordering::Relaxed);
                inner.tasks.send_modify(|n| *n += 1);
                let guard = TaskGuard {
                    inner: inner.clone(),
                    connection: true,
                };
                let (spec, stop) = (spec.clone(), inner.stop.subscribe());
                tokio::spawn(serve(client, at, conn_no, upstream, spec, guard, stop));
                conn_no += 1;
            }
            // Out of file descriptors and the like: back off a little rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

async fn serve(
    client: TcpStream,
    accepted: Instant,
    conn: u64,
    upstream: SocketAddr,
    spec: Arc<LinkSpec>,
    guard: TaskGuard,
    mut stop: watch::Receiver<bool>,
) {
    let inner = &guard.inner;
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        // An error on either side ends the relay: both sockets are dropped, so both close.
        _ = relay(client, accepted, conn, upstream, &spec, inner) => {}
    }
}

async fn connect(upstream: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    match source {
        None => TcpStream::connect(upstream).await,
        Some(src) => {
            let sock = if upstream.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            sock.bind(SocketAddr::new(src, 0))?;
            sock.connect(upstream).await
        }
    }
}

async fn relay(
    mut client: TcpStream,
    accepted: Instant,
    conn: u64,
    upstream: SocketAddr,
    spec: &LinkSpec,
    inner: &Inner,
) -> io::Result<()> {
    let mut up = match connect(upstream, spec.upstream_source).await {
        Ok(s) => s,
        Err(e) => {
            inner.upstream_failures.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
    };
    // Chunks are written as they are due: Nagle would only add delays of its own.
    client.set_nodelay(true)?;
    up.set_nodelay(true)?;
    if spec.is_transparent() {
        let mut a = Counted {
            s: client,
            written: &inner.bytes_down,
        };
        let mut b = Counted {
            s: up,
            written: &inner.bytes_up,
        };
        tokio::io::copy_bidirectional_with_sizes(&mut a, &mut b, BIG_CHUNK, BIG_CHUNK).await?;
        return Ok(());
    }
    let handshake = spec.rtt * spec.handshake_rtts;
    if !handshake.is_zero() {
        sleep_until(accepted + handshake).await;
        add_delay(inner, handshake);
    }
    let (cr, cw) = client.split();
    let (ur, uw) = up.split();
    let chunk = read_size(spec);
    let window = in_flight_budget(spec);
    let upward = direction(
        cr,
        uw,
        Schedule::new(spec, conn, true),
        spec.bandwidth_bps,
        chunk,
        window,
        &inner.bytes_up,
        inner,
    );
    let downward = direction(
        ur,
        cw,
        Schedule::new(spec, conn, false),
        spec.bandwidth_bps,
        chunk,
        window,
        &inner.bytes_down,
        inner,
    );
    tokio::try_join!(upward, downward)?;
    Ok(())
}

/// How much a direction reads at a time: a millisecond of transmission on a paced link, a
/// large buffer otherwise.
fn read_size(spec: &LinkSpec) -> usize {
    match spec.bandwidth_bps {
        Some(bps) => ((bps / 8 / 1000) as usize).clamp(PACED_CHUNK_MIN, PACED_CHUNK_MAX),
        None => BIG_CHUNK,
    }
}

/// Bytes one direction may hold: at least [`MIN_IN_FLIGHT`], and enough to keep a limited
/// link busy over its one-way delay, jitter and a retransmission timeout, twice over.
fn in_flight_budget(spec: &LinkSpec) -> usize {
    let Some(bps) = spec.bandwidth_bps else {
        return MIN_IN_FLIGHT;
    };
    let mut hold = spec.rtt / 2 + spec.jitter;
    if spec.loss > 0.0 {
        hold += spec.rto();
    }
    let bdp = (bps as f64 / 8.0 * hold.as_secs_f64() * 2.0) as usize;
    bdp.clamp(MIN_IN_FLIGHT, MAX_IN_FLIGHT)
}

fn add_delay(inner: &Inner, d: Duration) {
    let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    inner.delay_nanos.fetch_add(n, Ordering::Relaxed);
}

/// A chunk in flight, or the end of the stream (`data` empty).
struct Chunk {
    data: Bytes,
    arrival: Instant,
    deliver: Instant,
}

/// One direction: a reader that stamps and schedules chunks, a writer that delivers them.
#[allow(clippy::too_many_arguments)]
async fn direction<R, W>(
    mut r: R,
    mut w: W,
    mut sched: Schedule,
    bandwidth_bps: Option<u64>,
    chunk: usize,
    window: usize,
    delivered: &AtomicU64,
    inner: &Inner,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Chunk>();
    let budget = Semaphore::new(window);
    let reader = async {
        let mut buf = BytesMut::new();
        loop {
            buf.reserve(chunk);
            let n = (&mut r).take(chunk as u64).read_buf(&mut buf).await?;
            let arrival = Instant::now();
            if n == 0 {
                let d = sched.end(arrival);
                let _ = tx.send(Chunk {
                    data: Bytes::new(),
                    arrival,
                    deliver: d.at,
                });
                return Ok::<(), io::Error>(());
            }
            let d = sched.next(arrival, n);
            if d.lost {
                inner.lost_chunks.fetch_add(1, Ordering::Relaxed);
            }
            // Hold at most `window` bytes: past it, stop reading (TCP pushes back).
            budget
                .acquire_many(n as u32)
                .await
                .expect("the budget is never closed")
                .forget();
            // A small chunk is copied out, so that it does not pin the whole read buffer while it
            // waits (a large one is handed over as it is, and the buffer reallocated).
            let data = if n < chunk / 4 {
                let d = Bytes::copy_from_slice(&buf);
                buf.clear();
                d
            } else {
                buf.split().freeze()
            };
            if tx
                .send(Chunk {
                    data,
                    arrival,
                    deliver: d.at,
                })
                .is_err()
            {
                return Ok(());
            }
        }
    };
    let writer = async {
        // The instant the (virtual) link finishes sending what it was given so far.
        let mut free_at: Option<Instant> = None;
        while let Some(c) = rx.recv().await {
            if c.deliver > Instant::now() {
                sleep_until(c.deliver).await;
            }
            if c.data.is_empty() {
                w.shutdown().await?;
                return Ok(());
            }
            let mut due = c.deliver;
            if let Some(bps) = bandwidth_bps {
                let start = free_at.map_or(due, |f| f.max(due));
                let nanos = c.data.len() as u128 * 8 * 1_000_000_000 / u128::from(bps);
                due = start + Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64);
                free_at = Some(due);
                if due > Instant::now() {
                    sleep_until(due).await;
                }
            }
            let now = Instant::now();
            add_delay(inner, now.saturating_duration_since(c.arrival));
            w.write_all(&c.data).await?;
            delivered.fetch_add(c.data.len() as u64, Ordering::Relaxed);
            budget.add_permits(c.data.len());
        }
        Ok(())
    };
    tokio::try_join!(reader, writer)?;
    Ok(())
}

/// A stream that counts the bytes written to it (the fast path's byte counters).
struct Counted<'a> {
    s: TcpStream,
    written: &'a AtomicU64,
}

impl AsyncRead for Counted<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.s).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.s).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.s).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.s).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_covers_the_bandwidth_delay_product() {
        assert_eq!(in_flight_budget(&LinkSpec::default()), MIN_IN_FLIGHT);
        let fat = LinkSpec {
            rtt: Duration::from_millis(200),
            bandwidth_bps: Some(10_000_000_000),
            ..LinkSpec::default()
        };
        // 1.25 GB/s × 100 ms × 2 = 250 MB.
        assert_eq!(in_flight_budget(&fat), 250_000_000);
    }

    #[test]
    fn paced_links_read_about_a_millisecond_at_a_time() {
        let at = |bps| {
            read_size(&LinkSpec {
                bandwidth_bps: Some(bps),
                ..LinkSpec::default()
            })
        };
        assert_eq!(at(8_000_000), 4096);
        assert_eq!(at(100_000_000), 12_500);
        assert_eq!(at(10_000_000_000), 65_536);
        assert_eq!(read_size(&LinkSpec::default()), BIG_CHUNK);
    }
}
