//! The one body type the proxy sends and receives: empty, whole, streamed from a fill (whole
//! or a byte range of it), or a peer's incoming body passed through.

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::sync::mpsc::UnboundedReceiver;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A chunk of a streamed body, or the error that cut it short.
pub type Chunk = Result<Bytes, std::io::Error>;

pub enum Body {
    Empty,
    Full(Option<Bytes>),
    /// Chunks pushed by an origin fetch (see `fill`), in order; the sender's drop ends it.
    /// The counter, if any, counts the bytes as they go out.
    Channel(UnboundedReceiver<Chunk>, Option<metrics::Counter>),
    Incoming(hyper::body::Incoming, Option<metrics::Counter>),
    /// A byte range of the chunks pushed by an origin fetch: what a `206` sends on a miss
    /// while the fill goes on with the whole body for the cache and for other viewers.
    Window(Window),
}

/// The bytes `skip .. skip + len` of a streamed body.
pub struct Window {
    rx: UnboundedReceiver<Chunk>,
    counter: Option<metrics::Counter>,
    skip: u64,
    remaining: u64,
}

impl Body {
    pub fn full(b: Bytes) -> Self {
        if b.is_empty() {
            Body::Empty
        } else {
            Body::Full(Some(b))
        }
    }

    /// The `len` bytes from offset `skip` of the chunks `rx` receives. If they end before,
    /// the body ends with an error (never a short body passed off as whole).
    pub fn window(
        rx: UnboundedReceiver<Chunk>,
        counter: Option<metrics::Counter>,
        skip: u64,
        len: u64,
    ) -> Self {
        Body::Window(Window {
            rx,
            counter,
            skip,
            remaining: len,
        })
    }
}

impl Window {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        while self.remaining > 0 {
            let mut b = match ready!(self.rx.poll_recv(cx)) {
                None => {
                    self.remaining = 0;
                    let e = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the body ended before the requested range",
                    );
                    return Poll::Ready(Some(Err(e.into())));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(b)) => b,
            };
            let n = b.len() as u64;
            if self.skip >= n {
                self.skip -= n;
                continue;
            }
            // Both casts are below `b.len()`, a usize.
            b = b.slice(self.skip as usize..);
            self.skip = 0;
            if b.len() as u64 > self.remaining {
                b.truncate(self.remaining as usize);
            }
            self.remaining -= b.len() as u64;
            count(&self.counter, b.len());
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        Poll::Ready(None)
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel(rx, counter) => rx.poll_recv(cx).map(|c| {
                c.map(|c| {
                    c.map(|b| {
                        count(counter, b.len());
                        Frame::data(b)
                    })
                    .map_err(Into::into)
                })
            }),
            Body::Incoming(b, counter) => Pin::new(b).poll_frame(cx).map(|f| {
                f.map(|f| {
                    f.inspect(|f| {
                        if let Some(d) = f.data_ref() {
                            count(counter, d.len());
                        }
                    })
                    .map_err(Into::into)
                })
            }),
            Body::Window(w) => w.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Channel(..) => false,
            Body::Incoming(b, _) => b.is_end_stream(),
            Body::Window(w) => w.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Channel(..) => SizeHint::default(),
            Body::Incoming(b, _) => b.size_hint(),
            Body::Window(w) => SizeHint::with_exact(w.remaining),
        }
    }
}

fn count(counter: &Option<metrics::Counter>, n: usize) {
    if let Some(c) = counter {
        c.increment(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc::unbounded_channel;

    async fn window(chunks: &[&[u8]], skip: u64, len: u64) -> Result<Vec<u8>, BoxError> {
        let (tx, rx) = unbounded_channel();
        for c in chunks {
            tx.send(Ok(Bytes::copy_from_slice(c))).unwrap();
        }
        drop(tx);
        let body = Body::window(rx, None, skip, len);
        assert_eq!(body.size_hint().exact(), Some(len));
        body.collect().await.map(|c| c.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn a_window_cuts_across_chunks() {
        let chunks: [&[u8]; 4] = [b"abc", b"", b"defg", b"hij"];
        let whole = b"abcdefghij";
        for skip in 0..10u64 {
            for len in 1..=10 - skip {
                let got = window(&chunks, skip, len).await.unwrap();
                assert_eq!(got, &whole[skip as usize..(skip + len) as usize]);
            }
        }
    }

    #[tokio::test]
    async fn a_window_past_the_end_is_an_error() {
        assert!(window(&[b"abc"], 1, 3).await.is_err());
        assert!(window(&[b"abc"], 5, 1).await.is_err());
    }
}
