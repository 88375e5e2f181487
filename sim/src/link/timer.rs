//! A sleep precise to about a tenth of a millisecond, for the links' delays and pacing.
//!
//! Tokio's timer wheel has a 1 ms tick and rounds every deadline up to it, and the I/O
//! driver's wait rounds up to a millisecond again: a sleep ends on average about 1 ms late,
//! which on a link is a round trip 2–3 ms longer than asked. Here one process-wide thread
//! keeps the pending deadlines in a heap and sleeps until the earliest with the kernel's
//! nanosecond-resolution wait (`thread::park_timeout`, a futex), then wakes the tasks due.
//! The thread is started on first use and lives as long as the process.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::Instant;

/// Sleeps until `deadline`, returning at once if it has passed.
pub fn sleep_until(deadline: tokio::time::Instant) -> Sleep {
    Sleep {
        deadline: deadline.into_std(),
        entry: None,
    }
}

pub struct Sleep {
    deadline: Instant,
    entry: Option<Arc<Entry>>,
}

struct Entry {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct Pending {
    deadline: Instant,
    seq: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.deadline, self.seq) == (o.deadline, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(o.deadline, o.seq))
    }
}

struct Wheel {
    heap: Mutex<(BinaryHeap<Reverse<Pending>>, u64)>,
    thread: Thread,
}

fn wheel() -> &'static Wheel {
    static WHEEL: OnceLock<Wheel> = OnceLock::new();
    WHEEL.get_or_init(|| {
        let handle = std::thread::Builder::new()
            .name("cdnlab-link-timer".into())
            .spawn(|| {
                // Wait until the wheel is published, then serve it forever.
                let w = loop {
                    if let Some(w) = WHEEL.get() {
                        break w;
                    }
                    std::thread::park();
                };
                run(w)
            })
            .expect("starting the link timer thread");
        let thread = handle.thread().clone();
        Wheel {
            heap: Mutex::new((BinaryHeap::new(), 0)),
            thread,
        }
    })
}

fn run(w: &Wheel) -> ! {
    let mut due = Vec::new();
    loop {
        let next = {
            let mut h = w.heap.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            while let Some(Reverse(p)) = h.0.peek() {
                if p.deadline > now {
                    break;
                }
                due.push(h.0.pop().expect("peeked").0.entry);
            }
            h.0.peek().map(|Reverse(p)| p.deadline)
        };
        for e in due.drain(..) {
            e.fired.store(true, Ordering::Release);
            let waker = e.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        match next {
            Some(t) => std::thread::park_timeout(t.saturating_duration_since(Instant::now())),
            None => std::thread::park(),
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(e) = &self.entry {
            if e.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            let mut w = e.waker.lock().unwrap_or_else(|e| e.into_inner());
            // Re-check under the lock: the timer thread sets `fired` before taking the waker.
            if e.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            match &mut *w {
                Some(old) if old.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let entry = Arc::new(Entry {
            fired: AtomicBool::new(false),
            waker: Mutex::new(Some(cx.waker().clone())),
        });
        let w = wheel();
        let earliest = {
            let mut h = w.heap.lock().unwrap_or_else(|e| e.into_inner());
            h.1 += 1;
            let seq = h.1;
            let earliest =
                h.0.peek()
                    .is_none_or(|Reverse(p)| self.deadline < p.deadline);
            h.0.push(Reverse(Pending {
                deadline: self.deadline,
                seq,
                entry: entry.clone(),
            }));
            earliest
        };
        if earliest {
            w.thread.unpark();
        }
        self.entry = Some(entry);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sleeps_end_within_a_fraction_of_a_millisecond() {
        let mut late = Vec::new();
        for i in 0..40u64 {
            let d = tokio::time::Instant::now() + Duration::from_micros(500 + i * 97);
            sleep_until(d).await;
            let now = tokio::time::Instant::now();
            assert!(now >= d);
            late.push(now - d);
        }
        late.sort();
        let p50 = late[late.len() / 2];
        println!(
            "precise sleep lateness: p50 {p50:?}, max {:?}",
            late.last().unwrap()
        );
        assert!(p50 < Duration::from_micros(500), "{late:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_sleeps_at_once_all_end_in_order() {
        let t0 = tokio::time::Instant::now();
        let mut tasks = Vec::new();
        for i in (0..200u64).rev() {
            let d = t0 + Duration::from_micros(1000 + i * 50);
            tasks.push(tokio::spawn(async move {
                sleep_until(d).await;
                tokio::time::Instant::now() >= d
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap());
        }
        // A sleep dropped before its deadline is harmless.
        let s = sleep_until(t0 + Duration::from_secs(60));
        let _ = tokio::time::timeout(Duration::from_millis(1), s).await;
    }
}
