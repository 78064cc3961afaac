"""A local SAML 2.0 IdP for the compatibility suite: metadata and signed
responses made in the test, signed with the `xmlsec1` CLI (Debian package
`xmlsec1`, installed by scripts/env.sh) and the committed test keys of
crates/meridian-core/tests/fixtures/saml/ — an implementation independent of
the server's own (bergshamra)."""

import base64
import datetime
import hashlib
import subprocess
import tempfile
import uuid
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "crates/meridian-core/tests/fixtures/saml"
AWS_ENDPOINT = "https://signin.aws.amazon.com/saml"
ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
TAG_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:"
AFFILIATION_OID = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"


def certificate_base64(name="idp-rsa.crt") -> str:
    pem = (FIXTURES / name).read_text()
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def metadata(entity_id: str, cert="idp-rsa.crt") -> str:
    """IdP metadata (well over IAM's 1,000-character minimum)."""
    return (
        '<?xml version="1.0"?>'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{certificate_base64(cert)}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>'
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.meridian.test/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


def iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


SIGNATURE_TEMPLATE = (
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
    "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
)


def response_xml(
    entity_id,
    role_arn,
    provider_arn,
    session_name="alice",
    name_id="alice@corp.example",
    attributes=None,
    audience=AWS_ENDPOINT,
    recipient=AWS_ENDPOINT,
    valid_for=300,
    signed=True,
):
    """A Response with one Assertion, its signature template in place."""
    now = datetime.datetime.now(datetime.timezone.utc)
    assertion_id = "_" + uuid.uuid4().hex
    values = {
        ROLE_ATTRIBUTE: [f"{role_arn},{provider_arn}"],
        SESSION_NAME_ATTRIBUTE: [session_name],
    }
    values.update(attributes or {})
    attribute_xml = "".join(
        f'<saml:Attribute Name="{name}">'
        + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in vals)
        + "</saml:Attribute>"
        for name, vals in values.items()
    )
    signature = SIGNATURE_TEMPLATE.replace("{id}", assertion_id) if signed else ""
    end = iso(now + datetime.timedelta(seconds=valid_for))
    return (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{iso(now)}" Destination="{recipient}">'
        f'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{entity_id}</saml:Issuer>'
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" '
        f'Version="2.0" IssueInstant="{iso(now)}">'
        f"<saml:Issuer>{entity_id}</saml:Issuer>{signature}"
        "<saml:Subject>"
        f'<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID>'
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{end}" Recipient="{recipient}"/>'
        "</saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="{iso(now - datetime.timedelta(seconds=30))}" NotOnOrAfter="{end}">'
        f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
        "</saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{iso(now)}" '
        f'SessionNotOnOrAfter="{iso(now + datetime.timedelta(hours=8))}">'
        "<saml:AuthnContext><saml:AuthnContextClassRef>"
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        f"<saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>"
        "</saml:Assertion></samlp:Response>"
    )


def sign(xml: str, key="idp-rsa") -> str:
    """Signs the template with the xmlsec1 CLI."""
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template.xml"
        signed = Path(scratch) / "signed.xml"
        template.write_text(xml)
        subprocess.run(
            [
                "xmlsec1",
                "--sign",
                "--privkey-pem",
                f"{FIXTURES / (key + '.key')},{FIXTURES / (key + '.crt')}",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                "--output",
                str(signed),
                str(template),
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return signed.read_text()


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def name_qualifier(issuer: str, account: str, provider_name: str) -> str:
    """AWS's formula: base64(SHA1(issuer + account + "/" + provider name))."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider_name}".encode()).digest()
    return base64.b64encode(digest).decode()
