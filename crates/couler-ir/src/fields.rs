//! The field names a spec type accepts, and the variant names of an enum, read from its own
//! `Deserialize` (serde hands a struct's visitor the list of its fields, an enum's its
//! variants): so a description of the spec built elsewhere (the JSON
//! schema the natural-language generator constrains a model's steps with) cannot drift from
//! what the reader accepts.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// The fields `T` accepts, as written in a spec (`dependsOn`), in declaration order; `None`
/// when `T` is not read as a struct with named fields (an enum, a custom reader).
pub fn field_names<'de, T: Deserialize<'de>>() -> Option<&'static [&'static str]> {
    match T::deserialize(Probe) {
        Err(Found::Fields(fields)) => Some(fields),
        _ => None,
    }
}

/// The variants `T` accepts, as written in a spec (`float`); `None` when `T` is not read as an
/// enum.
pub fn variant_names<'de, T: Deserialize<'de>>() -> Option<&'static [&'static str]> {
    match T::deserialize(Probe) {
        Err(Found::Variants(variants)) => Some(variants),
        _ => None,
    }
}

/// A deserializer that reads nothing and reports the fields it was asked for.
struct Probe;

/// The probe's "error": the names the type asked for.
#[derive(Debug)]
enum Found {
    Fields(&'static [&'static str]),
    Variants(&'static [&'static str]),
    Nothing,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names probed")
    }
}

impl std::error::Error for Found {}

impl de::Error for Found {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Found::Nothing
    }
}

impl<'de> Deserializer<'de> for Probe {
    type Error = Found;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found::Nothing)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Found> {
        Err(Found::Fields(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Found> {
        Err(Found::Variants(variants))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::{field_names, variant_names};
    use crate::{Container, ParamType, Step};

    #[test]
    fn a_struct_s_fields_are_read_from_its_reader_and_others_have_none() {
        let step = field_names::<Step>().expect("a step is read as a struct");
        for f in [
            "name",
            "container",
            "script",
            "dependsOn",
            "when",
            "map",
            "tune",
        ] {
            assert!(step.contains(&f), "{f}: {step:?}");
        }
        assert!(!step.contains(&"steps"));
        let container = field_names::<Container>().unwrap();
        assert!(container.contains(&"image") && container.contains(&"command"));
        assert_eq!(field_names::<String>(), None);
        assert_eq!(field_names::<Vec<Step>>(), None);
        let types = variant_names::<ParamType>().expect("an enum");
        assert_eq!(types, ["string", "int", "float", "bool", "json"]);
        assert_eq!(variant_names::<Step>(), None);
    }
}
