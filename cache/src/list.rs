//! Doubly-linked lists threaded through one slab of nodes, addressed by `u32` index.
//!
//! Policies keep a [`SlotIndex`](crate::index::SlotIndex) from id to node and move nodes
//! between lists (S3-FIFO's small and main queues, ARC's four lists) without allocating.
//! Indices stay valid until `free`: they are the slots [`Policy::slot`](crate::Policy::slot)
//! reports.

pub const NIL: u32 = u32::MAX;

/// Pushes `x` onto `v`, growing a full `v` by a quarter rather than doubling it. A policy's
/// vectors grow to the most objects it has held at once and keep that size, so doubling could
/// leave up to half of each unused for good; a quarter wastes at most a fifth. Pushing stays
/// amortised O(1) (and large vectors are usually grown in place by `realloc`).
#[inline]
pub fn push_compact<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        grow_by_quarter(v);
    }
    v.push(x);
}

#[cold]
fn grow_by_quarter<T>(v: &mut Vec<T>) {
    v.reserve_exact((v.len() / 4).max(16));
}

#[derive(Clone, Debug)]
struct Node<T> {
    prev: u32,
    next: u32,
    val: T,
}

/// The ends of one list whose nodes live in a [`Slab`]. `head` is the most recently pushed end.
#[derive(Clone, Copy, Debug)]
pub struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl Default for List {
    fn default() -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

impl List {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The most recently pushed node.
    pub fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }
    /// The oldest node: the eviction end.
    pub fn tail(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }
}

/// Storage for the nodes of any number of [`List`]s.
#[derive(Clone, Debug, Default)]
pub struct Slab<T> {
    nodes: Vec<Node<T>>,
    free: Vec<u32>,
}

impl<T> Slab<T> {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(n),
            free: Vec::new(),
        }
    }

    /// A new node holding `val`, on no list yet.
    pub fn alloc(&mut self, val: T) -> u32 {
        let node = Node {
            prev: NIL,
            next: NIL,
            val,
        };
        if let Some(i) = self.free.pop() {
            self.nodes[i as usize] = node;
            i
        } else {
            push_compact(&mut self.nodes, node);
            u32::try_from(self.nodes.len() - 1).expect("more than 2^32 cached objects")
        }
    }

    /// Returns node `i` to the free pool. It must already be unlinked from its list.
    pub fn free(&mut self, i: u32) {
        self.free.push(i);
    }

    #[inline]
    pub fn get(&self, i: u32) -> &T {
        &self.nodes[i as usize].val
    }

    #[inline]
    pub fn get_mut(&mut self, i: u32) -> &mut T {
        &mut self.nodes[i as usize].val
    }

    /// The node after `i` toward the tail, if any.
    #[inline]
    pub fn next_toward_tail(&self, i: u32) -> Option<u32> {
        let n = self.nodes[i as usize].next;
        (n != NIL).then_some(n)
    }

    /// The node before `i` toward the head, if any.
    #[inline]
    pub fn prev_toward_head(&self, i: u32) -> Option<u32> {
        let p = self.nodes[i as usize].prev;
        (p != NIL).then_some(p)
    }

    /// Links unlinked node `i` at the head of `list`.
    #[inline]
    pub fn push_head(&mut self, list: &mut List, i: u32) {
        let old = list.head;
        {
            let n = &mut self.nodes[i as usize];
            n.prev = NIL;
            n.next = old;
        }
        if old != NIL {
            self.nodes[old as usize].prev = i;
        } else {
            list.tail = i;
        }
        list.head = i;
        list.len += 1;
    }

    /// Unlinks node `i` from `list`, which must be the list it is on.
    #[inline]
    pub fn unlink(&mut self, list: &mut List, i: u32) {
        let (prev, next) = {
            let n = &self.nodes[i as usize];
            (n.prev, n.next)
        };
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            list.head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            list.tail = prev;
        }
        list.len -= 1;
    }

    /// Moves node `i`, on `list`, to its head.
    #[inline]
    pub fn move_to_head(&mut self, list: &mut List, i: u32) {
        if list.head != i {
            self.unlink(list, i);
            self.push_head(list, i);
        }
    }

    /// Unlinks and returns the tail of `list`; the node is not freed.
    #[inline]
    pub fn pop_tail(&mut self, list: &mut List) -> Option<u32> {
        let t = list.tail()?;
        self.unlink(list, t);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &Slab<u64>, l: &List) -> Vec<u64> {
        let mut out = vec![];
        let mut cur = l.head();
        while let Some(i) = cur {
            out.push(*s.get(i));
            cur = s.next_toward_tail(i);
        }
        out
    }

    #[test]
    fn push_move_pop_and_reuse() {
        let mut s = Slab::default();
        let mut a = List::default();
        let mut b = List::default();
        let ids: Vec<u32> = (1..=4).map(|v| s.alloc(v)).collect();
        for &i in &ids {
            s.push_head(&mut a, i);
        }
        assert_eq!(collect(&s, &a), vec![4, 3, 2, 1]);
        s.move_to_head(&mut a, ids[0]);
        assert_eq!(collect(&s, &a), vec![1, 4, 3, 2]);
        let t = s.pop_tail(&mut a).unwrap();
        assert_eq!(*s.get(t), 2);
        s.push_head(&mut b, t);
        assert_eq!((a.len(), b.len()), (3, 1));
        s.unlink(&mut a, ids[3]);
        s.free(ids[3]);
        assert_eq!(collect(&s, &a), vec![1, 3]);
        let r = s.alloc(9);
        assert_eq!(r, ids[3], "freed slots are reused");
        assert_eq!(s.prev_toward_head(ids[2]), Some(ids[0]));
    }
}
