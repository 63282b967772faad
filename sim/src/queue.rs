//! The event queue: a total order by (time, insertion sequence), popped
//! earliest first. A calendar of fixed-width time buckets keeps the heap that
//! is actually sifted small (one bucket's events, hot in cache); events beyond
//! the calendar's horizon wait in an overflow heap. The order it yields is
//! exactly the (time, seq) order of one big heap — buckets only partition time.

use std::collections::BinaryHeap;

use celluler_core::time::TimeNs;

/// Bucket width 2^20 ns ≈ 1 ms.
const BUCKET_WIDTH_SHIFT: u32 = 20;
const BUCKET_WIDTH_NS: TimeNs = 1 << BUCKET_WIDTH_SHIFT;
/// 256 buckets ≈ 268 ms of horizon.
const BUCKETS: usize = 256;

/// What the queue orders: an item keyed by `(time_ns, seq)`. `Ord` must be
/// reversed (earliest greatest), as for `BinaryHeap`.
pub trait Keyed: Ord {
    fn time_ns(&self) -> TimeNs;
}

pub struct EventQueue<T: Keyed> {
    /// Events before `current_start_ns + BUCKET_WIDTH_NS`.
    current: BinaryHeap<T>,
    current_start_ns: TimeNs,
    /// Events in `[current_start + width, current_start + BUCKETS × width)`,
    /// in bucket `(time >> shift) % BUCKETS`, unordered.
    buckets: Vec<Vec<T>>,
    in_buckets: usize,
    /// Events at or beyond the horizon.
    overflow: BinaryHeap<T>,
}

impl<T: Keyed> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            current: BinaryHeap::new(),
            current_start_ns: 0,
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            in_buckets: 0,
            overflow: BinaryHeap::new(),
        }
    }
}

impl<T: Keyed> EventQueue<T> {
    pub fn len(&self) -> usize {
        self.current.len() + self.in_buckets + self.overflow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn horizon_ns(&self) -> TimeNs {
        self.current_start_ns
            .saturating_add(BUCKET_WIDTH_NS * BUCKETS as TimeNs)
    }

    pub fn push(&mut self, item: T) {
        let time_ns = item.time_ns();
        if time_ns < self.current_start_ns.saturating_add(BUCKET_WIDTH_NS) {
            self.current.push(item);
        } else if time_ns < self.horizon_ns() {
            self.buckets[(time_ns >> BUCKET_WIDTH_SHIFT) as usize % BUCKETS].push(item);
            self.in_buckets += 1;
        } else {
            self.overflow.push(item);
        }
    }

    /// Moves the window to the next non-empty bucket; false when empty.
    fn advance(&mut self) -> bool {
        if self.in_buckets == 0 {
            let Some(next) = self.overflow.peek() else {
                return false;
            };
            self.current_start_ns = next.time_ns() & !(BUCKET_WIDTH_NS - 1);
        } else {
            self.current_start_ns = self.current_start_ns.saturating_add(BUCKET_WIDTH_NS);
        }
        let bucket =
            &mut self.buckets[(self.current_start_ns >> BUCKET_WIDTH_SHIFT) as usize % BUCKETS];
        self.in_buckets -= bucket.len();
        self.current.extend(bucket.drain(..));
        let window_end_ns = self.current_start_ns.saturating_add(BUCKET_WIDTH_NS);
        while self
            .overflow
            .peek()
            .is_some_and(|item| item.time_ns() < window_end_ns)
        {
            self.current.push(self.overflow.pop().expect("peeked"));
        }
        true
    }

    /// The earliest item, if it is at or before `end_ns`.
    pub fn pop_until(&mut self, end_ns: TimeNs) -> Option<T> {
        loop {
            if let Some(first) = self.current.peek() {
                return if first.time_ns() <= end_ns {
                    self.current.pop()
                } else {
                    None
                };
            }
            // Everything in buckets and overflow lies at or after the window's
            // end: if that is past `end_ns`, nothing is due.
            if self.current_start_ns.saturating_add(BUCKET_WIDTH_NS) > end_ns {
                return None;
            }
            if !self.advance() {
                return None;
            }
        }
    }

    pub fn pop(&mut self) -> Option<T> {
        self.pop_until(TimeNs::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use celluler_core::rng;

    #[derive(Debug, PartialEq, Eq)]
    struct Item(TimeNs, u64);
    impl Ord for Item {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            (other.0, other.1).cmp(&(self.0, self.1))
        }
    }
    impl PartialOrd for Item {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Keyed for Item {
        fn time_ns(&self) -> TimeNs {
            self.0
        }
    }

    /// Interleaved pushes and pops give exactly the order of one big heap.
    #[test]
    fn matches_a_plain_heap() {
        let mut rng = rng::stream(1, "queue-test", 0);
        let mut queue = EventQueue::default();
        let mut reference = BinaryHeap::new();
        let mut now = 0;
        let mut seq = 0;
        for round in 0..200_000u64 {
            if round % 3 != 2 {
                let spread =
                    [10, BUCKET_WIDTH_NS * 3, BUCKET_WIDTH_NS * 1_000][rng::index(&mut rng, 3)];
                let time = now + rng::below(&mut rng, spread);
                queue.push(Item(time, seq));
                reference.push(Item(time, seq));
                seq += 1;
            } else {
                let end = now + rng::below(&mut rng, BUCKET_WIDTH_NS * 2);
                let expected = reference
                    .peek()
                    .is_some_and(|i| i.0 <= end)
                    .then(|| reference.pop().unwrap());
                let got = queue.pop_until(end);
                assert_eq!(got, expected);
                if let Some(item) = got {
                    now = item.0;
                }
            }
            assert_eq!(queue.len(), reference.len());
        }
        while let Some(expected) = reference.pop() {
            assert_eq!(queue.pop(), Some(expected));
        }
        assert!(queue.is_empty() && queue.pop().is_none());
    }
}
