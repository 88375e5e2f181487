//! Response bodies: empty, whole (small objects, generated at once), or streamed from the
//! content generator in chunks (large objects, never buffered whole). Bytes are counted as
//! they are handed to the connection; a streamed body can be cut short by a `reset` fault.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};

use super::content::fill_with_key;
use super::stats::{Counters, Slot};

/// Chunks of a streamed body; bodies up to this size are generated whole.
pub const CHUNK: u64 = 64 << 10;

pub struct Body {
    kind: Kind,
    /// Where the bytes are counted.
    count: Option<(Arc<Counters>, Slot)>,
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    Stream(Stream),
}

struct Stream {
    key: u64,
    pos: u64,
    end: u64,
    /// Where a `reset` fault cuts the body: the connection's flag is set there.
    cut: Option<(u64, Arc<AtomicBool>)>,
    /// A short pause at the cut, so that the bytes before it are flushed to the socket
    /// before the connection is reset (else the client might see no response at all).
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// How long a cut body waits before the reset.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

impl Body {
    pub fn empty() -> Body {
        Body {
            kind: Kind::Empty,
            count: None,
        }
    }

    /// A whole body that no counter sees (the stats themselves).
    pub fn uncounted(b: Bytes) -> Body {
        Body {
            kind: Kind::Full(Some(b)),
            count: None,
        }
    }

    /// A whole body, counted.
    pub fn full(b: Bytes, counters: Arc<Counters>, slot: Slot) -> Body {
        Body {
            kind: Kind::Full(Some(b)),
            count: Some((counters, slot)),
        }
    }

    /// The bytes `[start, end)` of the content with `key`: generated now if small, else
    /// streamed. With `cut`, the body stops at its middle and the connection is reset.
    pub fn content(
        key: u64,
        start: u64,
        end: u64,
        cut: Option<Arc<AtomicBool>>,
        counters: Arc<Counters>,
        slot: Slot,
    ) -> Body {
        let kind = match cut {
            None if end - start <= CHUNK => {
                let mut b = BytesMut::zeroed((end - start) as usize);
                fill_with_key(key, start, &mut b);
                Kind::Full(Some(b.freeze()))
            }
            cut => Kind::Stream(Stream {
                key,
                pos: start,
                end,
                cut: cut.map(|flag| (start + (end - start) / 2, flag)),
                pause: None,
            }),
        };
        Body {
            kind,
            count: Some((counters, slot)),
        }
    }

    fn counted(&self, n: usize) {
        if let Some((c, slot)) = &self.count {
            c.bytes(*slot, n as u64);
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let chunk = match &mut this.kind {
            Kind::Empty => None,
            Kind::Full(b) => b.take(),
            Kind::Stream(s) => {
                let stop = s.cut.as_ref().map_or(s.end, |c| c.0);
                if s.pos >= stop {
                    if let Some((_, flag)) = &s.cut {
                        let pause = s
                            .pause
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(PAUSE)));
                        if pause.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                        flag.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::ConnectionReset,
                            "reset by an injected fault",
                        ))));
                    }
                    None
                } else {
                    let n = (stop - s.pos).min(CHUNK) as usize;
                    let mut b = BytesMut::zeroed(n);
                    fill_with_key(s.key, s.pos, &mut b);
                    s.pos += n as u64;
                    Some(b.freeze())
                }
            }
        };
        Poll::Ready(chunk.map(|b| {
            this.counted(b.len());
            Ok(Frame::data(b))
        }))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(b) => b.is_none(),
            Kind::Stream(s) => s.cut.is_none() && s.pos >= s.end,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(s) => SizeHint::with_exact(s.end - s.pos),
        }
    }
}
