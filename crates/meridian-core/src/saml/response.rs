//! Verifying a `SAMLResponse` and reading the one assertion it vouches for.
//!
//! The order is what keeps signature wrapping out (RELIABILITY.md b.3):
//!
//! 1. length cap on the base64 text, then decode; any `<!DOCTYPE` or
//!    `<!ENTITY` is refused before parsing, and the parser forbids DTDs too;
//! 2. one parse (bergshamra's DOM, uppsala) serves verification and reading,
//!    so no second parser can disagree with the verified one;
//! 3. shape: the document element is `samlp:Response`, it holds exactly one
//!    `saml:Assertion` anywhere in the document, as its direct child, and no
//!    `EncryptedAssertion`; ID attributes are unique; every `ds:Signature`
//!    sits directly in the Response or in that Assertion;
//! 4. algorithm allow-list per signature, before any cryptography: exclusive
//!    c14n (without comments) for `SignedInfo`, RSA-SHA256/384/512 or
//!    ECDSA-SHA256/384/512, one `Reference` whose URI is `#` + the ID of the
//!    signature's own parent, transforms only enveloped-signature and
//!    exclusive c14n, digests SHA-256/384/512. SHA-1 (signature or digest),
//!    HMAC, XSLT/XPath transforms and external references are refused:
//!    RELIABILITY.md asks for the allow-list, and an IdP that still signs with
//!    SHA-1 can be switched to SHA-256 in its settings (all current ones can);
//! 5. bergshamra verifies every signature with the provider's registered keys
//!    only (`trusted_keys_only`: a `KeyInfo` in the document is never a source
//!    of trust) and strict reference positions; every signature must be
//!    valid and its reference must resolve to its parent element;
//! 6. the assertion is covered when it carries its own valid signature or
//!    the Response (its parent) does; otherwise it is refused;
//! 7. only then is the assertion read, from the node the signature covers,
//!    with text values read whole: a comment, element or processing
//!    instruction inside `NameID`, `Issuer`, `Audience` or an
//!    `AttributeValue` is refused (comment injection, CVE-2017-11427 class).
//!
//! Then the content checks: `Issuer` equals the provider's entity id,
//! `Audience` (every `AudienceRestriction` must contain ours), a bearer
//! `SubjectConfirmation` whose `Recipient` is ours, `NotBefore` and
//! `NotOnOrAfter` of the `Conditions` and of that `SubjectConfirmationData`,
//! with [`CLOCK_SKEW_SECONDS`] of leeway.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bergshamra::VerifyResult;
use bergshamra::xml::uppsala::{self, Document, NodeId, NodeKind};

use super::metadata::IdpMetadata;
use super::{
    NS_ASSERTION, NS_DSIG, NS_PROTOCOL, SamlAttribute, SamlError, VerifiedAssertion,
    check_no_doctype,
};
use crate::time::Timestamp;

/// Longest accepted `SAMLAssertion` parameter (the STS model's limit).
pub const MAX_ENCODED_LEN: usize = 100_000;
/// Clock skew tolerated on `NotBefore` and `NotOnOrAfter`.
pub const CLOCK_SKEW_SECONDS: i64 = 60;
/// Most attributes read from one assertion.
const MAX_ATTRIBUTES: usize = 256;
/// Most values of one attribute.
const MAX_ATTRIBUTE_VALUES: usize = 256;

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SIGNATURE_METHODS: [&str; 6] = [
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const DIGEST_METHODS: [&str; 3] = [
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// Attributes that carry element IDs (what bergshamra resolves references
/// against).
const ID_ATTRIBUTES: [&str; 4] = ["ID", "Id", "id", "AssertionID"];

/// What the response must be addressed to, and when it is checked.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The time of the check.
    pub now: Timestamp,
    /// The service-provider ids we answer to: every `AudienceRestriction`
    /// must name one of them.
    pub audiences: &'a [&'a str],
    /// The endpoint a bearer confirmation's `Recipient` must name.
    pub recipient: &'a str,
}

/// Verifies `encoded` (the base64 `SAMLResponse`) against `idp` and returns
/// the assertion it vouches for.
pub fn verify_response(
    encoded: &str,
    idp: &IdpMetadata,
    expect: &Expectations<'_>,
) -> Result<VerifiedAssertion, SamlError> {
    if encoded.len() > MAX_ENCODED_LEN {
        return Err(SamlError::TooLarge);
    }
    let compact: Vec<u8> = encoded
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let bytes = BASE64.decode(&compact).map_err(|_| SamlError::NotBase64)?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| SamlError::Malformed)?;
    check_no_doctype(xml)?;
    let doc = uppsala::Parser::new()
        .with_forbid_dtd(true)
        .parse(xml)
        .map_err(|_| SamlError::Malformed)?;

    let shape = Shape::of(&doc)?;
    for &signature in &shape.signatures {
        check_algorithms(&doc, signature)?;
    }
    let results =
        bergshamra::dsig::verify::verify_all_document_with_source(idp.verifier(), &doc, Some(xml))
            .map_err(|error| match error {
                bergshamra::Error::XmlStructure(text) if text.contains("duplicate ID") => {
                    SamlError::DuplicateId
                }
                _ => SamlError::SignatureInvalid,
            })?;
    let mut covered = false;
    for result in &results {
        let VerifyResult::Valid {
            signature_node,
            references,
            ..
        } = result
        else {
            return Err(SamlError::SignatureInvalid);
        };
        let parent = doc
            .parent(*signature_node)
            .ok_or(SamlError::SignatureInvalid)?;
        let all_on_parent = !references.is_empty()
            && references
                .iter()
                .all(|r| r.digest_verified && r.resolved_node == Some(parent));
        if !all_on_parent {
            return Err(SamlError::SignatureInvalid);
        }
        if parent == shape.assertion || parent == shape.response {
            covered = true;
        }
    }
    if results.len() != shape.signatures.len() || !covered {
        return Err(SamlError::Unsigned);
    }
    read_assertion(&doc, &shape, idp, expect)
}

/// The verified document's structure.
struct Shape {
    response: NodeId,
    assertion: NodeId,
    signatures: Vec<NodeId>,
}

impl Shape {
    fn of(doc: &Document<'_>) -> Result<Shape, SamlError> {
        let response = doc
            .document_element()
            .filter(|&root| is(doc, root, NS_PROTOCOL, "Response"))
            .ok_or(SamlError::NotAResponse)?;
        if !doc
            .get_elements_by_tag_name_ns(NS_ASSERTION, "EncryptedAssertion")
            .is_empty()
        {
            return Err(SamlError::EncryptedAssertion);
        }
        let assertions = doc.get_elements_by_tag_name_ns(NS_ASSERTION, "Assertion");
        let [assertion] = assertions.as_slice() else {
            return Err(SamlError::AssertionCount);
        };
        if doc.parent(*assertion) != Some(response) {
            return Err(SamlError::AssertionCount);
        }
        // Unique IDs across the whole document, whatever attribute carries
        // them (bergshamra also refuses duplicates when building its map).
        let mut ids: HashSet<&str> = HashSet::new();
        for node in doc.descendants(doc.root()) {
            if let Some(element) = doc.element(node) {
                for name in ID_ATTRIBUTES {
                    if let Some(value) = element.get_attribute(name)
                        && !ids.insert(value)
                    {
                        return Err(SamlError::DuplicateId);
                    }
                }
            }
        }
        let signatures = doc.get_elements_by_tag_name_ns(NS_DSIG, "Signature");
        for &signature in &signatures {
            let parent = doc.parent(signature);
            if parent != Some(response) && parent != Some(*assertion) {
                return Err(SamlError::SignatureMisplaced);
            }
        }
        if signatures.is_empty() {
            return Err(SamlError::Unsigned);
        }
        Ok(Shape {
            response,
            assertion: *assertion,
            signatures,
        })
    }
}

/// The allow-list of step 4.
fn check_algorithms(doc: &Document<'_>, signature: NodeId) -> Result<(), SamlError> {
    let refused = SamlError::AlgorithmNotAllowed;
    let signed_info = only_child(doc, signature, NS_DSIG, "SignedInfo").ok_or(refused)?;
    let algorithm = |node: NodeId| doc.get_attribute(node, "Algorithm");
    let c14n = only_child(doc, signed_info, NS_DSIG, "CanonicalizationMethod").ok_or(refused)?;
    if algorithm(c14n) != Some(EXC_C14N) {
        return Err(refused);
    }
    let method = only_child(doc, signed_info, NS_DSIG, "SignatureMethod").ok_or(refused)?;
    if !algorithm(method).is_some_and(|uri| SIGNATURE_METHODS.contains(&uri))
        || doc.children_iter(method).any(|c| doc.element(c).is_some())
    {
        return Err(refused);
    }
    let references: Vec<NodeId> = element_children(doc, signed_info)
        .filter(|&c| is(doc, c, NS_DSIG, "Reference"))
        .collect();
    let [reference] = references.as_slice() else {
        return Err(refused);
    };
    // The reference must name the signature's parent by its ID.
    let parent_id = doc
        .parent(signature)
        .and_then(|parent| doc.get_attribute(parent, "ID"))
        .ok_or(SamlError::SignatureInvalid)?;
    let uri = doc.get_attribute(*reference, "URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(parent_id) || parent_id.is_empty() {
        return Err(SamlError::SignatureInvalid);
    }
    for child in element_children(doc, *reference) {
        if is(doc, child, NS_DSIG, "Transforms") {
            for transform in element_children(doc, child) {
                let ok = is(doc, transform, NS_DSIG, "Transform")
                    && matches!(algorithm(transform), Some(ENVELOPED | EXC_C14N))
                    && element_children(doc, transform).all(|inner| {
                        // exc-c14n's InclusiveNamespaces is its only parameter.
                        doc.element(inner)
                            .is_some_and(|e| e.name.local_name == "InclusiveNamespaces")
                    });
                if !ok {
                    return Err(refused);
                }
            }
        } else if is(doc, child, NS_DSIG, "DigestMethod") {
            if !algorithm(child).is_some_and(|uri| DIGEST_METHODS.contains(&uri)) {
                return Err(refused);
            }
        } else if !is(doc, child, NS_DSIG, "DigestValue") {
            return Err(refused);
        }
    }
    Ok(())
}

/// Step 7 and the content checks.
fn read_assertion(
    doc: &Document<'_>,
    shape: &Shape,
    idp: &IdpMetadata,
    expect: &Expectations<'_>,
) -> Result<VerifiedAssertion, SamlError> {
    let response = shape.response;
    let assertion = shape.assertion;
    if let Some(status) = child(doc, response, NS_PROTOCOL, "Status") {
        let code = child(doc, status, NS_PROTOCOL, "StatusCode")
            .and_then(|code| doc.get_attribute(code, "Value"));
        if code != Some(SUCCESS) {
            return Err(SamlError::NotSuccess);
        }
    }
    if doc.get_attribute(assertion, "Version") != Some("2.0") {
        return Err(SamlError::Malformed);
    }
    let id = doc
        .get_attribute(assertion, "ID")
        .filter(|id| !id.is_empty() && id.len() <= 256)
        .ok_or(SamlError::Malformed)?
        .to_owned();

    // Issuer: the assertion's, and the Response's when it has one.
    let issuer = child(doc, assertion, NS_ASSERTION, "Issuer")
        .ok_or(SamlError::Malformed)
        .and_then(|node| text(doc, node))?;
    if issuer != idp.entity_id() {
        return Err(SamlError::IssuerMismatch);
    }
    if let Some(node) = child(doc, response, NS_ASSERTION, "Issuer")
        && text(doc, node)? != idp.entity_id()
    {
        return Err(SamlError::IssuerMismatch);
    }

    // Subject.
    let subject = child(doc, assertion, NS_ASSERTION, "Subject").ok_or(SamlError::Malformed)?;
    let name_id_node = child(doc, subject, NS_ASSERTION, "NameID").ok_or(SamlError::Malformed)?;
    let name_id = text(doc, name_id_node)?;
    if name_id.is_empty() {
        return Err(SamlError::Malformed);
    }
    let name_id_format = doc.get_attribute(name_id_node, "Format").map(str::to_owned);

    // Time and audience conditions.
    let leeway = CLOCK_SKEW_SECONDS * 1000;
    let now = expect.now;
    let check_window = |not_before: Option<&str>,
                        not_on_or_after: Option<&str>|
     -> Result<Option<Timestamp>, SamlError> {
        if let Some(text) = not_before {
            let at = Timestamp::parse_rfc3339(text).ok_or(SamlError::Malformed)?;
            if at.millis_since(now) > leeway {
                return Err(SamlError::NotYetValid);
            }
        }
        match not_on_or_after {
            Some(text) => {
                let at = Timestamp::parse_rfc3339(text).ok_or(SamlError::Malformed)?;
                if now.millis_since(at) >= leeway {
                    return Err(SamlError::Expired);
                }
                Ok(Some(at))
            }
            None => Ok(None),
        }
    };
    let conditions =
        child(doc, assertion, NS_ASSERTION, "Conditions").ok_or(SamlError::Malformed)?;
    let conditions_end = check_window(
        doc.get_attribute(conditions, "NotBefore"),
        doc.get_attribute(conditions, "NotOnOrAfter"),
    )?;
    let restrictions: Vec<NodeId> = element_children(doc, conditions)
        .filter(|&c| is(doc, c, NS_ASSERTION, "AudienceRestriction"))
        .collect();
    if restrictions.is_empty() {
        return Err(SamlError::AudienceMismatch);
    }
    let mut matched_audience = None;
    for restriction in restrictions {
        let mut named = None;
        for audience in element_children(doc, restriction) {
            if is(doc, audience, NS_ASSERTION, "Audience") {
                let value = text(doc, audience)?;
                if expect.audiences.contains(&value.as_str()) {
                    named = Some(value);
                }
            }
        }
        match named {
            Some(value) => matched_audience = Some(value),
            None => return Err(SamlError::AudienceMismatch),
        }
    }
    let audience = matched_audience.ok_or(SamlError::AudienceMismatch)?;

    // A bearer confirmation addressed to us.
    let mut confirmation = None;
    for node in
        element_children(doc, subject).filter(|&c| is(doc, c, NS_ASSERTION, "SubjectConfirmation"))
    {
        if doc.get_attribute(node, "Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = child(doc, node, NS_ASSERTION, "SubjectConfirmationData") else {
            continue;
        };
        if doc.get_attribute(data, "Recipient") == Some(expect.recipient) {
            confirmation = Some(data);
            break;
        }
    }
    let data = confirmation.ok_or(SamlError::RecipientMismatch)?;
    let confirmation_end = check_window(
        doc.get_attribute(data, "NotBefore"),
        doc.get_attribute(data, "NotOnOrAfter"),
    )?
    .ok_or(SamlError::Malformed)?;
    let valid_until = conditions_end.map_or(confirmation_end, |end| end.min(confirmation_end));

    let session_not_on_or_after = match child(doc, assertion, NS_ASSERTION, "AuthnStatement")
        .and_then(|statement| doc.get_attribute(statement, "SessionNotOnOrAfter"))
    {
        Some(text) => Some(Timestamp::parse_rfc3339(text).ok_or(SamlError::Malformed)?),
        None => None,
    };

    let mut attributes: Vec<SamlAttribute> = Vec::new();
    for statement in
        element_children(doc, assertion).filter(|&c| is(doc, c, NS_ASSERTION, "AttributeStatement"))
    {
        for attribute in
            element_children(doc, statement).filter(|&c| is(doc, c, NS_ASSERTION, "Attribute"))
        {
            if attributes.len() >= MAX_ATTRIBUTES {
                return Err(SamlError::TooLarge);
            }
            let name = doc
                .get_attribute(attribute, "Name")
                .ok_or(SamlError::Malformed)?
                .to_owned();
            let mut values = Vec::new();
            for value in element_children(doc, attribute)
                .filter(|&c| is(doc, c, NS_ASSERTION, "AttributeValue"))
            {
                if values.len() >= MAX_ATTRIBUTE_VALUES {
                    return Err(SamlError::TooLarge);
                }
                values.push(text(doc, value)?.trim().to_owned());
            }
            attributes.push(SamlAttribute { name, values });
        }
    }

    Ok(VerifiedAssertion {
        id,
        issuer,
        name_id,
        name_id_format,
        audience,
        recipient: expect.recipient.to_owned(),
        valid_until,
        session_not_on_or_after,
        attributes,
    })
}

/// The whole text of a text-only element. Anything else inside (a comment,
/// an element, a processing instruction) is refused, so a value is never
/// read as "the first text node" of something the signature saw differently.
fn text(doc: &Document<'_>, node: NodeId) -> Result<String, SamlError> {
    let mut out = String::new();
    for child in doc.children_iter(node) {
        match doc.node_kind(child) {
            Some(NodeKind::Text(text) | NodeKind::CData(text)) => out.push_str(text),
            _ => return Err(SamlError::MixedContent),
        }
    }
    Ok(out)
}

fn is(doc: &Document<'_>, node: NodeId, namespace: &str, local: &str) -> bool {
    doc.element(node)
        .is_some_and(|e| e.name.matches(Some(namespace), local))
}

fn element_children<'d>(
    doc: &'d Document<'_>,
    parent: NodeId,
) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(parent)
        .filter(move |&c| doc.element(c).is_some())
}

/// The first child element named `{namespace}local`.
fn child(doc: &Document<'_>, parent: NodeId, namespace: &str, local: &str) -> Option<NodeId> {
    element_children(doc, parent).find(|&c| is(doc, c, namespace, local))
}

/// The child element named `{namespace}local` when there is exactly one.
fn only_child(doc: &Document<'_>, parent: NodeId, namespace: &str, local: &str) -> Option<NodeId> {
    let mut found = element_children(doc, parent).filter(|&c| is(doc, c, namespace, local));
    let first = found.next()?;
    found.next().is_none().then_some(first)
}
