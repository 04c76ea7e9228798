//! The fast path of reading a YAML spec: a serde deserializer fed straight from saphyr-parser's
//! event stream. serde_norway, which reads every spec exactly, first copies the whole document
//! into a list of events (about 20 times the text's size in memory for a large spec) and the spec
//! reader parsed the text twice more before it (a depth check, a header check into a tree).
//!
//! This reader gives the visitors the same calls serde_norway gives them, for the YAML it takes:
//! one document without anchors, aliases or tags, nested at most [`MAX_DEPTH`] levels, without
//! tabs, carriage returns, byte order marks or other control characters (where YAML parsers
//! disagree most). Anything else, and every error, is refused (`None`): the caller then reads the
//! text the exact way, which reports every problem with its place. So this path changes no
//! diagnostic; it only makes a valid spec quick to read. The scalars' meaning (`12` a number,
//! `true` a boolean, `~` null, `012` text) follows serde_norway's rules, which
//! `tests::scalars_resolve_as_serde_norway_resolves_them` checks against serde_norway itself.

mod lite;

use lite::{Ev, Lite};
use saphyr_parser::{Event, Parser, ScalarStyle, StrInput};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Deeper nesting is left to the exact reader (serde_norway stops at 128 levels).
const MAX_DEPTH: usize = 100;

/// Reads `text` as a `T`, or `None` where the exact reader must (see the module's text): with
/// the line scanner of the common subset ([`lite`]) first, with saphyr-parser where it refuses.
pub(super) fn read<T: DeserializeOwned>(text: &str) -> Option<T> {
    if !plain_text(text) {
        return None;
    }
    read_from(Source::Lite(Lite::new(text))).or_else(|| read_from(saphyr(text)?))
}

/// saphyr-parser past the start of the stream and of its one document.
fn saphyr(text: &str) -> Option<Source<'_>> {
    let mut parser = Parser::new_from_str(text);
    for expected in ["stream start", "document start"] {
        match parser.next_event()?.ok()?.0 {
            Event::StreamStart if expected == "stream start" => {}
            Event::DocumentStart(_) if expected == "document start" => {}
            _ => return None,
        }
    }
    Some(Source::Saphyr(Box::new(parser)))
}

fn read_from<T: DeserializeOwned>(source: Source<'_>) -> Option<T> {
    let mut events = Events { source, depth: 0 };
    let value = T::deserialize(&mut events).ok()?;
    events.source.ends().then_some(value)
}

/// Where the events come from.
enum Source<'a> {
    Lite(Lite<'a>),
    Saphyr(Box<Parser<'a, StrInput<'a>>>),
}

/// The next event, seen without taking it.
enum Peek<'p> {
    Scalar(&'p str, ScalarStyle),
    SeqEnd,
    MapEnd,
    Other,
}

impl<'a> Source<'a> {
    /// The next event of the document; anchored or tagged nodes, aliases and the document's end
    /// are refused.
    fn next(&mut self) -> Result<Ev<'a>> {
        match self {
            Source::Lite(lite) => lite.next()?.ok_or(Refused),
            Source::Saphyr(parser) => match parser.next_event() {
                Some(Ok((event, _))) => match event {
                    Event::Scalar(v, style, 0, None) => Ok(Ev::Scalar(v, style)),
                    Event::SequenceStart(0, None) => Ok(Ev::SeqStart),
                    Event::SequenceEnd => Ok(Ev::SeqEnd),
                    Event::MappingStart(0, None) => Ok(Ev::MapStart),
                    Event::MappingEnd => Ok(Ev::MapEnd),
                    _ => Err(Refused),
                },
                _ => Err(Refused),
            },
        }
    }

    fn peek(&mut self) -> Result<Peek<'_>> {
        match self {
            Source::Lite(lite) => Ok(match lite.peek()? {
                Some(Ev::Scalar(v, style)) => Peek::Scalar(v, *style),
                Some(Ev::SeqEnd) => Peek::SeqEnd,
                Some(Ev::MapEnd) => Peek::MapEnd,
                Some(_) => Peek::Other,
                None => return Err(Refused),
            }),
            Source::Saphyr(parser) => match parser.peek() {
                Some(Ok((Event::Scalar(v, style, 0, None), _))) => Ok(Peek::Scalar(v, *style)),
                Some(Ok((Event::Scalar(..) | Event::Alias(_), _))) => Err(Refused),
                Some(Ok((Event::SequenceEnd, _))) => Ok(Peek::SeqEnd),
                Some(Ok((Event::MappingEnd, _))) => Ok(Peek::MapEnd),
                Some(Ok(_)) => Ok(Peek::Other),
                _ => Err(Refused),
            },
        }
    }

    /// How many elements are left in the sequence being read, where that is known without
    /// reading on (a flow list read by the line scanner).
    fn elements_left(&self) -> Option<usize> {
        match self {
            Source::Lite(lite) => lite.queued_elements(),
            Source::Saphyr(_) => None,
        }
    }

    /// Whether the document and the stream end here, with nothing after them.
    fn ends(&mut self) -> bool {
        match self {
            Source::Lite(lite) => matches!(lite.next(), Ok(None)),
            Source::Saphyr(parser) => {
                for _ in 0..2 {
                    match parser.next_event() {
                        Some(Ok((Event::DocumentEnd | Event::StreamEnd, _))) => {}
                        _ => return false,
                    }
                }
                parser.next_event().is_none()
            }
        }
    }
}

/// Whether `text` ends its last line and holds none of the characters this reader leaves to the
/// exact one: control characters but the newline (tabs and carriage returns included), C1
/// controls, the line and paragraph separators U+2028 and U+2029, U+FEFF (a byte order mark),
/// U+FFFE and U+FFFF. (At the very end of the text, the parsers disagree on a block scalar's
/// last line break.)
fn plain_text(text: &str) -> bool {
    if !text.ends_with('\n') {
        return false;
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {}
            0..0x20 | 0x7f => return false,
            // U+0080..U+009F are 0xC2 0x80..0x9F in UTF-8.
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => return false,
            // U+2028 and U+2029 (E2 80 A8, E2 80 A9): line breaks to libyaml, text to saphyr.
            0xe2 if matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(0x80), Some(0xa8 | 0xa9))
            ) =>
            {
                return false;
            }
            // U+FEFF is EF BB BF; U+FFFE and U+FFFF are EF BF BE and EF BF BF.
            0xef if matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
            ) =>
            {
                return false;
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// Why the fast path gave up; never shown (the exact reader reports the problem).
#[derive(Debug)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("left to the exact reader")
    }
}

impl std::error::Error for Refused {}

impl de::Error for Refused {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Refused
    }
}

type Result<T> = std::result::Result<T, Refused>;

struct Events<'a> {
    source: Source<'a>,
    depth: usize,
}

/// A node's first event, as this reader takes it.
enum Node<'a> {
    Scalar(Cow<'a, str>, ScalarStyle),
    Seq,
    Map,
}

impl<'a> Events<'a> {
    fn next_node(&mut self) -> Result<Node<'a>> {
        match self.source.next()? {
            Ev::Scalar(v, style) => Ok(Node::Scalar(v, style)),
            Ev::SeqStart => Ok(Node::Seq),
            Ev::MapStart => Ok(Node::Map),
            Ev::SeqEnd | Ev::MapEnd => Err(Refused),
        }
    }

    /// Takes the next event, already seen.
    fn skip(&mut self) {
        let _ = self.source.next();
    }

    /// Whether the next event ends the collection being read (and takes it if so).
    fn at_end(&mut self) -> Result<bool> {
        if matches!(self.source.peek()?, Peek::SeqEnd | Peek::MapEnd) {
            self.skip();
            return Ok(true);
        }
        Ok(false)
    }

    /// The next scalar, if the next event is one (not taken); an anchored or tagged one is refused.
    fn peek_scalar(&mut self) -> Result<Option<(&str, ScalarStyle)>> {
        match self.source.peek()? {
            Peek::Scalar(v, style) => Ok(Some((v, style))),
            _ => Ok(None),
        }
    }

    fn visit_seq<'de, V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value>
    where
        'a: 'de,
    {
        self.collection(|de| visitor.visit_seq(Elements { de }))
    }

    fn visit_map<'de, V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value>
    where
        'a: 'de,
    {
        self.collection(|de| visitor.visit_map(Entries { de }))
    }

    /// Reads a list's or mapping's entries with `read`, then its end.
    fn collection<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.nested(|de| {
            let value = read(de)?;
            // A visitor that stopped early leaves entries: serde_norway reports a length error.
            if de.at_end()? {
                Ok(value)
            } else {
                Err(Refused)
            }
        })
    }

    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_DEPTH {
            return Err(Refused);
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }
}

fn visit_text<'de, V: Visitor<'de>>(visitor: V, text: Cow<'de, str>) -> Result<V::Value> {
    match text {
        Cow::Borrowed(s) => visitor.visit_borrowed_str(s),
        // The parser's buffer has spare room (128 bytes for a 7-byte name): keep an exact copy.
        Cow::Owned(s) => visitor.visit_str(&s),
    }
}

/// What a plain scalar means, by serde_norway's rules (YAML 1.2's core schema, as it reads it).
#[derive(Debug, PartialEq)]
enum Plain {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    F64(f64),
    Text,
}

fn resolve(s: &str) -> Plain {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Plain::Null,
        "true" | "True" | "TRUE" => return Plain::Bool(true),
        "false" | "False" | "FALSE" => return Plain::Bool(false),
        _ => {}
    }
    if let Some(n) = unsigned(s, u64::from_str_radix) {
        return Plain::U64(n);
    }
    if let Some(n) = negative(s, i64::from_str_radix) {
        return Plain::I64(n);
    }
    if let Some(n) = unsigned(s, u128::from_str_radix) {
        return Plain::U128(n);
    }
    if let Some(n) = negative(s, i128::from_str_radix) {
        return Plain::I128(n);
    }
    match float(s) {
        Some(f) if !leading_zero_digits(s) => Plain::F64(f),
        _ => Plain::Text,
    }
}

/// A float: `[+-]` digits with `.` or an exponent, `.inf`, `-.inf`, `.nan`; finite otherwise.
fn float(s: &str) -> Option<f64> {
    let unsigned = match s.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => s,
    };
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Some(f64::INFINITY);
    }
    if matches!(s, "-.inf" | "-.Inf" | "-.INF") {
        return Some(f64::NEG_INFINITY);
    }
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN.copysign(1.0));
    }
    unsigned.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `012` (digits after a leading zero, signed or not) is text in YAML 1.2.
fn leading_zero_digits(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.len() > 1 && s.starts_with('0') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

type Radix<T> = fn(&str, u32) -> std::result::Result<T, std::num::ParseIntError>;

/// `[+]digits`, `[+]0x…`, `[+]0o…`, `[+]0b…`.
fn unsigned<T>(s: &str, parse: Radix<T>) -> Option<T> {
    let rest = s.strip_prefix('+').unwrap_or(s);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = rest.strip_prefix(prefix) {
            if digits.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = parse(digits, radix) {
                return Some(n);
            }
        }
    }
    if rest.starts_with(['+', '-']) || leading_zero_digits(s) {
        return None;
    }
    parse(rest, 10).ok()
}

/// `-digits`, `-0x…`, `-0o…`, `-0b…` (and anything the radix-10 parser takes).
fn negative<T>(s: &str, parse: Radix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(digits) = s.strip_prefix(prefix)
            && let Ok(n) = parse(&format!("-{digits}"), radix)
        {
            return Some(n);
        }
    }
    if leading_zero_digits(s) {
        return None;
    }
    parse(s, 10).ok()
}

fn visit_plain<'de, V: Visitor<'de>>(visitor: V, text: Cow<'de, str>) -> Result<V::Value> {
    match resolve(&text) {
        Plain::Null => visitor.visit_unit(),
        Plain::Bool(b) => visitor.visit_bool(b),
        Plain::U64(n) => visitor.visit_u64(n),
        Plain::I64(n) => visitor.visit_i64(n),
        Plain::U128(n) => visitor.visit_u128(n),
        Plain::I128(n) => visitor.visit_i128(n),
        Plain::F64(f) => visitor.visit_f64(f),
        Plain::Text => visit_text(visitor, text),
    }
}

/// A plain scalar read as a typed number or boolean: what it resolves to must be that type, else
/// serde_norway reports an error (and so this reader refuses).
fn typed_scalar<'a>(de: &mut Events<'a>) -> Result<Plain> {
    match de.next_node()? {
        Node::Scalar(v, ScalarStyle::Plain) => Ok(resolve(&v)),
        _ => Err(Refused),
    }
}

/// Whether a plain scalar stands for "nothing" where a list or mapping is expected.
fn is_empty_plain(s: Option<(&str, ScalarStyle)>) -> bool {
    matches!(s, Some(("", ScalarStyle::Plain)))
}

/// Narrower numbers are read as the widest of their kind, as serde_norway reads them.
macro_rules! forward {
    ($($method:ident => $to:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.$to(visitor)
        }
    )*};
}

impl<'de, 'a: 'de> de::Deserializer<'de> for &mut Events<'a> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next_node()? {
            Node::Scalar(v, ScalarStyle::Plain) => visit_plain(visitor, v),
            Node::Scalar(v, _) => visit_text(visitor, v),
            Node::Seq => self.visit_seq(visitor),
            Node::Map => self.visit_map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match typed_scalar(self)? {
            Plain::Bool(b) => visitor.visit_bool(b),
            _ => Err(Refused),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match typed_scalar(self)? {
            Plain::U64(n) if i64::try_from(n).is_ok() => visitor.visit_i64(n as i64),
            Plain::I64(n) => visitor.visit_i64(n),
            _ => Err(Refused),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match typed_scalar(self)? {
            Plain::U64(n) => visitor.visit_u64(n),
            _ => Err(Refused),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // A float field reads the text as a float, whatever else it could mean.
        match self.next_node()? {
            Node::Scalar(v, ScalarStyle::Plain) => match float(&v) {
                Some(f) => visitor.visit_f64(f),
                None => Err(Refused),
            },
            _ => Err(Refused),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next_node()? {
            Node::Scalar(v, _) => visit_text(visitor, v),
            _ => Err(Refused),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let is_none = match self.peek_scalar()? {
            Some((v, ScalarStyle::Plain)) => resolve(v) == Plain::Null,
            _ => false,
        };
        if is_none {
            self.skip();
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match typed_scalar(self)? {
            Plain::Null => visitor.visit_unit(),
            _ => Err(Refused),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.nested(|de| visitor.visit_newtype_struct(de))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if is_empty_plain(self.peek_scalar()?) {
            self.skip();
            return visitor.visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<()>()));
        }
        match self.next_node()? {
            Node::Seq => self.visit_seq(visitor),
            _ => Err(Refused),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if is_empty_plain(self.peek_scalar()?) {
            self.skip();
            return visitor.visit_map(de::value::MapDeserializer::new(
                std::iter::empty::<((), ())>(),
            ));
        }
        match self.next_node()? {
            Node::Map => self.visit_map(visitor),
            _ => Err(Refused),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        // Untagged, serde_norway reads only unit variants, from a scalar.
        match self.peek_scalar()? {
            Some(_) => visitor.visit_enum(UnitVariant { de: self }),
            None => Err(Refused),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_any(de::IgnoredAny)?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Refused)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Refused)
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    forward! {
        deserialize_i8 => deserialize_i64,
        deserialize_i16 => deserialize_i64,
        deserialize_i32 => deserialize_i64,
        deserialize_u8 => deserialize_u64,
        deserialize_u16 => deserialize_u64,
        deserialize_u32 => deserialize_u64,
        deserialize_f32 => deserialize_f64
    }
}

struct Elements<'d, 'a> {
    de: &'d mut Events<'a>,
}

impl<'de, 'a: 'de> de::SeqAccess<'de> for Elements<'_, 'a> {
    type Error = Refused;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        match self.de.source.peek()? {
            Peek::SeqEnd => Ok(None),
            _ => seed.deserialize(&mut *self.de).map(Some),
        }
    }

    /// Exact for a flow list, so its `Vec` is made at its size (a large spec has hundreds of
    /// thousands of `dependsOn: [...]` and `command: [...]`; grown from empty, each held up to
    /// twice its room).
    fn size_hint(&self) -> Option<usize> {
        self.de.source.elements_left()
    }
}

struct Entries<'d, 'a> {
    de: &'d mut Events<'a>,
}

impl<'de, 'a: 'de> de::MapAccess<'de> for Entries<'_, 'a> {
    type Error = Refused;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.de.source.peek()? {
            Peek::MapEnd => Ok(None),
            // serde_norway reads `<<` as a plain key, YAML 1.1 as a merge: leave it.
            Peek::Scalar("<<", _) => Err(Refused),
            _ => seed.deserialize(&mut *self.de).map(Some),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// An enum written as its variant's name.
struct UnitVariant<'d, 'a> {
    de: &'d mut Events<'a>,
}

impl<'de, 'a: 'de> de::EnumAccess<'de> for UnitVariant<'_, 'a> {
    type Error = Refused;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        Ok((seed.deserialize(&mut *self.de)?, self))
    }
}

impl<'de, 'a: 'de> de::VariantAccess<'de> for UnitVariant<'_, 'a> {
    type Error = Refused;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value> {
        Err(Refused)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value> {
        Err(Refused)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::read;
    use serde::Deserialize;
    use serde_json::Value;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Unit {
        Plain,
        Other,
    }

    /// A field of every kind of type the IR reads.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        any: Option<Value>,
        text: Option<String>,
        unsigned: Option<u64>,
        signed: Option<i64>,
        float: Option<f64>,
        boolean: Option<bool>,
        list: Option<Vec<Value>>,
        map: Option<BTreeMap<String, Value>>,
        unit: Option<Unit>,
        #[serde(default)]
        strings: Vec<String>,
    }

    /// Scalars whose meaning depends on the rules: numbers in every base and sign, floats,
    /// YAML 1.1 words, leading zeros, specials, empty and quoted forms.
    const SCALARS: &[&str] = &[
        "",
        "~",
        "null",
        "Null",
        "NULL",
        "nULL",
        "true",
        "True",
        "TRUE",
        "tRUE",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "0",
        "00",
        "012",
        "-012",
        "+012",
        "0.5",
        "012.5",
        "1",
        "+1",
        "-1",
        "++1",
        "+-1",
        "-+1",
        "--1",
        "1_000",
        "0x1F",
        "0X1F",
        "+0x1f",
        "-0x1f",
        "0x-1",
        "0x+1",
        "0o17",
        "-0o17",
        "0o",
        "0b101",
        "-0b101",
        "0b",
        "0x",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "340282366920938463463374607431768211455",
        "340282366920938463463374607431768211456",
        "1e3",
        "1E3",
        "-1e3",
        "+1e3",
        "1e400",
        "-1e400",
        "1.",
        ".5",
        "-.5",
        "+.5",
        "1.5e-3",
        ".inf",
        ".Inf",
        ".INF",
        "-.inf",
        "+.inf",
        "inf",
        "-inf",
        "infinity",
        "Infinity",
        ".nan",
        ".NaN",
        ".NAN",
        "nan",
        "NaN",
        "+.nan",
        "-.nan",
        "3.19",
        "alpine:3.19",
        "1h30m",
        "500m",
        "4Gi",
        "a b",
        "'quoted'",
        "\"1\"",
        "'true'",
        "\"~\"",
        "''",
        "\"\"",
        "|\n    12\n",
        ">-\n    12\n    13\n",
        "\"\\t\\u00e9\"",
        "é",
        "{}",
        "[]",
        "[1, a, ~]",
        "{a: 1, b: [x]}",
        "{a: 1, a: 2}",
        "plain",
        "other",
        "Plain",
        "- 1\n  - 2\n",
    ];

    const FIELDS: &[&str] = &[
        "any", "text", "unsigned", "signed", "float", "boolean", "list", "map", "unit", "strings",
    ];

    #[test]
    fn a_flow_list_is_read_into_a_list_of_its_size() {
        let text = "a: [x, [y, z], 'w', []]\nb:\n  - p\n  - q\n  - r\n";
        let m: BTreeMap<String, Vec<Value>> = read(text).expect("read");
        assert_eq!(m["a"].len(), 4);
        assert_eq!(
            m["a"].capacity(),
            4,
            "a flow list's size is known when it starts"
        );
        assert_eq!(
            m["b"].len(),
            3,
            "a block list is read whole, its size unknown ahead"
        );
        let nested: Vec<Vec<String>> = read("- [a, b, c]\n- [d]\n").expect("read");
        assert_eq!(nested.iter().map(Vec::capacity).collect::<Vec<_>>(), [3, 1]);
        let inner: Vec<Vec<Vec<String>>> = read("- [[a, b], [], [c, d, e]]\n").expect("read");
        let sizes: Vec<_> = inner[0].iter().map(Vec::capacity).collect();
        assert_eq!((inner[0].capacity(), sizes), (3, vec![2, 0, 3]));
    }

    #[test]
    fn scalars_resolve_as_serde_norway_resolves_them() {
        for field in FIELDS {
            for scalar in SCALARS {
                let text = format!("{field}: {scalar}\n");
                let exact = serde_norway::from_str::<Fields>(&text);
                match read::<Fields>(&text) {
                    Some(fast) => {
                        let exact = exact.unwrap_or_else(|e| panic!("{text:?}: only fast: {e}"));
                        // NaN is not equal to itself; compare what each read as text.
                        assert_eq!(format!("{fast:?}"), format!("{exact:?}"), "{text:?}");
                    }
                    None => assert!(
                        exact.is_err() || !super::plain_text(&text),
                        "{text:?}: refused, but serde_norway reads {exact:?}"
                    ),
                }
            }
        }
    }

    /// Every spec of `examples/`: the quick read takes it, and keeps no spare room in what it
    /// read (a scalar of a flow list came as a 128-byte buffer; 100,000 steps held 100 MB more).
    #[test]
    fn every_example_reads_quickly_and_compactly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut files = vec![dir.join("cluster/distributed-training.yaml")];
        for entry in std::fs::read_dir(&dir).unwrap() {
            files.push(entry.unwrap().path());
        }
        files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
        assert!(files.len() >= 9, "{files:?}");
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains("\n  uses: zoo/") {
                continue; // read after its zoo steps are expanded (spec::parse), as JSON
            }
            let wf: crate::Workflow =
                read(&text).unwrap_or_else(|| panic!("{} is not read quickly", path.display()));
            for step in &wf.steps {
                for name in step.depends_on.iter().chain(Some(&step.name)) {
                    assert_eq!(name.capacity(), name.len(), "{}: {name}", path.display());
                }
            }
        }
        let wf: Fields = read("strings: [a, bb, ccc]\n").unwrap();
        assert!(wf.strings.iter().all(|s| s.capacity() == s.len()));
    }

    #[test]
    fn refuses_what_it_leaves_to_the_exact_reader() {
        for text in [
            "text: &a x\n",
            "text: *a\n",
            "text: !x y\n",
            "text: !!str y\n",
            "map: {<<: {a: 1}}\n",
            "text: a\n---\ntext: b\n",
            "text: \"a\tb\"\n",
            "text: a\r\n",
            "\u{feff}text: a\n",
            "text: [a]\n",
            "nope: 1\n",
            "unit: {plain: 1}\n",
            // serde_norway reads "a", saphyr-parser "a\n" (found by never_panics).
            "text: |\n  a",
            // A line break to libyaml, text to saphyr-parser (found by never_panics).
            "text: |\n  a\n\u{2028}  b\n",
        ] {
            assert!(read::<Fields>(text).is_none(), "{text:?}");
        }
        let deep = format!("any: {}{}\n", "[".repeat(120), "]".repeat(120));
        assert!(read::<Fields>(&deep).is_none());
        assert!(read::<Fields>("any: [[[[1]]]]\n").is_some());
    }
}
