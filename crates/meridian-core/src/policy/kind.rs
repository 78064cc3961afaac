//! Kinds of policy documents, their size limits, and the pre-scan that
//! enforces size and nesting before the document is parsed.
//!
//! The pre-scan is one pass over the bytes: it tracks whether it is inside a
//! JSON string, counts characters the way IAM does ("IAM doesn't count white
//! space when calculating the size of a policy", so whitespace *outside*
//! strings is skipped; characters are Unicode scalar values, not bytes) and
//! tracks the nesting depth of arrays and objects. It stops at the first
//! limit crossed, so a 10 MB or 10,000-deep document costs at most the bytes
//! up to the point where it becomes too big, and never reaches the recursive
//! parser.

use std::fmt;

use crate::policy::errors::PolicyError;

/// The longest `PolicyDocument` / `AssumeRolePolicyDocument` IAM accepts as an
/// API parameter (raw characters), checked before anything else.
pub const MAX_DOCUMENT_CHARS: usize = 131_072;

/// The longest `Policy` parameter of the STS `AssumeRole*` and
/// `GetFederationToken` calls (raw characters, whitespace included: this is
/// the API's parameter constraint).
pub const MAX_SESSION_POLICY_CHARS: usize = 2_048;

/// The deepest nesting of arrays and objects accepted. A valid policy needs
/// six (document, `Statement` array, statement, `Condition`, operator, value
/// array); the margin leaves room for clear type errors on slightly wrong
/// documents.
pub const MAX_DEPTH: usize = 16;

/// What a document is for; decides the grammar (principals or not, resources
/// or not) and the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A customer managed policy (`CreatePolicy`, `CreatePolicyVersion`):
    /// 6,144 characters.
    Managed,
    /// A managed policy used as a permissions boundary: same grammar and
    /// limit as [`PolicyKind::Managed`].
    PermissionsBoundary,
    /// A role's inline policy (`PutRolePolicy`): 10,240 characters, which is
    /// also the aggregate limit over all of the role's inline policies.
    RoleInline,
    /// A user's inline policy (`PutUserPolicy`): 2,048 characters aggregate.
    UserInline,
    /// A group's inline policy (`PutGroupPolicy`): 5,120 characters aggregate.
    GroupInline,
    /// A role trust policy (`AssumeRolePolicyDocument`): 2,048 characters by
    /// default (AWS lets it be raised to 4,096; see [`crate::policy::compile::Policy::parse_with_limit`]).
    /// Has `Principal`, no `Resource`, only STS actions.
    Trust,
    /// A session policy passed to `AssumeRole*`/`GetFederationToken`: 2,048
    /// raw characters (the API parameter constraint, whitespace counted).
    Session,
    /// A generic resource-based policy (what S3 or SQS attach to a resource):
    /// `Principal` or `NotPrincipal` required, `Resource` required. 20,480
    /// characters (the S3 bucket policy limit).
    Resource,
}

impl PolicyKind {
    /// The default size limit in characters.
    pub fn default_limit(self) -> usize {
        match self {
            PolicyKind::Managed | PolicyKind::PermissionsBoundary => 6_144,
            PolicyKind::RoleInline => 10_240,
            PolicyKind::UserInline => 2_048,
            PolicyKind::GroupInline => 5_120,
            PolicyKind::Trust => 2_048,
            PolicyKind::Session => MAX_SESSION_POLICY_CHARS,
            PolicyKind::Resource => 20_480,
        }
    }

    /// Whether statements carry `Principal`/`NotPrincipal` (resource-based
    /// policies) rather than applying to the identity they are attached to.
    pub fn is_resource_based(self) -> bool {
        matches!(self, PolicyKind::Trust | PolicyKind::Resource)
    }

    /// Whether the size counts raw characters (the STS parameter constraint)
    /// instead of IAM's whitespace-free count.
    fn counts_raw_characters(self) -> bool {
        matches!(self, PolicyKind::Session)
    }

    /// The API parameter the document arrives in, for validation messages.
    pub fn parameter_name(self) -> &'static str {
        match self {
            PolicyKind::Session => "policy",
            PolicyKind::Trust => "assumeRolePolicyDocument",
            _ => "policyDocument",
        }
    }

    /// AWS's message when a document of this kind is too large, naming the
    /// entity when the caller knows it ("… exceeded for role admin").
    pub fn limit_exceeded_message(self, entity: Option<&str>) -> String {
        let limit = self.default_limit();
        match (self, entity) {
            (PolicyKind::Managed | PolicyKind::PermissionsBoundary, _) => {
                format!("Cannot exceed quota for PolicySize: {limit}")
            }
            (PolicyKind::Trust, _) => format!("Cannot exceed quota for ACLSizePerRole: {limit}"),
            (PolicyKind::RoleInline, Some(name)) => {
                format!("Maximum policy size of {limit} bytes exceeded for role {name}")
            }
            (PolicyKind::UserInline, Some(name)) => {
                format!("Maximum policy size of {limit} bytes exceeded for user {name}")
            }
            (PolicyKind::GroupInline, Some(name)) => {
                format!("Maximum policy size of {limit} bytes exceeded for group {name}")
            }
            _ => format!("Maximum policy size of {limit} bytes exceeded"),
        }
    }

    /// Checks an aggregate (the sum of [`policy_size`] over an entity's inline
    /// policies, new one included) against this kind's limit.
    pub fn check_aggregate(self, total_size: usize) -> Result<(), PolicyError> {
        let limit = self.default_limit();
        if total_size > limit {
            Err(PolicyError::SizeLimitExceeded {
                kind: self,
                size: total_size,
                limit,
            })
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Managed => "managed",
            PolicyKind::PermissionsBoundary => "permissions boundary",
            PolicyKind::RoleInline => "role inline",
            PolicyKind::UserInline => "user inline",
            PolicyKind::GroupInline => "group inline",
            PolicyKind::Trust => "trust",
            PolicyKind::Session => "session",
            PolicyKind::Resource => "resource-based",
        })
    }
}

/// The size of a document as IAM counts it: characters, not counting
/// whitespace outside JSON strings. Use it to sum an entity's inline policies.
pub fn policy_size(text: &str) -> usize {
    let mut scan = Prescan::new(usize::MAX, usize::MAX);
    scan.run(text.as_bytes());
    scan.count
}

/// Checks everything that can be checked without parsing: emptiness, the
/// parameter length, the kind's size limit and the nesting depth. Returns the
/// size as counted for the kind.
pub(crate) fn prescan(kind: PolicyKind, text: &str, limit: usize) -> Result<usize, PolicyError> {
    let parameter = kind.parameter_name();
    if text.is_empty() {
        return Err(PolicyError::Empty { parameter });
    }
    let parameter_max = if kind.counts_raw_characters() {
        limit
    } else {
        MAX_DOCUMENT_CHARS
    };
    // Bytes bound characters from above: only count characters when the byte
    // length alone does not settle it.
    if text.len() > parameter_max {
        let length = text.chars().count();
        if length > parameter_max {
            return Err(PolicyError::ParameterTooLong {
                parameter,
                length,
                max: parameter_max,
            });
        }
    }
    let size_limit = if kind.counts_raw_characters() {
        usize::MAX
    } else {
        limit
    };
    let mut scan = Prescan::new(size_limit, MAX_DEPTH);
    match scan.run(text.as_bytes()) {
        ScanStop::Finished => {}
        ScanStop::TooLarge => {
            return Err(PolicyError::SizeLimitExceeded {
                kind,
                size: policy_size(text),
                limit,
            });
        }
        ScanStop::TooDeep => return Err(PolicyError::TooDeep { limit: MAX_DEPTH }),
    }
    if kind.counts_raw_characters() {
        Ok(text.chars().count())
    } else {
        Ok(scan.count)
    }
}

enum ScanStop {
    Finished,
    TooLarge,
    TooDeep,
}

struct Prescan {
    count: usize,
    max_count: usize,
    max_depth: usize,
}

impl Prescan {
    fn new(max_count: usize, max_depth: usize) -> Prescan {
        Prescan {
            count: 0,
            max_count,
            max_depth,
        }
    }

    fn run(&mut self, bytes: &[u8]) -> ScanStop {
        let mut depth = 0usize;
        let mut in_string = false;
        let mut index = 0;
        while index < bytes.len() {
            if in_string {
                // Inside a string everything counts; jump to the next quote
                // or backslash and count the characters of the run at once.
                let run_end = bytes[index..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .map_or(bytes.len(), |offset| index + offset);
                self.count += count_chars(&bytes[index..run_end]);
                match bytes.get(run_end) {
                    None => index = run_end,
                    Some(b'"') => {
                        self.count += 1;
                        in_string = false;
                        index = run_end + 1;
                    }
                    Some(_) => {
                        // A backslash and the character it escapes.
                        self.count +=
                            1 + count_chars(bytes.get(run_end + 1..run_end + 2).unwrap_or(&[]));
                        index = run_end + 2;
                    }
                }
            } else {
                let byte = bytes[index];
                index += 1;
                match byte {
                    b' ' | b'\t' | b'\n' | b'\r' => continue,
                    b'"' => in_string = true,
                    b'[' | b'{' => {
                        depth += 1;
                        if depth > self.max_depth {
                            return ScanStop::TooDeep;
                        }
                    }
                    b']' | b'}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                // UTF-8 continuation bytes belong to the character already
                // counted.
                if byte & 0xC0 != 0x80 {
                    self.count += 1;
                }
            }
            if self.count > self.max_count {
                return ScanStop::TooLarge;
            }
        }
        ScanStop::Finished
    }
}

/// The number of characters in UTF-8 bytes: every byte that is not a
/// continuation byte starts one. Written so the compiler can vectorize it.
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_outside_strings_is_not_counted() {
        let compact = r#"{"a":"b c"}"#;
        let spaced = "{ \"a\" :\n\t\"b c\" }";
        assert_eq!(policy_size(compact), compact.len());
        assert_eq!(policy_size(spaced), compact.len());
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        assert_eq!(policy_size(r#""é€""#), 4);
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        assert_eq!(policy_size(r#""a\" b""#), 7);
    }

    #[test]
    fn prescan_rejects_in_order_of_cost() {
        assert_eq!(
            prescan(PolicyKind::Managed, "", 6144),
            Err(PolicyError::Empty {
                parameter: "policyDocument"
            })
        );
        let deep = "[".repeat(10_000);
        assert_eq!(
            prescan(PolicyKind::Managed, &deep, 6144),
            Err(PolicyError::TooDeep { limit: MAX_DEPTH })
        );
        let big = format!("[\"{}\"]", "x".repeat(6_141));
        assert!(matches!(
            prescan(PolicyKind::Managed, &big, 6144),
            Err(PolicyError::SizeLimitExceeded {
                size: 6145,
                limit: 6144,
                ..
            })
        ));
        let huge = " ".repeat(MAX_DOCUMENT_CHARS + 1);
        assert!(matches!(
            prescan(PolicyKind::Managed, &huge, 6144),
            Err(PolicyError::ParameterTooLong { .. })
        ));
    }

    #[test]
    fn session_policies_count_raw_characters() {
        let padded = format!("{{{}}}", " ".repeat(2_047));
        assert!(matches!(
            prescan(PolicyKind::Session, &padded, MAX_SESSION_POLICY_CHARS),
            Err(PolicyError::ParameterTooLong {
                length: 2049,
                max: 2048,
                ..
            })
        ));
    }

    #[test]
    fn aggregate_limits_follow_the_kind() {
        assert!(PolicyKind::RoleInline.check_aggregate(10_240).is_ok());
        let error = PolicyKind::RoleInline.check_aggregate(10_241).unwrap_err();
        assert_eq!(
            error.aws_message(),
            "Maximum policy size of 10240 bytes exceeded"
        );
        assert_eq!(
            PolicyKind::UserInline.limit_exceeded_message(Some("alice")),
            "Maximum policy size of 2048 bytes exceeded for user alice"
        );
    }
}
