//! The request model: botocore's STS and IAM input shapes as static tables.
//!
//! botocore's service models are the contract (DESIGN.md capability 1): member
//! names, types, required flags and constraints. `tools/gen_shapes.py` turns
//! the two models into `generated.rs` (only the STS operations and the IAM
//! subset of STS-API.md §4, only input shapes), so the edge needs no JSON at
//! run time and the tables are plain `static` data. Model patterns are Java
//! regular expressions; the generator translates each into an anchored Rust
//! pattern with the same meaning, and this module compiles them once.

pub mod generated;

use std::sync::LazyLock;

use regex::Regex;

pub use generated::ErrorCode;

/// Index of a shape in [`generated::SHAPES`].
pub type ShapeId = u16;

/// Index of a pattern in [`generated::PATTERNS`].
pub type PatternId = u16;

/// The two query APIs served on the same listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// AWS STS, `Version=2011-06-15`.
    Sts,
    /// AWS IAM, `Version=2010-05-08`.
    Iam,
}

impl Service {
    /// The `Version` parameter value that selects this API.
    pub const fn api_version(self) -> &'static str {
        match self {
            Service::Sts => generated::STS_API_VERSION,
            Service::Iam => generated::IAM_API_VERSION,
        }
    }

    /// The XML namespace of responses and errors.
    pub const fn xml_namespace(self) -> &'static str {
        match self {
            Service::Sts => generated::STS_XML_NAMESPACE,
            Service::Iam => generated::IAM_XML_NAMESPACE,
        }
    }

    /// The SigV4 signing name and IAM action prefix (`sts`, `iam`).
    pub const fn signing_name(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            Service::Iam => "iam",
        }
    }

    /// The service whose API version is `version`.
    pub fn from_api_version(version: &str) -> Option<Service> {
        [Service::Sts, Service::Iam]
            .into_iter()
            .find(|service| service.api_version() == version)
    }
}

/// A model pattern: the text AWS quotes in `ValidationError` messages, and its
/// anchored translation for the `regex` crate.
#[derive(Debug)]
pub struct PatternModel {
    /// The pattern exactly as in the model (and in AWS's messages).
    pub model: &'static str,
    /// The same language as an anchored Rust regex.
    pub rust: &'static str,
}

/// One shape of the model.
#[derive(Debug)]
pub struct ShapeModel {
    /// The service whose model defines it.
    pub service: Service,
    /// The model's shape name.
    pub name: &'static str,
    /// Type and constraints.
    pub kind: ShapeKind,
}

/// A shape's type with its constraints.
#[derive(Debug)]
pub enum ShapeKind {
    /// `string`, with length (in code points), pattern and enum constraints.
    String(StringShape),
    /// `integer` (32-bit) or `long` (64-bit), with value bounds.
    Integer(IntegerShape),
    /// `boolean`.
    Boolean,
    /// `timestamp` (ISO 8601 on the query protocol).
    Timestamp,
    /// `blob` (base64 on the query protocol).
    Blob {
        /// The model marks the value sensitive.
        sensitive: bool,
    },
    /// `list`, serialized as `Name.member.N`.
    List(ListShape),
    /// `map`, serialized as `Name.entry.N.key` / `Name.entry.N.value`.
    Map(MapShape),
    /// `structure`, members serialized as `Parent.Member`.
    Structure(StructureShape),
}

/// Constraints of a string shape.
#[derive(Debug)]
pub struct StringShape {
    /// Minimum length in code points.
    pub min: Option<u32>,
    /// Maximum length in code points.
    pub max: Option<u32>,
    /// Pattern the whole value must match.
    pub pattern: Option<PatternId>,
    /// Allowed values (empty: any).
    pub enum_values: &'static [&'static str],
    /// Never echo the value (web identity tokens, SAML assertions).
    pub sensitive: bool,
}

/// Constraints of an integer shape.
#[derive(Debug)]
pub struct IntegerShape {
    /// 32 for `integer`, 64 for `long`: values outside are `MalformedInput`.
    pub bits: u8,
    /// Smallest allowed value.
    pub min: Option<i64>,
    /// Largest allowed value.
    pub max: Option<i64>,
}

/// A list shape.
#[derive(Debug)]
pub struct ListShape {
    /// Shape of the items.
    pub member: ShapeId,
    /// Wire name of an item (`member` unless the model renames it).
    pub member_name: &'static str,
    /// Items as `Name.N` instead of `Name.member.N` (unused by STS and IAM).
    pub flattened: bool,
    /// Minimum item count.
    pub min: Option<u32>,
    /// Maximum item count.
    pub max: Option<u32>,
}

/// A map shape.
#[derive(Debug)]
pub struct MapShape {
    /// Shape of the keys.
    pub key: ShapeId,
    /// Shape of the values.
    pub value: ShapeId,
    /// Wire name of a key (`key`).
    pub key_name: &'static str,
    /// Wire name of a value (`value`).
    pub value_name: &'static str,
    /// Entries as `Name.N.key` instead of `Name.entry.N.key`.
    pub flattened: bool,
    /// Minimum entry count.
    pub min: Option<u32>,
    /// Maximum entry count.
    pub max: Option<u32>,
}

/// A structure shape.
#[derive(Debug)]
pub struct StructureShape {
    /// Members in model order (also the order of validation messages).
    pub members: &'static [MemberModel],
    /// Exactly one member may be set.
    pub union: bool,
}

/// One member of a structure.
#[derive(Debug)]
pub struct MemberModel {
    /// Model name (`RoleSessionName`).
    pub name: &'static str,
    /// Name on the wire (the model's `locationName`, else `name`).
    pub wire_name: &'static str,
    /// The member's shape.
    pub shape: ShapeId,
    /// The model lists it in `required`.
    pub required: bool,
}

/// One operation of the model.
#[derive(Debug)]
pub struct OperationModel {
    /// STS or IAM.
    pub service: Service,
    /// The `Action` value.
    pub name: &'static str,
    /// Input structure, if the operation takes parameters.
    pub input: Option<ShapeId>,
    /// Name of the `{Op}Result` element, if the operation returns data.
    pub result_wrapper: Option<&'static str>,
    /// `authtype: none` (AssumeRoleWithSAML, AssumeRoleWithWebIdentity).
    pub unsigned: bool,
    /// Modeled errors.
    pub errors: &'static [ErrorCode],
}

/// The shape with id `id`.
pub fn shape(id: ShapeId) -> &'static ShapeModel {
    // Ids come only from the generated tables, which reference their own rows.
    &generated::SHAPES[usize::from(id)]
}

/// The operation `action` of `service`, if the edge serves it.
pub fn operation(service: Service, action: &str) -> Option<&'static OperationModel> {
    generated::OPERATIONS
        .iter()
        .find(|op| op.service == service && op.name == action)
}

/// The compiled pattern `id`.
pub fn pattern(id: PatternId) -> &'static Regex {
    &COMPILED_PATTERNS[usize::from(id)]
}

/// The model text of pattern `id`, as quoted in validation messages.
pub fn pattern_text(id: PatternId) -> &'static str {
    generated::PATTERNS[usize::from(id)].model
}

/// Model patterns compiled once. The generator only emits patterns the
/// `regex` crate accepts, and a unit test compiles every one, so the fallback
/// (a pattern that matches nothing) is unreachable in practice.
static COMPILED_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    generated::PATTERNS
        .iter()
        .map(|p| {
            Regex::new(p.rust).unwrap_or_else(|error| {
                tracing::error!(pattern = p.model, %error, "model pattern does not compile");
                never_matches()
            })
        })
        .collect()
});

fn never_matches() -> Regex {
    // `[^\s\S]` is a valid, empty character class: nothing matches.
    #[allow(clippy::unwrap_used)]
    Regex::new(r"[^\s\S]").unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for p in &generated::PATTERNS {
            assert!(Regex::new(p.rust).is_ok(), "{} -> {}", p.model, p.rust);
        }
    }

    #[test]
    fn every_shape_reference_is_in_range() {
        let n = generated::SHAPES.len();
        let check = |id: ShapeId| assert!(usize::from(id) < n);
        for s in &generated::SHAPES {
            match &s.kind {
                ShapeKind::List(l) => check(l.member),
                ShapeKind::Map(m) => {
                    check(m.key);
                    check(m.value);
                }
                ShapeKind::Structure(st) => st.members.iter().for_each(|m| check(m.shape)),
                ShapeKind::String(st) => {
                    if let Some(p) = st.pattern {
                        assert!(usize::from(p) < generated::PATTERNS.len());
                    }
                }
                _ => {}
            }
        }
        for op in &generated::OPERATIONS {
            if let Some(input) = op.input {
                check(input);
            }
        }
    }

    /// The translated patterns keep Java's meaning: `\w` is ASCII only and
    /// `\u10000` is `\u1000` followed by `0`, so supplementary characters are
    /// outside the ARN alphabet (AWS-recorded behaviour, STS-API.md §1.2).
    #[test]
    fn patterns_keep_java_semantics() {
        let role_arn = operation(Service::Sts, "AssumeRole")
            .and_then(|op| op.input)
            .map(shape);
        let Some(ShapeKind::Structure(st)) = role_arn.map(|s| &s.kind) else {
            panic!("AssumeRole input is a structure");
        };
        let find = |name: &str| {
            let member = st.members.iter().find(|m| m.name == name);
            match member.map(|m| &shape(m.shape).kind) {
                Some(ShapeKind::String(StringShape {
                    pattern: Some(p), ..
                })) => *p,
                other => panic!("{name}: {other:?}"),
            }
        };
        let session = pattern(find("RoleSessionName"));
        assert!(session.is_match("ok-name_1+=,.@"));
        assert!(!session.is_match("é"));
        assert!(!session.is_match("bad/name"));
        assert!(!session.is_match("a\nb"));
        let arn = pattern(find("RoleArn"));
        assert!(arn.is_match("arn:aws:iam::123456789012:role/é"));
        assert!(!arn.is_match("arn:aws:iam::123456789012:role/😀"));
        assert!(!arn.is_match(""));
    }

    #[test]
    fn services_route_by_version() {
        assert_eq!(Service::from_api_version("2011-06-15"), Some(Service::Sts));
        assert_eq!(Service::from_api_version("2010-05-08"), Some(Service::Iam));
        assert_eq!(Service::from_api_version("2000-01-01"), None);
        assert!(operation(Service::Sts, "AssumeRole").is_some_and(|op| !op.unsigned));
        assert!(operation(Service::Sts, "AssumeRoleWithSAML").is_some_and(|op| op.unsigned));
        assert!(operation(Service::Sts, "AssumeRoleWithWebIdentity").is_some_and(|op| op.unsigned));
        assert!(operation(Service::Iam, "CreateRole").is_some());
        assert!(operation(Service::Iam, "AssumeRole").is_none());
        assert!(operation(Service::Iam, "CreateInstanceProfile").is_none());
    }
}
