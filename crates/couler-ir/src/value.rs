//! Small value types of the IR: durations and Kubernetes-style quantities.
//!
//! Both parse from the forms users write (`90s`, `1h30m`; `500m`, `2`, `4Gi`) and print one
//! canonical form, so a spec round-trips to identical text.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;
use std::str::FromStr;

/// A non-negative duration with millisecond precision, written `250ms`, `90s`, `5m`, `1h30m`, `2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    millis: u64,
}

const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl Duration {
    /// A duration of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }
    /// A duration of `secs` seconds (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            millis: secs.saturating_mul(1000),
        }
    }
    /// The duration in milliseconds.
    pub const fn as_millis(&self) -> u64 {
        self.millis
    }
    /// Whole seconds, rounded up (engines that take seconds must never get a shorter limit).
    pub const fn as_secs_ceil(&self) -> u64 {
        self.millis.div_ceil(1000)
    }
    /// The same duration as a [`std::time::Duration`].
    pub fn as_std(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a duration: write a number with a unit, e.g. `250ms`, `30s`, `5m`, `1h30m` or `2d`"
            )
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(bad());
        }
        // A bare number is seconds, as in Argo's activeDeadlineSeconds.
        if let Ok(secs) = text.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        let mut millis: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let factor = UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, f)| *f)
                .ok_or_else(bad)?;
            millis = number
                .checked_mul(factor)
                .and_then(|v| millis.checked_add(v))
                .ok_or_else(|| format!("duration `{s}` is too long"))?;
            rest = &rest[unit_len..];
        }
        Ok(Duration { millis })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            return f.write_str("0s");
        }
        let mut left = self.millis;
        for (unit, factor) in UNITS {
            if left >= factor {
                write!(f, "{}{unit}", left / factor)?;
                left %= factor;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Text(text) => text.parse().map_err(de::Error::custom),
            Scalar::Int(secs) => Ok(Duration::from_secs(secs)),
        }
    }
}

/// A Kubernetes quantity (`500m`, `2`, `1.5`, `4Gi`, `1e3`), validated and kept as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Quantity(String);

const SUFFIXES: [(&str, f64); 13] = [
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("Ei", 1_152_921_504_606_846_976.0),
    ("n", 1e-9),
    ("u", 1e-6),
    ("m", 1e-3),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
];

impl Quantity {
    /// The quantity as written, e.g. `500m` or `4Gi`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The quantity as a plain number: cores for cpu, bytes for memory.
    pub fn value(&self) -> f64 {
        parse_quantity(&self.0).unwrap_or(0.0)
    }
}

fn parse_quantity(s: &str) -> Option<f64> {
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, factor)| s.strip_suffix(suffix).map(|n| (n, *factor)))
        .or_else(|| {
            // Decimal exponent forms: 1e3, 2E6.
            let n = s.trim_end_matches(|c: char| c.is_ascii_digit());
            let exp_digits = &s[n.len()..];
            match n.strip_suffix(['e', 'E']) {
                Some(base) if !exp_digits.is_empty() && !base.is_empty() => {
                    let exp: i32 = exp_digits.parse().ok()?;
                    Some((base, 10f64.powi(exp)))
                }
                _ => Some((s, 1.0)),
            }
        })?;
    let plain = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|c| *c == '.').count() <= 1
        && number != ".";
    if !plain {
        return None;
    }
    number.parse::<f64>().ok().map(|n| n * factor)
}

impl FromStr for Quantity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let text = s.trim();
        match parse_quantity(text) {
            Some(_) => Ok(Quantity(text.to_string())),
            None => Err(format!(
                "`{s}` is not a quantity: write a number with an optional suffix, e.g. `500m`, `2`, `1.5`, `512Mi`, `4Gi`"
            )),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Whole numbers print as YAML integers (`cpu: 2`), everything else as a string.
        match self.0.parse::<u64>() {
            Ok(n) if n.to_string() == self.0 => s.serialize_u64(n),
            _ => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Text(text) => text.parse().map_err(de::Error::custom),
            Scalar::Int(n) => Ok(Quantity(n.to_string())),
        }
    }
}

/// A YAML scalar that may be written as a number or a string (`cpu: 2` or `cpu: "500m"`).
enum Scalar {
    Text(String),
    Int(u64),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                u64::try_from(v).map(Scalar::Int).map_err(|_| {
                    E::custom(format!("{v} is negative; a non-negative value is needed"))
                })
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                if v.is_finite() && v >= 0.0 {
                    Ok(Scalar::Text(v.to_string()))
                } else {
                    Err(E::custom(format!("{v} is not a non-negative number")))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_canonically() {
        let d: Duration = "1h30m".parse().unwrap();
        assert_eq!(d.as_millis(), 5_400_000);
        assert_eq!(d.to_string(), "1h30m");
        assert_eq!("90s".parse::<Duration>().unwrap().to_string(), "1m30s");
        assert_eq!("250ms".parse::<Duration>().unwrap().as_millis(), 250);
        assert_eq!("45".parse::<Duration>().unwrap().as_millis(), 45_000);
        assert_eq!("1500ms".parse::<Duration>().unwrap().as_secs_ceil(), 2);
        for bad in ["", "m", "5x", "1.5h", "-3s", "h1"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn quantities_validate_and_convert() {
        assert_eq!("500m".parse::<Quantity>().unwrap().value(), 0.5);
        assert_eq!(
            "4Gi".parse::<Quantity>().unwrap().value(),
            4.0 * 1_073_741_824.0
        );
        assert_eq!("1e3".parse::<Quantity>().unwrap().value(), 1000.0);
        assert_eq!("1.5".parse::<Quantity>().unwrap().value(), 1.5);
        for bad in ["", "Gi", "4GB", "1..2", "-1", "abc", "."] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad} should be rejected");
        }
    }
}
