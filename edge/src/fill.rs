//! Request collapsing: one origin fetch per key in flight, its body streamed to every viewer
//! waiting for it as the chunks arrive.
//!
//! A `Fill` is the shared state of one fetch: the response head once known, the chunks so far
//! (kept while the body may still be stored, so late joiners get the whole body), and one
//! unbounded channel per reader. Channels are unbounded so that a slow viewer never slows the
//! fetch or the other viewers; what one can buffer is bounded by `max_object_size` while the
//! fill is joinable, and by the single reader afterwards.

use crate::body::Chunk;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

/// What every reader of a fill is answered with before the body.
#[derive(Debug)]
pub struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The X-Cache result the first viewer gets (`Miss`, `RefreshHit`, `StaleHit`, `Error`).
    pub result: crate::proxy::CacheResult,
    /// Whether the edge keeps this response (stores it, or serves it from a stored entry), as
    /// decided at the head: then it answers viewers' ranges itself, from the whole body.
    pub kept: bool,
}

#[derive(Default)]
struct State {
    head: Option<Arc<Head>>,
    head_waiters: Vec<oneshot::Sender<Arc<Head>>>,
    chunks: Vec<Bytes>,
    /// Whether new readers may still join: false once the body outgrew what is buffered.
    closed_to_joiners: bool,
    finished: bool,
    readers: Vec<UnboundedSender<Chunk>>,
}

pub struct Fill {
    state: Mutex<State>,
}

/// A reader's view of a fill: the head when it is known, then the body.
pub struct Subscription {
    pub head: oneshot::Receiver<Arc<Head>>,
    pub body: UnboundedReceiver<Chunk>,
}

impl Fill {
    fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated in a way that
        // matters more than losing the fill: recover the guard.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fill read by one viewer only (collapsing off, or no room to join).
    pub fn private() -> (Arc<Fill>, Subscription) {
        let fill = Arc::new(Fill::new());
        let sub = fill.subscribe().expect("a new fill takes readers");
        (fill, sub)
    }

    /// Adds a reader; `None` if the fill no longer takes joiners.
    fn subscribe(&self) -> Option<Subscription> {
        let mut s = self.lock();
        if s.closed_to_joiners {
            return None;
        }
        let (head_tx, head_rx) = oneshot::channel();
        let (tx, rx) = unbounded_channel();
        match &s.head {
            Some(h) => {
                let _ = head_tx.send(h.clone());
            }
            None => s.head_waiters.push(head_tx),
        }
        for c in &s.chunks {
            let _ = tx.send(Ok(c.clone()));
        }
        if !s.finished {
            s.readers.push(tx);
        }
        Some(Subscription {
            head: head_rx,
            body: rx,
        })
    }

    /// Publishes the response head to every reader, present and future.
    pub fn set_head(&self, head: Head) {
        let head = Arc::new(head);
        let mut s = self.lock();
        for w in s.head_waiters.drain(..) {
            let _ = w.send(head.clone());
        }
        s.head = Some(head);
    }

    /// Sends a body chunk to every reader; keeps it for late joiners while `buffer` holds.
    /// Returns whether anyone may still read the body: a reader is left, or joiners may come.
    pub fn push(&self, chunk: Bytes, buffer: bool) -> bool {
        let mut s = self.lock();
        if buffer && !s.closed_to_joiners {
            s.chunks.push(chunk.clone());
        } else if !s.closed_to_joiners {
            s.closed_to_joiners = true;
            s.chunks = Vec::new();
        }
        // Drop readers that went away (viewer disconnected) as we go.
        s.readers.retain(|r| r.send(Ok(chunk.clone())).is_ok());
        !s.readers.is_empty() || !s.closed_to_joiners
    }

    /// Ends the body for every reader, with an error if the fetch broke.
    pub fn finish(&self, error: Option<std::io::Error>) {
        let mut s = self.lock();
        s.finished = true;
        s.closed_to_joiners = true;
        s.chunks = Vec::new();
        if let Some(e) = error {
            for r in &s.readers {
                let _ = r.send(Err(std::io::Error::new(e.kind(), e.to_string())));
            }
        }
        s.readers.clear();
        s.head_waiters.clear();
    }
}

/// The fetches in flight, by key hash.
#[derive(Default)]
pub struct Inflight {
    map: Mutex<FxHashMap<u64, (Arc<Fill>, usize)>>,
}

/// The outcome of asking to read a key's fetch.
pub enum Join {
    /// No fetch was in flight: the caller must start it (`Fill`) and reads it too.
    Lead(Arc<Fill>, Subscription),
    /// Joined the fetch another request started.
    Follow(Subscription),
    /// A fetch is in flight but cannot take this reader (too many waiters, or its body is no
    /// longer buffered): the caller fetches on its own.
    Alone,
}

impl Inflight {
    /// Joins the fetch of `hash` or becomes its leader. At most `max_waiters` followers.
    pub fn join(&self, hash: u64, max_waiters: usize) -> Join {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((fill, waiters)) = map.get_mut(&hash) {
            if *waiters >= max_waiters {
                return Join::Alone;
            }
            return match fill.subscribe() {
                Some(sub) => {
                    *waiters += 1;
                    Join::Follow(sub)
                }
                None => Join::Alone,
            };
        }
        let fill = Arc::new(Fill::new());
        let sub = fill.subscribe().expect("a new fill takes readers");
        map.insert(hash, (fill.clone(), 0));
        Join::Lead(fill, sub)
    }

    /// Whether a fetch of `hash` is in flight.
    pub fn contains(&self, hash: u64) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&hash)
    }

    /// Registers a fetch nobody reads (a background revalidation); `None` if one is in flight.
    pub fn start_unread(&self, hash: u64) -> Option<Arc<Fill>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.contains_key(&hash) {
            return None;
        }
        let fill = Arc::new(Fill::new());
        map.insert(hash, (fill.clone(), 0));
        Some(fill)
    }

    /// Forgets the fetch of `hash` if it is `fill` (new requests then start their own).
    pub fn done(&self, hash: u64, fill: &Arc<Fill>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&hash).is_some_and(|(f, _)| Arc::ptr_eq(f, fill)) {
            map.remove(&hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::CacheResult;

    fn head() -> Head {
        Head {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            result: CacheResult::Miss,
            kept: true,
        }
    }

    async fn drain(mut s: Subscription) -> (StatusCode, Vec<u8>) {
        let h = s.head.await.unwrap();
        let mut out = Vec::new();
        while let Some(c) = s.body.recv().await {
            out.extend_from_slice(&c.unwrap());
        }
        (h.status, out)
    }

    #[tokio::test]
    async fn leader_and_late_joiners_get_the_whole_body() {
        let inflight = Inflight::default();
        let Join::Lead(fill, lead) = inflight.join(7, 10) else {
            panic!()
        };
        fill.set_head(head());
        fill.push(Bytes::from_static(b"ab"), true);
        let Join::Follow(late) = inflight.join(7, 10) else {
            panic!()
        };
        fill.push(Bytes::from_static(b"cd"), true);
        fill.finish(None);
        inflight.done(7, &fill);
        assert_eq!(drain(lead).await.1, b"abcd");
        assert_eq!(drain(late).await.1, b"abcd");
        assert!(!inflight.contains(7));
    }

    #[tokio::test]
    async fn waiters_are_bounded_and_unbuffered_fills_refuse_joiners() {
        let inflight = Inflight::default();
        let Join::Lead(fill, _lead) = inflight.join(1, 1) else {
            panic!()
        };
        assert!(matches!(inflight.join(1, 1), Join::Follow(_)));
        assert!(matches!(inflight.join(1, 1), Join::Alone));
        let Join::Lead(fill2, _l2) = inflight.join(2, 5) else {
            panic!()
        };
        fill2.push(Bytes::from_static(b"x"), false);
        assert!(matches!(inflight.join(2, 5), Join::Alone));
        drop(fill);
    }

    #[tokio::test]
    async fn push_tells_whether_anyone_may_still_read() {
        let (fill, sub) = Fill::private();
        fill.set_head(head());
        assert!(fill.push(Bytes::from_static(b"a"), false));
        drop(sub);
        assert!(
            !fill.push(Bytes::from_static(b"b"), false),
            "the reader left"
        );
        let inflight = Inflight::default();
        let Join::Lead(fill, lead) = inflight.join(3, 5) else {
            panic!()
        };
        drop(lead);
        assert!(
            fill.push(Bytes::from_static(b"a"), true),
            "buffered: joiners may come"
        );
        assert!(!fill.push(Bytes::from_static(b"b"), false));
    }
}
