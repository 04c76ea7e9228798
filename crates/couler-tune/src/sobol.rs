//! Quasi-random search: a Sobol' sequence, scrambled by a random digital shift per study so that
//! seeds differ while every prefix of 2^k points keeps its even spread.

use crate::method::{Ledger, Method, Trial, TrialId};
use crate::rng::Rng;

/// Primitive polynomials and initial direction numbers for dimensions 2 to 21 (degree `s`,
/// coefficients `a`, initial `m`), after Joe and Kuo's published table.
const TABLE: [(u32, u32, &[u32]); 20] = [
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
    (6, 19, &[1, 1, 1, 15, 7, 5]),
    (6, 22, &[1, 3, 1, 15, 13, 25]),
    (6, 25, &[1, 1, 5, 5, 19, 61]),
    (7, 1, &[1, 3, 7, 11, 23, 15, 103]),
    (7, 4, &[1, 3, 7, 13, 13, 15, 69]),
];

/// The most dimensions the table covers; larger spaces fall back to random coordinates
/// beyond it.
pub const MAX_DIMS: usize = TABLE.len() + 1;

const BITS: usize = 32;

/// Direction numbers (left-aligned in 32 bits) of one dimension.
fn directions(dim: usize) -> [u32; BITS] {
    let mut v = [0u32; BITS];
    if dim == 0 {
        for (j, x) in v.iter_mut().enumerate() {
            *x = 1 << (31 - j);
        }
        return v;
    }
    let (s, a, m) = TABLE[dim - 1];
    let s = s as usize;
    for j in 0..BITS {
        v[j] = if j < s {
            m[j] << (31 - j)
        } else {
            let mut x = v[j - s] ^ (v[j - s] >> s);
            for k in 1..s {
                if (a >> (s - 1 - k)) & 1 == 1 {
                    x ^= v[j - k];
                }
            }
            x
        };
    }
    v
}

/// Points of a digitally shifted Sobol' sequence in `dims` dimensions.
#[derive(Clone, Debug)]
pub struct SobolSequence {
    dirs: Vec<[u32; BITS]>,
    shift: Vec<u32>,
    state: Vec<u32>,
    index: u64,
    rng: Rng,
}

impl SobolSequence {
    pub fn new(dims: usize, seed: u64) -> SobolSequence {
        let mut rng = Rng::new(seed ^ 0x5_0b01);
        let n = dims.min(MAX_DIMS);
        SobolSequence {
            dirs: (0..n).map(directions).collect(),
            shift: (0..n).map(|_| rng.next_u64() as u32).collect(),
            state: vec![0; n],
            index: 0,
            rng,
        }
    }

    /// The next point; coordinates past `MAX_DIMS` are uniform random.
    pub fn next_point(&mut self, dims: usize) -> Vec<f64> {
        let scale = 1.0 / (1u64 << 32) as f64;
        let mut p: Vec<f64> = self
            .state
            .iter()
            .zip(&self.shift)
            .map(|(x, s)| (x ^ s) as f64 * scale)
            .collect();
        p.extend((self.state.len()..dims).map(|_| self.rng.unit()));
        let c = (!self.index).trailing_zeros() as usize; // rightmost zero bit of the index
        for (x, d) in self.state.iter_mut().zip(&self.dirs) {
            *x ^= d[c.min(BITS - 1)];
        }
        self.index += 1;
        p
    }
}

/// Quasi-random search at full fidelity.
pub struct Sobol {
    dims: usize,
    seq: SobolSequence,
    ledger: Ledger,
}

impl Sobol {
    pub fn new(dims: usize, seed: u64) -> Sobol {
        Sobol {
            dims,
            seq: SobolSequence::new(dims, seed),
            ledger: Ledger::default(),
        }
    }
}

impl Method for Sobol {
    fn name(&self) -> &'static str {
        "sobol"
    }
    fn ask(&mut self, n: usize) -> Vec<Trial> {
        (0..n)
            .map(|_| self.ledger.open(self.seq.next_point(self.dims), 1.0))
            .collect()
    }
    fn tell(&mut self, id: TrialId, loss: f64) {
        self.ledger.close(id, loss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every dimension's first 2^k points put exactly one point in each of 2^k equal intervals,
    /// and every pair of dimensions puts 2^k points evenly into a 2^(k/2) × 2^(k/2) grid.
    #[test]
    fn prefixes_are_stratified_in_each_dimension_and_pair() {
        let dims = MAX_DIMS;
        let mut s = SobolSequence::new(dims, 11);
        let pts: Vec<Vec<f64>> = (0..1024).map(|_| s.next_point(dims)).collect();
        for d in 0..dims {
            let mut cells = vec![0; 1024];
            for p in &pts {
                cells[(p[d] * 1024.0) as usize] += 1;
            }
            assert!(
                cells.iter().all(|&c| c == 1),
                "dimension {d} is not stratified"
            );
        }
        for a in 0..dims {
            for b in a + 1..dims {
                let mut grid = vec![0; 16 * 16];
                for p in &pts[..256] {
                    grid[(p[a] * 16.0) as usize * 16 + (p[b] * 16.0) as usize] += 1;
                }
                let worst = grid.iter().map(|&c| (c - 1i32).abs()).max().unwrap();
                assert!(worst <= 3, "dimensions {a},{b}: a cell off by {worst}");
            }
        }
        let other: Vec<f64> = SobolSequence::new(dims, 12).next_point(dims);
        assert_ne!(other, pts[0], "seeds shift the sequence differently");
    }
}
