//! IdP metadata (`md:EntityDescriptor`): the issuer's entity id and its
//! signing certificates, read once when a SAML provider is created or its
//! metadata replaced, and kept with the provider as an [`IdpMetadata`] whose
//! prepared verifier every `AssumeRoleWithSAML` of that provider shares.
//!
//! Only what verification needs is read: `entityID` and the `X509Certificate`s
//! of the `KeyDescriptor`s of the `IDPSSODescriptor` whose `use` is `signing`
//! or absent (SAML metadata §2.4.1.1: no `use` means both uses). A
//! certificate whose key is not RSA of at least 2048 bits or ECDSA on P-256,
//! P-384 or P-521 is not usable; metadata with no usable certificate is
//! refused, as AWS refuses it. Certificate validity dates and chains are not
//! checked: the metadata itself is the trust anchor (as with AWS, which pins
//! the uploaded certificates and ignores their expiry).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bergshamra::xml::uppsala::{self, Document, NodeId, NodeKind};
use bergshamra::{DsigContext, Key, KeysManager};

use super::{NS_DSIG, NS_METADATA, check_no_doctype};

/// Most signing certificates kept per provider (AWS allows a handful while
/// an IdP rolls its key).
pub const MAX_SIGNING_CERTIFICATES: usize = 8;
/// Largest accepted certificate (DER).
const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// Why metadata cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not well-formed XML, or it carries a DOCTYPE.
    #[error("the metadata is not well-formed XML without a DOCTYPE")]
    NotXml,
    /// The document element is not an `md:EntityDescriptor` with an
    /// `entityID`.
    #[error("the metadata is not an EntityDescriptor with an entityID")]
    NotEntityDescriptor,
    /// No `IDPSSODescriptor` carries a usable signing certificate.
    #[error("the metadata has no usable signing certificate")]
    NoSigningCertificate,
}

/// What a SAML provider's metadata says about its signatures, with a
/// verifier prepared from it (trusted keys only, strict reference positions).
#[derive(Clone)]
pub struct IdpMetadata {
    entity_id: String,
    certificates: Vec<Vec<u8>>,
    verifier: Arc<DsigContext>,
}

impl IdpMetadata {
    /// Reads `metadata` (an `md:EntityDescriptor` document).
    pub fn parse(metadata: &str) -> Result<IdpMetadata, MetadataError> {
        check_no_doctype(metadata).map_err(|_| MetadataError::NotXml)?;
        let doc = uppsala::Parser::new()
            .with_forbid_dtd(true)
            .parse(metadata)
            .map_err(|_| MetadataError::NotXml)?;
        let root = doc
            .document_element()
            .ok_or(MetadataError::NotEntityDescriptor)?;
        let entity_id = doc
            .element(root)
            .filter(|e| e.name.matches(Some(NS_METADATA), "EntityDescriptor"))
            .and_then(|e| e.get_attribute("entityID"))
            .filter(|id| !id.is_empty() && id.len() <= 1024)
            .ok_or(MetadataError::NotEntityDescriptor)?
            .to_owned();
        let mut certificates = Vec::new();
        let mut keys = KeysManager::new();
        for descriptor in children(&doc, root, NS_METADATA, "IDPSSODescriptor") {
            for key_descriptor in children(&doc, descriptor, NS_METADATA, "KeyDescriptor") {
                let usable_for_signing = doc
                    .get_attribute(key_descriptor, "use")
                    .is_none_or(|usage| usage == "signing");
                if !usable_for_signing {
                    continue;
                }
                for der in certificates_of(&doc, key_descriptor) {
                    if certificates.len() >= MAX_SIGNING_CERTIFICATES || certificates.contains(&der)
                    {
                        continue;
                    }
                    if let Some(key) = usable_key(&der) {
                        keys.add_key(key);
                        certificates.push(der);
                    }
                }
            }
        }
        if certificates.is_empty() {
            return Err(MetadataError::NoSigningCertificate);
        }
        Ok(IdpMetadata {
            entity_id,
            certificates,
            verifier: Arc::new(verifier(keys)),
        })
    }

    /// The IdP's `entityID`: assertions must name it as their `Issuer`.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The usable signing certificates (DER), in document order.
    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }

    /// The prepared verifier.
    pub(crate) fn verifier(&self) -> &DsigContext {
        &self.verifier
    }
}

impl PartialEq for IdpMetadata {
    fn eq(&self, other: &IdpMetadata) -> bool {
        // The verifier is derived from the certificates.
        self.entity_id == other.entity_id && self.certificates == other.certificates
    }
}

impl Eq for IdpMetadata {}

impl fmt::Debug for IdpMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdpMetadata")
            .field("entity_id", &self.entity_id)
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// The verification settings: only the registered keys (any `KeyInfo` in
/// the document is ignored for trust), references that must be the
/// signature's parent or an ancestor (`strict_verification`), digests of
/// every reference computed locally, no external resolution.
fn verifier(keys: KeysManager) -> DsigContext {
    let mut context = DsigContext::new(keys)
        .with_trusted_keys_only(true)
        .with_strict_verification(true)
        .with_require_reference_digests(true);
    // No trust anchors are configured, so certificate chains and their
    // dates are never evaluated (no wall clock in core).
    context.verify_keys = false;
    context
}

/// A key from a certificate, if its algorithm is allowed.
fn usable_key(der: &[u8]) -> Option<Key> {
    if der.len() > MAX_CERTIFICATE_LEN {
        return None;
    }
    let key = bergshamra::keys::loader::load_x509_cert_der(der).ok()?;
    let allowed = match key.data.algorithm_name() {
        "RSA" => key
            .data
            .to_spki_der()
            .and_then(|spki| aws_lc_rs::rsa::PublicEncryptingKey::from_der(&spki).ok())
            .is_some_and(|public| public.key_size_bits() >= 2048),
        "EC-P256" | "EC-P384" | "EC-P521" => true,
        _ => false,
    };
    allowed.then_some(key)
}

/// The DER of every `ds:KeyInfo/ds:X509Data/ds:X509Certificate` under a
/// `KeyDescriptor`.
fn certificates_of(doc: &Document<'_>, key_descriptor: NodeId) -> Vec<Vec<u8>> {
    let mut found = Vec::new();
    for key_info in children(doc, key_descriptor, NS_DSIG, "KeyInfo") {
        for data in children(doc, key_info, NS_DSIG, "X509Data") {
            for cert in children(doc, data, NS_DSIG, "X509Certificate") {
                let text: String = doc
                    .children_iter(cert)
                    .filter_map(|child| match doc.node_kind(child) {
                        Some(NodeKind::Text(text) | NodeKind::CData(text)) => Some(text.as_ref()),
                        _ => None,
                    })
                    .flat_map(str::chars)
                    .filter(|c| !c.is_ascii_whitespace())
                    .collect();
                if let Ok(der) = BASE64.decode(text.as_bytes()) {
                    found.push(der);
                }
            }
        }
    }
    found
}

/// Child elements of `parent` named `{namespace}local`.
fn children<'d>(
    doc: &'d Document<'_>,
    parent: NodeId,
    namespace: &'d str,
    local: &'d str,
) -> impl Iterator<Item = NodeId> + 'd {
    doc.children_iter(parent).filter(move |child| {
        doc.element(*child)
            .is_some_and(|e| e.name.matches(Some(namespace), local))
    })
}
