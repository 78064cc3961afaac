//! Turning flat query parameters into a typed input, then validating it
//! against the model with AWS's exact `ValidationError` texts.
//!
//! Two passes, as AWS (Coral) does them:
//!
//! 1. **Deserialize** along the input shape: `Parent.Member` for structures,
//!    `Name.member.N` for lists, `Name.entry.N.key/value` for maps, and the
//!    empty-list marker `Name=`. A scalar that cannot be read as its type
//!    (`DurationSeconds=abc`, a 32-bit overflow) stops here with
//!    `MalformedInput`, without a message, exactly as AWS answers; an empty
//!    integer gets AWS's "missing value for decimal type".
//! 2. **Validate** every constraint of every member and collect the
//!    violations in model order: required (`Value null at 'x' … Member must
//!    not be null`), then for a string its pattern, then its length in code
//!    points, then its enum; integer bounds; list sizes. All violations are
//!    reported in one `ValidationError`: `2 validation errors detected: A; B`.
//!    Member paths are camelCase (`roleSessionName`, `tags.1.member.key`).
//!
//! List items are read from index 1 upwards and stop at the first missing
//! index, as moto does (AWS's handling of gaps is unverified); unknown
//! parameters are ignored, as AWS ignores them (AWS-recorded probe).
//! Values of members the model marks sensitive are never echoed.

use meridian_core::time::Timestamp;

use crate::error::ApiError;
use crate::model::{
    self, ErrorCode, IntegerShape, ListShape, MapShape, ShapeId, ShapeKind, ShapeModel,
    StringShape, StructureShape, generated,
};
use crate::query::Params;

/// A decoded input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A `string` (also a `blob`, kept as its base64 text).
    String(String),
    /// An `integer` or `long`.
    Integer(i64),
    /// A `boolean`.
    Boolean(bool),
    /// A `timestamp`.
    Timestamp(Timestamp),
    /// A `list`.
    List(Vec<Value>),
    /// A `map`, in wire order.
    Map(Vec<(Value, Value)>),
    /// A `structure`.
    Structure(Structure),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The timestamp, if this is one.
    pub fn as_timestamp(&self) -> Option<Timestamp> {
        match self {
            Value::Timestamp(t) => Some(*t),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The structure, if this is one.
    pub fn as_structure(&self) -> Option<&Structure> {
        match self {
            Value::Structure(s) => Some(s),
            _ => None,
        }
    }
}

/// A decoded structure: one slot per model member.
#[derive(Debug, Clone)]
pub struct Structure {
    shape: &'static ShapeModel,
    fields: Vec<Option<Value>>,
}

impl Structure {
    fn model(&self) -> &'static StructureShape {
        match &self.shape.kind {
            ShapeKind::Structure(st) => st,
            // A `Structure` is only built from a structure shape.
            _ => &EMPTY_STRUCTURE,
        }
    }

    /// The member `name` (model name, e.g. `RoleSessionName`), if present.
    /// Asking for a name the shape does not have is a programming error,
    /// caught in debug builds.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let index = self.model().members.iter().position(|m| m.name == name);
        debug_assert!(index.is_some(), "{} has no member {name}", self.shape.name);
        index
            .and_then(|i| self.fields.get(i))
            .and_then(Option::as_ref)
    }

    /// A string member.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// A string member of any shape: `None` when this shape has no member
    /// `name` (where [`Structure::str`] would assert), for code that reads
    /// the same member across operations (the audit trail).
    pub fn any_str(&self, name: &str) -> Option<&str> {
        let index = self.model().members.iter().position(|m| m.name == name)?;
        self.fields
            .get(index)
            .and_then(Option::as_ref)
            .and_then(Value::as_str)
    }

    /// An integer member.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }

    /// A boolean member.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }

    /// A list member (an empty slice for `Name=`; `None` when absent).
    pub fn list(&self, name: &str) -> Option<&[Value]> {
        self.get(name).and_then(Value::as_list)
    }

    /// A structure member.
    pub fn structure(&self, name: &str) -> Option<&Structure> {
        self.get(name).and_then(Value::as_structure)
    }

    /// The model shape of this structure.
    pub fn shape_name(&self) -> &'static str {
        self.shape.name
    }
}

impl PartialEq for Structure {
    fn eq(&self, other: &Structure) -> bool {
        std::ptr::eq(self.shape, other.shape) && self.fields == other.fields
    }
}

impl Eq for Structure {}

static EMPTY_STRUCTURE: StructureShape = StructureShape {
    members: &[],
    union: false,
};

/// Decodes and validates the input of an operation whose input shape is
/// `input` from `params`.
pub fn decode_input(input: ShapeId, params: &Params) -> Result<Structure, ApiError> {
    decode_with(&generated::SHAPES, input, params)
}

/// [`decode_input`] over any shape table (tests use small synthetic ones).
pub(crate) fn decode_with(
    shapes: &'static [ShapeModel],
    input: ShapeId,
    params: &Params,
) -> Result<Structure, ApiError> {
    let mut decoder = Decoder { params, shapes };
    let structure = decoder.structure(input, "")?;
    let mut violations = Vec::new();
    let validator = Validator { shapes };
    validator.structure(&structure, "", &mut violations);
    if violations.is_empty() {
        Ok(structure)
    } else {
        Err(ApiError::validation(&violations))
    }
}

struct Decoder<'a> {
    params: &'a Params,
    shapes: &'static [ShapeModel],
}

impl Decoder<'_> {
    fn shape(&self, id: ShapeId) -> &'static ShapeModel {
        shape_in(self.shapes, id)
    }

    fn structure(&mut self, id: ShapeId, prefix: &str) -> Result<Structure, ApiError> {
        let shape = self.shape(id);
        let members = match &shape.kind {
            ShapeKind::Structure(st) => st.members,
            _ => &[],
        };
        let mut fields = Vec::with_capacity(members.len());
        for member in members {
            let key = if prefix.is_empty() {
                member.wire_name.to_owned()
            } else {
                format!("{prefix}.{}", member.wire_name)
            };
            fields.push(self.value(member.shape, &key)?);
        }
        Ok(Structure { shape, fields })
    }

    /// The value of shape `id` serialized under `key`, if present.
    fn value(&mut self, id: ShapeId, key: &str) -> Result<Option<Value>, ApiError> {
        match &self.shape(id).kind {
            ShapeKind::String(_) | ShapeKind::Blob { .. } => Ok(self
                .params
                .get(key)
                .map(|text| Value::String(text.to_owned()))),
            ShapeKind::Integer(shape) => {
                self.params.get(key).map(|t| integer(shape, t)).transpose()
            }
            ShapeKind::Boolean => self
                .params
                .get(key)
                .map(|text| match text.to_ascii_lowercase().as_str() {
                    "true" => Ok(Value::Boolean(true)),
                    "false" => Ok(Value::Boolean(false)),
                    _ => Err(ApiError::without_message(ErrorCode::MalformedInput)),
                })
                .transpose(),
            ShapeKind::Timestamp => self
                .params
                .get(key)
                .map(|text| {
                    Timestamp::parse_rfc3339(text)
                        .map(Value::Timestamp)
                        .ok_or_else(|| ApiError::without_message(ErrorCode::MalformedInput))
                })
                .transpose(),
            ShapeKind::Structure(_) => {
                if self.params.has_prefix(&format!("{key}.")) {
                    Ok(Some(Value::Structure(self.structure(id, key)?)))
                } else {
                    Ok(None)
                }
            }
            ShapeKind::List(list) => self.list(list, key),
            ShapeKind::Map(map) => self.map(map, key),
        }
    }

    fn list(&mut self, list: &ListShape, key: &str) -> Result<Option<Value>, ApiError> {
        let item_prefix = if list.flattened {
            key.to_owned()
        } else {
            format!("{key}.{}", list.member_name)
        };
        let mut items = Vec::new();
        // Each item consumes at least one parameter, so this is bounded by
        // the parameter count.
        for index in 1..=self.params.len() {
            let item_key = format!("{item_prefix}.{index}");
            match self.value(list.member, &item_key)? {
                Some(item) => items.push(item),
                None => break,
            }
        }
        if !items.is_empty() {
            return Ok(Some(Value::List(items)));
        }
        // `Name=` is how the query protocol sends an empty list.
        Ok(match self.params.get(key) {
            Some("") => Some(Value::List(Vec::new())),
            _ => None,
        })
    }

    fn map(&mut self, map: &MapShape, key: &str) -> Result<Option<Value>, ApiError> {
        let entry_prefix = if map.flattened {
            key.to_owned()
        } else {
            format!("{key}.entry")
        };
        let mut entries = Vec::new();
        for index in 1..=self.params.len() {
            let entry_key = format!("{entry_prefix}.{index}.{}", map.key_name);
            let Some(k) = self.value(map.key, &entry_key)? else {
                break;
            };
            let value_key = format!("{entry_prefix}.{index}.{}", map.value_name);
            let Some(v) = self.value(map.value, &value_key)? else {
                break;
            };
            entries.push((k, v));
        }
        if !entries.is_empty() {
            return Ok(Some(Value::Map(entries)));
        }
        Ok(match self.params.get(key) {
            Some("") => Some(Value::Map(Vec::new())),
            _ => None,
        })
    }
}

/// Reads an integer as AWS does: optional sign, leading zeros allowed, within
/// the shape's width; anything else is `MalformedInput`.
fn integer(shape: &IntegerShape, text: &str) -> Result<Value, ApiError> {
    if text.is_empty() {
        return Err(ApiError::new(
            ErrorCode::MalformedInput,
            "missing value for decimal type",
        ));
    }
    let parsed = if shape.bits == 32 {
        text.parse::<i32>().ok().map(i64::from)
    } else {
        text.parse::<i64>().ok()
    };
    parsed
        .map(Value::Integer)
        .ok_or_else(|| ApiError::without_message(ErrorCode::MalformedInput))
}

/// camelCase of a model member name, as AWS writes paths in messages.
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn join(path: &str, segment: &str) -> String {
    if path.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}.{segment}")
    }
}

fn violation(shown: Option<&str>, path: &str, constraint: &str) -> String {
    match shown {
        Some(value) => {
            format!("Value '{value}' at '{path}' failed to satisfy constraint: {constraint}")
        }
        None => format!("Value at '{path}' failed to satisfy constraint: {constraint}"),
    }
}

/// Looks `id` up in `shapes`; ids come from the same table, so the fallback
/// (an empty structure) is unreachable.
fn shape_in(shapes: &'static [ShapeModel], id: ShapeId) -> &'static ShapeModel {
    shapes.get(usize::from(id)).unwrap_or(&EMPTY_SHAPE)
}

static EMPTY_SHAPE: ShapeModel = ShapeModel {
    service: crate::model::Service::Sts,
    name: "Empty",
    kind: ShapeKind::Structure(StructureShape {
        members: &[],
        union: false,
    }),
};

struct Validator {
    shapes: &'static [ShapeModel],
}

impl Validator {
    fn structure(&self, structure: &Structure, path: &str, out: &mut Vec<String>) {
        let members = structure.model().members;
        for (member, field) in members.iter().zip(&structure.fields) {
            let member_path = join(path, &camel(member.name));
            match field {
            None if member.required => out.push(format!(
                "Value null at '{member_path}' failed to satisfy constraint: Member must not be null"
            )),
            None => {}
            Some(value) => self.value(member.shape, value, &member_path, out),
        }
        }
    }

    fn value(&self, id: ShapeId, value: &Value, path: &str, out: &mut Vec<String>) {
        match (&shape_in(self.shapes, id).kind, value) {
            (ShapeKind::String(shape), Value::String(text)) => Self::string(shape, text, path, out),
            (ShapeKind::Integer(shape), Value::Integer(number)) => {
                let shown = number.to_string();
                if let Some(min) = shape.min.filter(|min| number < min) {
                    out.push(violation(
                        Some(&shown),
                        path,
                        &format!("Member must have value greater than or equal to {min}"),
                    ));
                }
                if let Some(max) = shape.max.filter(|max| number > max) {
                    out.push(violation(
                        Some(&shown),
                        path,
                        &format!("Member must have value less than or equal to {max}"),
                    ));
                }
            }
            (ShapeKind::List(list), Value::List(items)) => {
                Self::check_count(
                    list.min,
                    list.max,
                    items.len(),
                    || self.render_list(list.member, items),
                    path,
                    out,
                );
                for (index, item) in items.iter().enumerate() {
                    let item_path = format!("{path}.{}.member", index + 1);
                    self.value(list.member, item, &item_path, out);
                }
            }
            (ShapeKind::Map(map), Value::Map(entries)) => {
                Self::check_count(
                    map.min,
                    map.max,
                    entries.len(),
                    || "{…}".to_owned(),
                    path,
                    out,
                );
                for (index, (key, value)) in entries.iter().enumerate() {
                    self.value(map.key, key, &format!("{path}.{}.key", index + 1), out);
                    self.value(
                        map.value,
                        value,
                        &format!("{path}.{}.value", index + 1),
                        out,
                    );
                }
            }
            (ShapeKind::Structure(_), Value::Structure(structure)) => {
                // Items of a list of structures: `tags.1.member.key`.
                self.structure(structure, path, out);
            }
            _ => {}
        }
    }

    fn string(shape: &StringShape, text: &str, path: &str, out: &mut Vec<String>) {
        let shown = (!shape.sensitive).then_some(text);
        if let Some(pattern) = shape.pattern
            && !model::pattern(pattern).is_match(text)
        {
            out.push(violation(
                shown,
                path,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    model::pattern_text(pattern)
                ),
            ));
        }
        let length = text.chars().count();
        if let Some(min) = shape.min.filter(|&min| length < min as usize) {
            out.push(violation(
                shown,
                path,
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
        if let Some(max) = shape.max.filter(|&max| length > max as usize) {
            out.push(violation(
                shown,
                path,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
        if !shape.enum_values.is_empty() && !shape.enum_values.contains(&text) {
            // AWS-recorded IAM text (STS-API.md §4.3) names neither the value nor
            // the set.
            out.push(violation(None, path, "Member must satisfy enum value set"));
        }
    }

    fn check_count(
        min: Option<u32>,
        max: Option<u32>,
        count: usize,
        render: impl Fn() -> String,
        path: &str,
        out: &mut Vec<String>,
    ) {
        if let Some(min) = min.filter(|&min| count < min as usize) {
            out.push(violation(
                Some(&render()),
                path,
                &format!("Member must have length greater than or equal to {min}"),
            ));
        }
        if let Some(max) = max.filter(|&max| count > max as usize) {
            out.push(violation(
                Some(&render()),
                path,
                &format!("Member must have length less than or equal to {max}"),
            ));
        }
    }

    /// Renders a list the way Java's `List.toString` would (`[a, b]`), with
    /// structures as `{Key: k, Value: v}` (AWS's exact rendering of structures
    /// is unverified) and sensitive strings hidden.
    fn render_list(&self, member: ShapeId, items: &[Value]) -> String {
        let rendered: Vec<String> = items
            .iter()
            .map(|item| self.render_value(member, item))
            .collect();
        format!("[{}]", rendered.join(", "))
    }

    fn render_value(&self, id: ShapeId, value: &Value) -> String {
        match (&shape_in(self.shapes, id).kind, value) {
            (ShapeKind::String(shape), Value::String(text)) if !shape.sensitive => text.clone(),
            (_, Value::String(_)) => "***".to_owned(),
            (_, Value::Integer(n)) => n.to_string(),
            (_, Value::Boolean(b)) => b.to_string(),
            (_, Value::Timestamp(t)) => t.to_iso8601_seconds(),
            (ShapeKind::List(list), Value::List(items)) => self.render_list(list.member, items),
            (ShapeKind::Structure(st), Value::Structure(structure)) => {
                let parts: Vec<String> = st
                    .members
                    .iter()
                    .zip(&structure.fields)
                    .filter_map(|(m, f)| {
                        f.as_ref()
                            .map(|v| format!("{}: {}", m.name, self.render_value(m.shape, v)))
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            _ => "…".to_owned(),
        }
    }
}

#[cfg(test)]
#[path = "decode_test.rs"]
mod decode_test;
