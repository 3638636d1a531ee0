//! The order of the candidates in each round: shuffled, reproducibly.
//!
//! A run can leave work for the kernel to finish after the runtime has
//! exited (a network namespace is torn down by a kernel worker, a cgroup
//! freed later), and whichever command runs next pays for it. In a fixed
//! order, or in a rotated one (rotating keeps the same neighbours), the
//! same candidate would always pay for the same other one; shuffled, each
//! pays for each in turn. The shuffle comes from a fixed seed, so that a
//! session can be repeated in the same order.

/// A small pseudo-random generator (xorshift64*): no dependency, and no
/// need for quality beyond "no pattern a scheduler could follow".
pub struct Shuffler {
    state: u64,
}

impl Shuffler {
    /// A generator from `seed` (0 is replaced: xorshift stays at 0).
    pub fn new(seed: u64) -> Shuffler {
        Shuffler { state: if seed == 0 { 0x9e37_79b9_7f4a_7c15 } else { seed } }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The indices 0..count in a new random order (Fisher–Yates).
    pub fn order(&mut self, count: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..count).collect();
        for i in (1..count).rev() {
            // The modulo's bias is at most count/2⁶⁴: nothing here.
            let j = (self.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_is_a_permutation() {
        let mut shuffler = Shuffler::new(1);
        for _ in 0..100 {
            let mut order = shuffler.order(6);
            order.sort_unstable();
            assert_eq!(order, [0, 1, 2, 3, 4, 5]);
        }
        assert!(shuffler.order(0).is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_orders() {
        let (mut a, mut b) = (Shuffler::new(7), Shuffler::new(7));
        for _ in 0..10 {
            assert_eq!(a.order(5), b.order(5));
        }
    }

    #[test]
    fn each_candidate_follows_each_other_one_in_some_round() {
        // Within a round, over 60 rounds of 4: every ordered pair (a right
        // before b) should occur, which a rotation would never give.
        let mut shuffler = Shuffler::new(1);
        let mut seen = [[false; 4]; 4];
        for _ in 0..60 {
            let order = shuffler.order(4);
            for pair in order.windows(2) {
                seen[pair[0]][pair[1]] = true;
            }
        }
        for (a, row) in seen.iter().enumerate() {
            for (b, &pair) in row.iter().enumerate() {
                assert!(a == b || pair, "{a} never ran right before {b}");
            }
        }
    }
}
