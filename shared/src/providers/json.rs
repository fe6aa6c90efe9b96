//! Tolerant, borrowing reading of provider JSON. Each provider declares the fields it reads as a typed struct
//! of [`Field`]s and [`Obj`]s: the body is parsed once, strings are borrowed from it, and everything else is
//! skipped without being built. Providers send numbers as strings, strings as numbers and change field types
//! between versions, so no field type can make an authentic delivery fail: a [`Field`] takes any JSON value and
//! the accessors take what they can; an [`Obj`] that is not an object reads as empty. The raw payload keeps
//! the rest.

use crate::model::RawPadding;
use crate::text::clean;
use crate::time::parse_provider_time;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Number;
use std::borrow::Cow;
use std::fmt;

/// Parses a body into a provider's field struct. Every field type accepts every JSON value, so this fails
/// only on what is not JSON (or names one key twice, which a typed struct cannot hold). The body comes back as
/// [`JsonText`]: read to its end, so it is known to be one JSON value.
pub fn parse<'a, T: Deserialize<'a> + Default>(body: &'a [u8]) -> Result<(Obj<T>, JsonText<'a>), serde_json::Error> {
    // UTF-8 is checked once for the whole body, not again for every string the parser meets.
    let text = std::str::from_utf8(body).map_err(<serde_json::Error as de::Error>::custom)?;
    let fields = serde_json::from_str(text)?;
    Ok((fields, JsonText(text)))
}

/// A body serde_json has read to its end as exactly one JSON value. Only [`parse`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct JsonText<'a>(&'a str);

impl JsonText<'_> {
    /// The JSON value as a `RawValue`, verbatim, and the whitespace around it, without the second validating
    /// pass of `RawValue::from_string` (as much work again as the parse that made this value), in one
    /// allocation of its exact size.
    pub fn to_raw_value(self) -> (Box<RawValue>, RawPadding) {
        let (padding, value) = RawPadding::split(self.0);
        let raw = match raw_value_unchecked(value) {
            // Compared with the text (a memcmp), so a serde_json release that changed the protocol would cost
            // the checked path, never a wrong payload; a unit test fails if that ever happens.
            Ok(raw) if raw.get() == value => raw,
            // The text parsed as JSON, so this cannot fail; `null` keeps the path free of panics all the same.
            _ => RawValue::from_string(value.to_owned()).unwrap_or_default(),
        };
        (raw, padding)
    }
}

/// serde_json reads a `Box<RawValue>` as a one-entry map under its token name whose value is the JSON text,
/// and keeps that text as it is (its own parser has already checked it); this hands it ours the same way.
fn raw_value_unchecked(text: &str) -> Result<Box<RawValue>, serde_json::Error> {
    const TOKEN: &str = "$serde_json::private::RawValue";
    Box::<RawValue>::deserialize(de::value::MapDeserializer::new(std::iter::once((TOKEN, text))))
}

/// A struct read from a JSON object one name at a time (see [`json_fields`]).
pub(crate) trait ReadFields<'de>: Default {
    /// Reads the value of `key` into its field; `false` (value not consumed) when the name is not ours.
    fn read_field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;
}

/// Reads a JSON object into `T`, skipping the names it does not take; the last of a repeated name wins.
pub(crate) fn read_object<'de, D: Deserializer<'de>, T: ReadFields<'de>>(deserializer: D) -> Result<T, D::Error> {
    struct ObjectVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: ReadFields<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut out = T::default();
            while let Some(key) = map.next_key::<Key<'de>>()? {
                if !out.read_field(&key.0, &mut map)? {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }

    deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
}

/// Declares a provider's field struct: each JSON name maps to a field of type [`Field`], [`Obj`] or [`List`],
/// all defaulting to absent. Unknown names are skipped without being built and, as when a JSON object is read
/// into a map, the last of a repeated name wins (a derived struct would refuse such a body).
macro_rules! json_fields {
    ($(#[$meta:meta])* struct $name:ident<'a> { $($json:literal => $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        struct $name<'a> {
            $($field: $ty,)*
        }

        impl<'de: 'a, 'a> $crate::providers::json::ReadFields<'de> for $name<'a> {
            fn read_field<A: serde::de::MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
                match key {
                    $($json => self.$field = map.next_value()?,)*
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }

        impl<'de: 'a, 'a> serde::Deserialize<'de> for $name<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::providers::json::read_object(deserializer)
            }
        }
    };
}

pub(crate) use json_fields;

/// An object key, borrowed from the body unless it has escapes.
pub(crate) struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// One scalar field as sent, borrowed from the body where it has no escapes.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<'a> {
    #[default]
    Absent,
    Null,
    Text(Cow<'a, str>),
    Number(Number),
    Bool(bool),
    /// An object or array where a scalar was expected: present, but not read.
    Nested,
}

impl<'a> Field<'a> {
    /// Whether the key was in the body at all (even as `null`).
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }

    /// A string field, trimmed, without copying; blank strings count as absent. Numbers are not rendered
    /// here: use this to match names, [`Field::text`] to keep a value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Text(s) => Some(trim(s)).filter(|s| !s.is_empty()),
            _ => None,
        }
    }

    /// The value as text: strings made safe to show ([`crate::text::clean`]: no control characters, bounded),
    /// numbers and booleans rendered. Blank strings count as absent.
    pub fn text(&self) -> Option<String> {
        match self {
            Field::Text(_) => self.text_ref().map(Cow::into_owned),
            Field::Number(n) => Some(n.to_string()),
            Field::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A finite number, from a JSON number or a numeric string.
    pub fn number(&self) -> Option<f64> {
        match self {
            Field::Number(n) => n.as_f64(),
            Field::Text(s) => trim(s).parse::<f64>().ok(),
            _ => None,
        }
        .filter(|f| f.is_finite())
    }

    /// [`Field::text`] without copying a string that needs no cleaning.
    pub fn text_ref(&self) -> Option<Cow<'_, str>> {
        match self {
            Field::Text(_) => self.as_str().map(clean).filter(|text| !text.is_empty()),
            _ => self.text().map(Cow::Owned),
        }
    }

    /// A non-negative whole number, from a JSON number or a numeric string. Fractions are rounded down.
    pub fn whole(&self) -> Option<u64> {
        let in_range = |f: f64| (f.is_finite() && (0.0..1.8e19).contains(&f)).then_some(f as u64);
        match self {
            Field::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(in_range)),
            Field::Text(s) => {
                let s = trim(s);
                s.parse::<u64>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().and_then(in_range))
            }
            _ => None,
        }
    }

    /// A JSON boolean.
    pub fn bool(&self) -> Option<bool> {
        match self {
            Field::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A provider time string.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        match self {
            Field::Text(s) => parse_provider_time(s),
            _ => None,
        }
    }
}

/// `str::trim`, answering at once for the usual value that neither begins nor ends with whitespace (a check
/// of two bytes instead of decoding characters from both ends).
fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Field::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Number::from_f64(v).map_or(Field::Null, Field::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(v.to_string())))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Nested)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Nested)
    }
}

/// The visitor methods of [`Obj`] and [`List`] for JSON scalars, which are not the shape they read: absent.
macro_rules! scalars_read_as_default {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

/// A nested object read into `T` (a struct whose fields all default), or `T::default()` when the value is
/// absent or not an object.
#[derive(Debug, Clone, Default)]
pub struct Obj<T> {
    value: T,
    was_object: bool,
}

impl<T> Obj<T> {
    /// Whether the body had an object here.
    pub fn is_object(&self) -> bool {
        self.was_object
    }

    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> std::ops::Deref for Obj<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjVisitor(std::marker::PhantomData))
    }
}

struct ObjVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Ok(Obj {
            value: T::deserialize(de::value::MapAccessDeserializer::new(map))?,
            was_object: true,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Obj::default())
    }

    scalars_read_as_default!();
}

/// A JSON array of `T`, or empty when the value is absent or not an array.
#[derive(Debug, Clone)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List::default())
            }

            scalars_read_as_default!();
        }

        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests;
