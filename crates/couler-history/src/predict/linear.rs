//! Ridge regression by the normal equations: small, dense, solved by Gaussian elimination.

/// Coefficients `β` minimising `|Xβ − y|² + λ|β₁..|²` (the intercept, column 0, unpenalised);
/// `None` when the system is singular.
pub(crate) fn ridge(rows: &[Vec<f64>], y: &[f64], lambda: f64) -> Option<Vec<f64>> {
    let d = rows.first()?.len();
    let mut a = vec![vec![0.0; d + 1]; d];
    for (x, &yi) in rows.iter().zip(y) {
        for (row, xi) in a.iter_mut().zip(x) {
            for (cell, xj) in row.iter_mut().zip(x) {
                *cell += xi * xj;
            }
            row[d] += xi * yi;
        }
    }
    for (i, row) in a.iter_mut().enumerate().skip(1) {
        row[i] += lambda;
    }
    solve(a)
}

/// Solves the augmented system `a` (d × d+1) with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let d = a.len();
    for c in 0..d {
        let p = (c..d).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        let pivot = a[c].clone();
        for (_, row) in a.iter_mut().enumerate().filter(|(r, _)| *r != c) {
            let k = row[c] / pivot[c];
            for (x, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                *x -= k * p;
            }
        }
    }
    Some((0..d).map(|i| a[i][d] / a[i][i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_line() {
        let rows: Vec<Vec<f64>> = (0..10).map(|i| vec![1.0, f64::from(i)]).collect();
        let y: Vec<f64> = (0..10).map(|i| 3.0 + 2.0 * f64::from(i)).collect();
        let b = ridge(&rows, &y, 0.0).unwrap();
        assert!(
            (b[0] - 3.0).abs() < 1e-9 && (b[1] - 2.0).abs() < 1e-9,
            "{b:?}"
        );
    }

    #[test]
    fn a_singular_system_has_no_solution() {
        let rows = vec![vec![1.0, 0.0]; 4];
        assert_eq!(ridge(&rows, &[1.0; 4], 0.0), None);
    }
}
