//! Items in DynamoDB's JSON (`{"name": {"S": "Ada"}, "age": {"N": "36"}}`) read straight into
//! their types as the wire client receives them: one pass over the response's bytes, without
//! first building a map of `serde_dynamo::AttributeValue`s and then reading that.
//!
//! A type reads here as `serde_dynamo::from_item` reads it from the same item (the tests below
//! check one against the other): strings, numbers (`N` is a string; read as whatever number the
//! field is), booleans, `NULL`, maps and lists of typed values, string, number and binary sets,
//! binary (base64 in JSON), options (absent or `NULL` is `None`), newtypes, and enums (a unit
//! variant as `S`, any other as a one-entry `M`).

use base64::Engine;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use std::fmt;
use std::marker::PhantomData;

/// A `T` read from one item (or key) in DynamoDB's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemOf<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ItemOf<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(Attributes(deserializer)).map(ItemOf)
    }
}

/// The type tag of one attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum Tag {
    S,
    N,
    B,
    #[serde(rename = "BOOL")]
    Bool,
    #[serde(rename = "NULL")]
    Null,
    M,
    L,
    #[serde(rename = "SS")]
    Ss,
    #[serde(rename = "NS")]
    Ns,
    #[serde(rename = "BS")]
    Bs,
}

/// An item: a JSON object of attribute values, whatever is asked of it.
struct Attributes<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Attributes<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(AttributesVisitor(visitor))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// Hands `V` the attributes of an object, each value read by its type tag.
struct AttributesVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for AttributesVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of DynamoDB attribute values")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(TaggedValues(map))
    }
}

/// The entries of an item or an `M`: names as they are, values by their type tags.
struct TaggedValues<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TaggedValues<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(Tagged(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// The elements of an `L`, each by its type tag.
struct TaggedElements<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for TaggedElements<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.0.next_element_seed(Tagged(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// The elements of a set, all of one type (`S`, `N` or `B`) and untagged.
struct SetElements<A> {
    elements: A,
    tag: Tag,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for SetElements<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.elements.next_element_seed(Untagged {
            tag: self.tag,
            seed,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.elements.size_hint()
    }
}

/// An attribute value, `{"<tag>": <value>}`, read into what `S` asks for.
struct Tagged<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Tagged<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        deserializer.deserialize_map(TaggedVisitor(self.0))
    }
}

struct TaggedVisitor<S>(S);

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for TaggedVisitor<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DynamoDB attribute value such as {\"S\": \"text\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Value, A::Error> {
        let tag: Tag = map
            .next_key()?
            .ok_or_else(|| de::Error::invalid_length(0, &"one type tag"))?;
        let value = map.next_value_seed(Untagged { tag, seed: self.0 })?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(2, &"one type tag"));
        }
        Ok(value)
    }
}

/// The value inside a type tag, read into what `seed` asks for.
struct Untagged<S> {
    tag: Tag,
    seed: S,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Untagged<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Typed {
            tag: self.tag,
            value: deserializer,
        })
    }
}

/// A number field read from `N`: the string parsed as that type, as serde_dynamo parses it.
macro_rules! numbers {
    ($($method:ident $ty:ty,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            match self.tag {
                Tag::N => self.value.deserialize_str(Parsed::<$ty, V>(visitor, PhantomData)),
                _ => self.deserialize_any(visitor),
            }
        }
    )*};
}

/// The JSON value inside type tag `tag`, as a deserializer of what it stands for.
struct Typed<D> {
    tag: Tag,
    value: D,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Typed<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let value = self.value;
        match self.tag {
            Tag::S => value.deserialize_str(visitor),
            Tag::N => value.deserialize_str(Number(visitor)),
            Tag::B => value.deserialize_str(Binary(visitor)),
            Tag::Bool => value.deserialize_bool(visitor),
            Tag::Null => {
                null(value)?;
                visitor.visit_unit()
            }
            Tag::M => value.deserialize_map(AttributesVisitor(visitor)),
            Tag::L => value.deserialize_seq(ListVisitor(visitor)),
            Tag::Ss => value.deserialize_seq(SetVisitor(visitor, Tag::S)),
            Tag::Ns => value.deserialize_seq(SetVisitor(visitor, Tag::N)),
            Tag::Bs => value.deserialize_seq(SetVisitor(visitor, Tag::B)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        if self.tag == Tag::Null {
            null(self.value)?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        match self.tag {
            // A unit variant: its name.
            Tag::S => self.value.deserialize_str(UnitVariant(visitor)),
            // Any other: {"<variant>": <value>}.
            Tag::M => self.value.deserialize_map(EnumVisitor(visitor)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.value.deserialize_ignored_any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.string()?.deserialize_str(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.string()?.deserialize_string(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.string()?.deserialize_char(visitor)
    }

    numbers! {
        deserialize_i8 i8, deserialize_i16 i16, deserialize_i32 i32, deserialize_i64 i64,
        deserialize_i128 i128, deserialize_u8 u8, deserialize_u16 u16, deserialize_u32 u32,
        deserialize_u64 u64, deserialize_u128 u128, deserialize_f32 f32, deserialize_f64 f64,
    }

    forward_to_deserialize_any! {
        bool bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

impl<'de, D: Deserializer<'de>> Typed<D> {
    /// The value, which a string field must hold as `S`.
    fn string(self) -> Result<D, D::Error> {
        match self.tag {
            Tag::S => Ok(self.value),
            other => Err(de::Error::invalid_type(
                de::Unexpected::Other(other.name()),
                &"a string (S)",
            )),
        }
    }
}

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Tag::S => "S",
            Tag::N => "N",
            Tag::B => "B",
            Tag::Bool => "BOOL",
            Tag::Null => "NULL",
            Tag::M => "M",
            Tag::L => "L",
            Tag::Ss => "SS",
            Tag::Ns => "NS",
            Tag::Bs => "BS",
        }
    }
}

/// `NULL`'s value, which is always `true`.
fn null<'de, D: Deserializer<'de>>(value: D) -> Result<(), D::Error> {
    if bool::deserialize(value)? {
        Ok(())
    } else {
        Err(de::Error::invalid_value(
            de::Unexpected::Bool(false),
            &"NULL: true",
        ))
    }
}

/// A unit variant, named by a string.
struct UnitVariant<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for UnitVariant<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an enum variant's name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<V::Value, E> {
        self.0.visit_enum(name.into_deserializer())
    }
}

/// Hands a visitor a number of its own type.
trait VisitNumber: Sized {
    fn visit<'de, V: Visitor<'de>, E: de::Error>(self, visitor: V) -> Result<V::Value, E>;
}

macro_rules! visit_number {
    ($($ty:ty => $visit:ident,)*) => {$(
        impl VisitNumber for $ty {
            fn visit<'de, V: Visitor<'de>, E: de::Error>(self, visitor: V) -> Result<V::Value, E> {
                visitor.$visit(self)
            }
        }
    )*};
}

visit_number! {
    i8 => visit_i8, i16 => visit_i16, i32 => visit_i32, i64 => visit_i64, i128 => visit_i128,
    u8 => visit_u8, u16 => visit_u16, u32 => visit_u32, u64 => visit_u64, u128 => visit_u128,
    f32 => visit_f32, f64 => visit_f64,
}

/// An `N` read as `T`.
struct Parsed<T, V>(V, PhantomData<T>);

impl<'de, T: std::str::FromStr + VisitNumber, V: Visitor<'de>> Visitor<'de> for Parsed<T, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number of type {}", std::any::type_name::<T>())
    }

    fn visit_str<E: de::Error>(self, n: &str) -> Result<V::Value, E> {
        match n.parse::<T>() {
            Ok(number) => number.visit(self.0),
            Err(_) => Err(E::invalid_value(de::Unexpected::Str(n), &self)),
        }
    }
}

/// An `L`'s elements for `V`.
struct ListVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ListVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of DynamoDB attribute values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(TaggedElements(seq))
    }
}

/// A set's elements for `V`, each of type tag `.1`.
struct SetVisitor<V>(V, Tag);

impl<'de, V: Visitor<'de>> Visitor<'de> for SetVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DynamoDB set")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(SetElements {
            elements: seq,
            tag: self.1,
        })
    }
}

/// A number, which DynamoDB's JSON writes as a string, where nothing says which type it is:
/// handed to `V` as the integer it is, else as a float.
struct Number<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Number<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number in a string")
    }

    fn visit_str<E: de::Error>(self, n: &str) -> Result<V::Value, E> {
        if let Ok(i) = n.parse::<i64>() {
            self.0.visit_i64(i)
        } else if let Ok(u) = n.parse::<u64>() {
            self.0.visit_u64(u)
        } else if let Ok(f) = n.parse::<f64>() {
            self.0.visit_f64(f)
        } else {
            Err(E::invalid_value(de::Unexpected::Str(n), &self))
        }
    }
}

/// Binary, which DynamoDB's JSON writes as base64.
struct Binary<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Binary<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("base64 in a string")
    }

    fn visit_str<E: de::Error>(self, b: &str) -> Result<V::Value, E> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(b), &self))?;
        self.0.visit_byte_buf(bytes)
    }
}

/// An enum variant with data: a one-entry map from its name to its value.
struct EnumVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for EnumVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of one enum variant to its value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Variant(map))
    }
}

struct Variant<A>(A);

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Variant<A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(
        mut self,
        seed: S,
    ) -> Result<(S::Value, Self), A::Error> {
        let name = self
            .0
            .next_key_seed(seed)?
            .ok_or_else(|| de::Error::invalid_length(0, &"one enum variant"))?;
        Ok((name, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(mut self) -> Result<(), A::Error> {
        self.0.next_value_seed(Tagged(PhantomData::<IgnoredAny>))?;
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(
        mut self,
        seed: S,
    ) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(Tagged(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(
        mut self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(Tagged(Visit(visitor)))
    }

    fn struct_variant<V: Visitor<'de>>(
        mut self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(Tagged(Visit(visitor)))
    }
}

/// A seed that hands the value, whatever its type tag, to a visitor.
struct Visit<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for Visit<V> {
    type Value = V::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Session;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
        Named(String),
        Pair(u32, bool),
        Shaped { at: i64, tags: Vec<String> },
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Id(u64);

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Inner {
        name: String,
        #[serde(default)]
        count: Option<i32>,
    }

    /// Every shape an item can take, serde_dynamo's way.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Sample {
        id: Id,
        text: String,
        small: i8,
        big: i64,
        unsigned: u64,
        ratio: f64,
        flag: bool,
        maybe: Option<String>,
        #[serde(default)]
        absent: Option<i64>,
        list: Vec<Kind>,
        nested: Inner,
        nested_list: Vec<Vec<u16>>,
        by_name: BTreeMap<String, Inner>,
        #[serde(with = "serde_bytes_like")]
        blob: Vec<u8>,
        unit: (),
    }

    /// Bytes as serde's bytes (DynamoDB's `B`), not as a list of numbers.
    mod serde_bytes_like {
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(bytes)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            struct Bytes;
            impl serde::de::Visitor<'_> for Bytes {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                    Ok(v)
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(v.to_vec())
                }
            }
            d.deserialize_byte_buf(Bytes)
        }
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Plain),
            ".{0,8}".prop_map(Kind::Named),
            (any::<u32>(), any::<bool>()).prop_map(|(n, b)| Kind::Pair(n, b)),
            (any::<i64>(), prop::collection::vec(".{0,4}", 0..3))
                .prop_map(|(at, tags)| Kind::Shaped { at, tags }),
        ]
    }

    fn inner() -> impl Strategy<Value = Inner> {
        (".{0,12}", any::<Option<i32>>()).prop_map(|(name, count)| Inner { name, count })
    }

    fn sample() -> impl Strategy<Value = Sample> {
        (
            (
                any::<u64>(),
                ".{0,40}",
                any::<i8>(),
                any::<i64>(),
                any::<u64>(),
            ),
            (-1e12f64..1e12, any::<bool>(), any::<Option<String>>()),
            (
                prop::collection::vec(kind(), 0..4),
                inner(),
                prop::collection::vec(prop::collection::vec(any::<u16>(), 0..3), 0..3),
                prop::collection::btree_map(".{0,6}", inner(), 0..3),
                prop::collection::vec(any::<u8>(), 0..16),
            ),
        )
            .prop_map(
                |(
                    (id, text, small, big, unsigned),
                    (ratio, flag, maybe),
                    (list, nested, nested_list, by_name, blob),
                )| Sample {
                    id: Id(id),
                    text,
                    small,
                    big,
                    unsigned,
                    ratio,
                    flag,
                    maybe,
                    absent: None,
                    list,
                    nested,
                    nested_list,
                    by_name,
                    blob,
                    unit: (),
                },
            )
    }

    /// `value` as DynamoDB's JSON of its item, as serde_dynamo writes it.
    fn item_json<T: Serialize>(value: &T) -> String {
        let item: HashMap<String, serde_dynamo::AttributeValue> =
            serde_dynamo::to_item(value).expect("an item");
        serde_json::to_string(&item).expect("JSON")
    }

    proptest! {
        /// Whatever serde_dynamo writes reads back the same here, and the same as
        /// serde_dynamo reads it from the attribute values.
        #[test]
        fn items_read_as_serde_dynamo_reads_them(sample in sample()) {
            let json = item_json(&sample);
            let direct: ItemOf<Sample> = serde_json::from_str(&json).expect("read directly");
            let values: HashMap<String, serde_dynamo::AttributeValue> =
                serde_json::from_str(&json).expect("attribute values");
            let via_values: Sample = serde_dynamo::from_item(values).expect("read by serde_dynamo");
            prop_assert_eq!(&direct.0, &sample);
            prop_assert_eq!(&via_values, &sample);
        }
    }

    /// `json` (an item) read here and by serde_dynamo from its attribute values: the same.
    fn read_both<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(json: &str) -> T {
        let direct: ItemOf<T> = serde_json::from_str(json).expect("read directly");
        let values: HashMap<String, serde_dynamo::AttributeValue> =
            serde_json::from_str(json).expect("attribute values");
        let via_values: T = serde_dynamo::from_item(values).expect("read by serde_dynamo");
        assert_eq!(direct.0, via_values);
        direct.0
    }

    /// Sets, `NULL` and attributes the type does not have, which serde_dynamo never writes
    /// from these types but DynamoDB may hold.
    #[test]
    fn sets_nulls_and_unknown_attributes() {
        /// Binary, read as serde's bytes.
        #[derive(Debug, PartialEq)]
        struct Blob(Vec<u8>);
        impl<'de> Deserialize<'de> for Blob {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde_bytes_like::deserialize(d).map(Blob)
            }
        }
        #[derive(Debug, PartialEq, Deserialize)]
        struct Row {
            names: Vec<String>,
            numbers: Vec<i64>,
            blobs: Vec<Blob>,
            gone: Option<String>,
        }
        let json = r#"{"names":{"SS":["a","b"]},"numbers":{"NS":["-3","7"]},
            "blobs":{"BS":["AAE="]},"gone":{"NULL":true},
            "extra":{"M":{"x":{"L":[{"N":"1.5"},{"BOOL":false},{"B":"AA=="}]}}}}"#;
        let row: Row = read_both(json);
        assert_eq!(
            row,
            Row {
                names: vec!["a".into(), "b".into()],
                numbers: vec![-3, 7],
                blobs: vec![Blob(vec![0, 1])],
                gone: None,
            }
        );
    }

    /// A session with every attribute set reads back whole.
    #[test]
    fn a_session_reads_back_whole() {
        use crate::domain::{EndReason, Location, RiskFlag};
        let place = |city: &str| Location {
            country: "DE".into(),
            region: Some("BE".into()),
            city: Some(city.into()),
            latitude: Some("52.52".into()),
            longitude: Some("13.40".into()),
        };
        let session = Session {
            revoked_at: Some(1_739_029_600),
            revoked_by: Some(1),
            revoked_reason: Some(EndReason::RefreshTokenReuse),
            refresh_family: Some("f".repeat(43)),
            refresh_generation: 3,
            refresh_rotated_at: Some(1_739_029_000),
            credential_epoch: 2,
            global_epoch: 1,
            auth_time: Some(1_739_010_600),
            auth_generation: 2,
            label: Some("work laptop".into()),
            location: Some(place("Berlin")),
            located_at: Some(1_739_029_000),
            signin_location: Some(place("Potsdam")),
            risk_flags: vec![RiskFlag::LocationChanged, RiskFlag::ImpossibleTravel],
            reported_at: Some(1_739_029_700),
            ..crate::domain::session::tests::session()
        };
        let read: Session = read_both(&item_json(&session));
        assert_eq!(read, session);
    }

    /// A user item as stored, with a second factor that is only ever read as present.
    #[test]
    fn a_user_reads_as_serde_dynamo_reads_it() {
        let json = r#"{"user_id":{"N":"74"},"email":{"S":"ada@example.com"},
            "display_name":{"S":"Ada"},"role":{"S":"admin"},"password_hash":{"S":"$argon2id$x"},
            "disabled":{"BOOL":false},"created_at":{"N":"1739010600"},
            "credential_epoch":{"N":"4"},"known_networks":{"L":[{"S":"203.0.113.0/24"}]},
            "totp_secret":{"M":{"secret":{"S":"x"}}},"changed_by":{"N":"1"},
            "epoch_reason":{"S":"password_changed"}}"#;
        let user: crate::domain::User = read_both(json);
        assert!(user.mfa_enabled && user.is_active_admin());
        assert_eq!(user.credential_epoch, 4);
    }

    /// Values of another type than the field's, and malformed `NULL`s, are errors, as
    /// serde_dynamo makes them.
    #[test]
    fn mistyped_values_are_errors() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Row {
            text: Option<String>,
            unsigned: Option<u64>,
            role: Option<crate::domain::Role>,
        }
        for json in [
            r#"{"text":{"B":"QQ=="}}"#,
            r#"{"text":{"N":"1"}}"#,
            r#"{"text":{"NULL":false}}"#,
            r#"{"text":{"NULL":"x"}}"#,
            r#"{"unsigned":{"N":"-1"}}"#,
            r#"{"unsigned":{"N":"-0"}}"#,
            r#"{"role":{"S":{"admin":null}}}"#,
            r#"{"role":{"S":"root"}}"#,
        ] {
            assert!(
                serde_json::from_str::<ItemOf<Row>>(json).is_err(),
                "{json} was read"
            );
            let values: HashMap<String, serde_dynamo::AttributeValue> =
                match serde_json::from_str(json) {
                    Ok(values) => values,
                    Err(_) => continue,
                };
            assert!(
                serde_dynamo::from_item::<_, Row>(values).is_err(),
                "serde_dynamo reads {json}"
            );
        }
        let row: ItemOf<Row> =
            serde_json::from_str(r#"{"text":{"NULL":true},"role":{"S":"admin"}}"#).expect("read");
        assert_eq!(
            (row.0.text, row.0.role),
            (None, Some(crate::domain::Role::Admin))
        );
    }

    /// Malformed attribute values are errors, never a default.
    #[test]
    fn malformed_values_are_errors() {
        #[derive(Debug, Deserialize)]
        struct Row {
            #[allow(dead_code)]
            n: i64,
        }
        for json in [
            r#"{"n":{"N":"x"}}"#,
            r#"{"n":{"S":"1"}}"#,
            r#"{"n":{}}"#,
            r#"{"n":{"N":"1","S":"1"}}"#,
            r#"{"n":{"Q":"1"}}"#,
            r#"{"n":{"N":"9223372036854775808"}}"#,
            r#"{"n":1}"#,
            r#"{"n":{"N":"1.0"}}"#,
        ] {
            assert!(
                serde_json::from_str::<ItemOf<Row>>(json).is_err(),
                "{json} was read"
            );
        }
    }
}
