//! Cron schedules and time zones as Argo's CronWorkflow validation reads them: robfig/cron v3's
//! `ParseStandard` (five fields, or a `@` descriptor, optionally after `CRON_TZ=`/`TZ=`) and Go's
//! `time.LoadLocation` over IANA tzdata (the names embedded from tzdata 2025b, `tzdata.txt`).

/// The tzdata names Go's `time.LoadLocation` accepts.
const TZDATA: &str = include_str!("tzdata.txt");

/// Whether `tz` is an IANA time zone name (or `UTC`).
pub fn is_time_zone(tz: &str) -> bool {
    !tz.is_empty() && !tz.starts_with('#') && TZDATA.lines().any(|l| l == tz)
}

/// One field's name, bounds and the names it accepts (robfig's `bounds`).
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTHS,
    },
    Field {
        name: "day of week",
        min: 0,
        max: 6,
        names: &DAYS,
    },
];

const DESCRIPTORS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Why `spec` is not a schedule Argo accepts, if it is not.
pub fn check(spec: &str) -> Result<(), String> {
    let mut text = spec.trim();
    for prefix in ["CRON_TZ=", "TZ="] {
        if let Some(rest) = text.strip_prefix(prefix) {
            let (tz, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if !is_time_zone(tz) {
                return Err(format!("`{tz}` is not an IANA time zone"));
            }
            text = rest.trim();
        }
    }
    if let Some(every) = text.strip_prefix("@every ") {
        return go_duration(every.trim())
            .then_some(())
            .ok_or_else(|| format!("`{}` is not a duration such as `1h30m`", every.trim()));
    }
    if text.starts_with('@') {
        return DESCRIPTORS
            .contains(&text)
            .then_some(())
            .ok_or_else(|| format!("unknown descriptor `{text}`"));
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}", fields.len()));
    }
    for (f, text) in FIELDS.iter().zip(fields) {
        for range in text.split(',') {
            check_range(f, range).map_err(|why| format!("{} `{text}`: {why}", f.name))?;
        }
    }
    Ok(())
}

/// One `a`, `a-b`, `*` or `?`, with an optional `/step` (robfig's `getRange`).
fn check_range(f: &Field, expr: &str) -> Result<(), String> {
    let mut parts = expr.split('/');
    let range = parts.next().unwrap_or_default();
    let step = parts.next();
    if parts.next().is_some() {
        return Err("too many slashes".into());
    }
    let (start, end) = if range == "*" || range == "?" {
        (f.min, f.max)
    } else {
        let mut ends = range.split('-');
        let start = value(f, ends.next().unwrap_or_default())?;
        let end = match ends.next() {
            Some(e) => value(f, e)?,
            None if step.is_some() => f.max,
            None => start,
        };
        if ends.next().is_some() {
            return Err("too many hyphens".into());
        }
        (start, end)
    };
    if let Some(s) = step {
        let s = number(s)?;
        if s == 0 {
            return Err("a step must be a positive number".into());
        }
    }
    if start < f.min {
        return Err(format!("{start} is below the minimum ({})", f.min));
    }
    if end > f.max {
        return Err(format!("{end} is above the maximum ({})", f.max));
    }
    if start > end {
        return Err(format!("the range starts after its end ({start} > {end})"));
    }
    Ok(())
}

/// A number, or one of the field's names (case-insensitive).
fn value(f: &Field, text: &str) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    match f.names.iter().position(|n| *n == lower) {
        Some(i) => Ok(i as u32 + if f.names.len() == 12 { 1 } else { 0 }),
        None => number(text),
    }
}

fn number(text: &str) -> Result<u32, String> {
    if text.starts_with('-') {
        return Err(format!("negative number ({text}) not allowed"));
    }
    text.parse::<u32>()
        .map_err(|_| format!("`{text}` is not a number"))
}

/// A Go duration (`time.ParseDuration`): numbers with units ns, us, µs, ms, s, m, h.
fn go_duration(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 || rest[..digits].parse::<f64>().is_err() {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .into_iter()
            .find(|u| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_accepts_what_robfig_parse_standard_accepts() {
        for ok in [
            "0 2 * * *",
            "*/15 0-23 1-31 1-12 0-6",
            "0 2 * * sun,SAT",
            "30 6 ? jan-mar mon-fri",
            "5/10 * * * *",
            "@daily",
            "@every 1h30m",
            "CRON_TZ=Asia/Tokyo 0 6 * * *",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn argo_rejects_what_robfig_rejects() {
        for (bad, why) in [
            ("0 2 * * 7", "above the maximum (6)"),
            ("0 24 * * *", "above the maximum (23)"),
            ("0 0 L * *", "not a number"),
            ("0 0 0 * *", "below the minimum (1)"),
            ("0 0 * 13 *", "above the maximum (12)"),
            ("5-2 * * * *", "starts after its end"),
            ("*/0 * * * *", "positive"),
            ("1-2-3 * * * *", "too many hyphens"),
            ("0 2 * *", "exactly 5 fields"),
            ("0 0 * * * *", "exactly 5 fields"),
            ("@fortnightly", "unknown descriptor"),
            ("@every 5x", "duration"),
            ("TZ=Mars/Olympus 0 0 * * *", "IANA"),
        ] {
            let e = check(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn time_zones_come_from_tzdata() {
        for tz in [
            "UTC",
            "Asia/Shanghai",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(is_time_zone(tz), "{tz}");
        }
        for tz in ["Mars/Olympus", "asia/shanghai", "", "# IANA"] {
            assert!(!is_time_zone(tz), "{tz}");
        }
    }
}
