//! Scheduled faults: which are active at a time, what they do to one request, and the socket
//! wrapper that turns a `reset` into a real TCP RST.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::config::{Fault, FaultKind};
use super::stats::Counters;
use crate::dist::SplitMix64;

/// What the active faults do to one request.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Effects {
    /// Added to the service time.
    pub extra: Duration,
    /// Answer this status instead.
    pub status: Option<u16>,
    /// Reset the connection (mid-body when there is a body).
    pub reset: bool,
}

/// Whether a `down` fault is active at `t`.
pub fn down_at(faults: &[Fault], t: Duration) -> bool {
    faults
        .iter()
        .any(|f| matches!(f.kind, FaultKind::Down) && f.active(t))
}

/// The effects of the faults active at `t` on one request, drawn from `rng` (one draw per
/// active fault with a rate, in file order), and counted.
pub fn effects(
    faults: &[Fault],
    t: Duration,
    rng: &mut SplitMix64,
    counters: &Counters,
) -> Effects {
    let mut e = Effects::default();
    for f in faults.iter().filter(|f| f.active(t)) {
        match &f.kind {
            FaultKind::Down => {}
            FaultKind::Slow { extra, rate } => {
                if rng.unit() < *rate {
                    e.extra += extra.sample_duration(rng);
                    counters.fault_slow.fetch_add(1, Ordering::Relaxed);
                }
            }
            FaultKind::Status { code, rate } => {
                if rng.unit() < *rate && e.status.is_none() {
                    e.status = Some(*code);
                }
            }
            FaultKind::Reset { rate } => {
                if rng.unit() < *rate {
                    e.reset = true;
                }
            }
        }
    }
    e
}

/// A connection's socket, which a fault can reset: once the flag is set, reads and writes fail
/// and closing sends a TCP RST (zero linger) instead of a FIN.
pub struct FaultIo {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl FaultIo {
    pub fn new(inner: TcpStream, reset: Arc<AtomicBool>) -> FaultIo {
        FaultIo { inner, reset }
    }

    fn check(&self) -> Result<(), io::Error> {
        if self.reset.load(Ordering::Relaxed) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset by an injected fault",
            ))
        } else {
            Ok(())
        }
    }
}

/// Closes a socket with a RST.
pub fn reset_close(s: TcpStream) {
    let _ = s.set_zero_linger();
    drop(s);
}

impl Drop for FaultIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for FaultIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}
