//! Search spaces: the parameters a study tunes, and the map between a parameter's values and
//! the unit interval in which every method works.

use std::fmt;

/// The values one parameter may take.
#[derive(Clone, Debug, PartialEq)]
pub enum Domain {
    /// A real number in `[low, high]`; `log` spreads draws evenly over the logarithm.
    Float { low: f64, high: f64, log: bool },
    /// An integer in `[low, high]`; `log` as for floats.
    Int { low: i64, high: i64, log: bool },
    /// One of the listed choices.
    Categorical(Vec<String>),
}

/// A tuned parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub domain: Domain,
}

/// The fidelity a multi-fidelity method varies (epochs, say): an integer or real from `min` to
/// `max`, where `max` is the full evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Fidelity {
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub integer: bool,
}

/// A parameter's value in a configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Float(f64),
    Int(i64),
    Choice(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(x) => write!(f, "{x}"),
            Value::Int(x) => write!(f, "{x}"),
            Value::Choice(s) => f.write_str(s),
        }
    }
}

/// Why a space cannot be searched.
#[derive(Clone, Debug, PartialEq)]
pub struct SpaceError {
    pub param: String,
    pub message: String,
}

impl fmt::Display for SpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tune parameter `{}`: {}", self.param, self.message)
    }
}

impl std::error::Error for SpaceError {}

/// What a study searches: its parameters, in order, and an optional fidelity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Space {
    pub params: Vec<Param>,
    pub fidelity: Option<Fidelity>,
}

impl Space {
    /// Checks every domain: bounds in order, positive bounds under `log`, choices present and
    /// distinct, names distinct.
    pub fn check(&self) -> Result<(), SpaceError> {
        let err = |p: &str, m: String| {
            Err(SpaceError {
                param: p.to_string(),
                message: m,
            })
        };
        if self.params.is_empty() {
            return err(
                "",
                "the search space has no parameters; add at least one".into(),
            );
        }
        for (i, p) in self.params.iter().enumerate() {
            if self.params[..i].iter().any(|q| q.name == p.name) {
                return err(
                    &p.name,
                    "named twice; give each parameter its own name".into(),
                );
            }
            match &p.domain {
                Domain::Float { low, high, log } => {
                    if !(low.is_finite() && high.is_finite() && low < high) {
                        return err(
                            &p.name,
                            format!("needs low < high, both finite (got {low} and {high})"),
                        );
                    }
                    if *log && *low <= 0.0 {
                        return err(&p.name, format!("a log scale needs low > 0 (got {low})"));
                    }
                }
                Domain::Int { low, high, log } => {
                    if low > high {
                        return err(&p.name, format!("needs low <= high (got {low} and {high})"));
                    }
                    if *log && *low <= 0 {
                        return err(&p.name, format!("a log scale needs low >= 1 (got {low})"));
                    }
                }
                Domain::Categorical(cs) => {
                    if cs.is_empty() {
                        return err(&p.name, "lists no choices".into());
                    }
                    if let Some(c) = cs.iter().enumerate().find(|(i, c)| cs[..*i].contains(c)) {
                        return err(&p.name, format!("lists the choice `{}` twice", c.1));
                    }
                }
            }
        }
        if let Some(f) = &self.fidelity
            && !(f.min > 0.0 && f.min < f.max && f.max.is_finite())
        {
            return err(
                &f.name,
                format!("fidelity needs 0 < min < max (got {} and {})", f.min, f.max),
            );
        }
        Ok(())
    }

    /// The number of tuned parameters.
    pub fn dims(&self) -> usize {
        self.params.len()
    }

    /// The configuration at unit coordinates `u` (one per parameter, each in `[0, 1)`).
    pub fn decode(&self, u: &[f64]) -> Vec<Value> {
        self.params
            .iter()
            .zip(u)
            .map(|(p, &x)| p.domain.decode(x))
            .collect()
    }

    /// The unit coordinates at the middle of the cell a configuration's values fall in (the
    /// inverse of `decode`, for proposals that arrive as values).
    pub fn encode(&self, values: &[Value]) -> Option<Vec<f64>> {
        if values.len() != self.params.len() {
            return None;
        }
        self.params
            .iter()
            .zip(values)
            .map(|(p, v)| p.domain.encode(v))
            .collect()
    }

    /// The fidelity value at a fraction `f` of the full one (1.0 = `max`), rounded for integers.
    pub fn fidelity_at(&self, f: f64) -> Option<f64> {
        let fid = self.fidelity.as_ref()?;
        let x = (fid.max * f).clamp(fid.min, fid.max);
        Some(if fid.integer { x.round() } else { x })
    }
}

impl Domain {
    /// The value at `u` in `[0, 1)`: uniform or log-uniform over the range, integers and
    /// choices each owning an equal share.
    pub fn decode(&self, u: f64) -> Value {
        let u = u.clamp(0.0, 1.0);
        match self {
            Domain::Float {
                low,
                high,
                log: false,
            } => Value::Float(low + u * (high - low)),
            Domain::Float {
                low,
                high,
                log: true,
            } => Value::Float(
                (low.ln() + u * (high.ln() - low.ln()))
                    .exp()
                    .clamp(*low, *high),
            ),
            Domain::Int { low, high, log } => {
                let (a, b) = (*low as f64 - 0.5, *high as f64 + 0.5);
                let x = if *log {
                    (a.ln() + u * (b.ln() - a.ln())).exp()
                } else {
                    a + u * (b - a)
                };
                Value::Int((x.round() as i64).clamp(*low, *high))
            }
            Domain::Categorical(cs) => {
                Value::Choice(cs[((u * cs.len() as f64) as usize).min(cs.len() - 1)].clone())
            }
        }
    }

    /// The unit coordinate of a value (the middle of its cell for integers and choices).
    pub fn encode(&self, v: &Value) -> Option<f64> {
        let unit = |x: f64, a: f64, b: f64, log: bool| {
            let u = if log {
                (x.ln() - a.ln()) / (b.ln() - a.ln())
            } else {
                (x - a) / (b - a)
            };
            (u.is_finite() && (-1e-9..=1.0 + 1e-9).contains(&u)).then(|| u.clamp(0.0, 1.0))
        };
        match (self, v) {
            (Domain::Float { low, high, log }, Value::Float(x)) => unit(*x, *low, *high, *log),
            (Domain::Float { low, high, log }, Value::Int(x)) => unit(*x as f64, *low, *high, *log),
            (Domain::Int { low, high, log }, Value::Int(x)) => {
                unit(*x as f64, *low as f64 - 0.5, *high as f64 + 0.5, *log)
            }
            (Domain::Categorical(cs), Value::Choice(c)) => {
                let i = cs.iter().position(|x| x == c)?;
                Some((i as f64 + 0.5) / cs.len() as f64)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, domain: Domain) -> Param {
        Param {
            name: name.into(),
            domain,
        }
    }

    #[test]
    fn decode_covers_each_domain_evenly_and_encode_inverts_it() {
        let d = Domain::Int {
            low: 1,
            high: 4,
            log: false,
        };
        let mut counts = [0; 4];
        for i in 0..4000 {
            let Value::Int(v) = d.decode(i as f64 / 4000.0) else {
                panic!()
            };
            counts[(v - 1) as usize] += 1;
        }
        assert_eq!(counts, [1000; 4]);
        let l = Domain::Float {
            low: 1e-4,
            high: 1e-1,
            log: true,
        };
        let Value::Float(mid) = l.decode(0.5) else {
            panic!()
        };
        assert!(
            (mid - (1e-4f64 * 1e-1).sqrt()).abs() < 1e-15,
            "the geometric middle: {mid}"
        );
        for v in [Value::Float(3e-3), Value::Float(0.05)] {
            let Value::Float(x) = l.decode(l.encode(&v).unwrap()) else {
                panic!()
            };
            let Value::Float(y) = v else { panic!() };
            assert!((x - y).abs() < 1e-12);
        }
        let li = Domain::Int {
            low: 16,
            high: 512,
            log: true,
        };
        for k in [16, 17, 100, 511, 512] {
            assert_eq!(li.decode(li.encode(&Value::Int(k)).unwrap()), Value::Int(k));
        }
        let c = Domain::Categorical(vec!["a".into(), "b".into(), "c".into()]);
        assert_eq!(c.decode(0.99), Value::Choice("c".into()));
        assert_eq!(
            c.decode(c.encode(&Value::Choice("b".into())).unwrap()),
            Value::Choice("b".into())
        );
        assert_eq!(c.encode(&Value::Choice("z".into())), None);
        assert_eq!(l.encode(&Value::Float(1.0)), None, "out of range");
    }

    #[test]
    fn check_names_the_parameter_and_the_fix() {
        let s = |d| Space {
            params: vec![p("lr", d)],
            fidelity: None,
        };
        let e = s(Domain::Float {
            low: 0.0,
            high: 1.0,
            log: true,
        })
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "tune parameter `lr`: a log scale needs low > 0 (got 0)"
        );
        assert!(
            s(Domain::Int {
                low: 3,
                high: 1,
                log: false
            })
            .check()
            .is_err()
        );
        assert!(
            s(Domain::Categorical(vec!["x".into(), "x".into()]))
                .check()
                .is_err()
        );
        assert!(
            s(Domain::Float {
                low: 0.0,
                high: 1.0,
                log: false
            })
            .check()
            .is_ok()
        );
        let twice = Space {
            params: vec![p("a", Domain::Categorical(vec!["x".into()])); 2],
            fidelity: None,
        };
        assert!(twice.check().unwrap_err().message.contains("twice"));
    }
}
