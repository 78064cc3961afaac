//! Identity providers: OpenID Connect (`…OpenIDConnectProvider…`) and SAML
//! (`…SAMLProvider…`) CRUD and tags.
//!
//! OIDC: the URL must be `https://host[/path]` without a port (at most 255
//! characters); it is unique per account and the ARN is
//! `arn:…:oidc-provider/{host/path}`. `GetOpenIDConnectProvider` returns the
//! URL without its scheme, as AWS does. At most five thumbprints of 40 hex
//! characters and 100 client ids.
//!
//! SAML: the metadata document is stored as uploaded; it must be an XML
//! `EntityDescriptor` with at least one usable signing certificate (read by
//! `meridian_core::saml::IdpMetadata`, which the state machine derives again
//! when it applies the write), so a typo'd file name, a JSON document or
//! metadata with only a 1024-bit key is refused at once. Assertion encryption and
//! private keys are not in the replicated model: `AssertionEncryptionMode`
//! `Allowed` (the default) is accepted, anything that would need a key is
//! refused rather than silently dropped.

use meridian_core::arn::Arn;
use meridian_core::config::command::{Command, TagTarget};
use meridian_core::config::error::{ConfigError, EntityKind};
use meridian_core::config::limits;
use meridian_core::config::model::{OidcProvider, SamlProvider, Tags};
use meridian_core::saml::IdpMetadata;

use crate::error::ApiError;
use crate::iam::paging::PageRequest;
use crate::iam::render;
use crate::iam::{Call, IamHandler, errors};
use crate::xml::XmlResult;

pub(super) const HANDLERS: &[(&str, IamHandler)] = &[
    ("CreateOpenIDConnectProvider", |call| {
        Box::pin(create_oidc(call))
    }),
    ("GetOpenIDConnectProvider", |call| Box::pin(get_oidc(call))),
    ("ListOpenIDConnectProviders", |call| {
        Box::pin(list_oidc(call))
    }),
    ("DeleteOpenIDConnectProvider", |call| {
        Box::pin(delete_oidc(call))
    }),
    ("AddClientIDToOpenIDConnectProvider", |call| {
        Box::pin(add_client_id(call))
    }),
    ("RemoveClientIDFromOpenIDConnectProvider", |call| {
        Box::pin(remove_client_id(call))
    }),
    ("UpdateOpenIDConnectProviderThumbprint", |call| {
        Box::pin(update_thumbprints(call))
    }),
    ("TagOpenIDConnectProvider", |call| Box::pin(tag_oidc(call))),
    ("UntagOpenIDConnectProvider", |call| {
        Box::pin(untag_oidc(call))
    }),
    ("ListOpenIDConnectProviderTags", |call| {
        Box::pin(list_oidc_tags(call))
    }),
    ("CreateSAMLProvider", |call| Box::pin(create_saml(call))),
    ("GetSAMLProvider", |call| Box::pin(get_saml(call))),
    ("ListSAMLProviders", |call| Box::pin(list_saml(call))),
    ("UpdateSAMLProvider", |call| Box::pin(update_saml(call))),
    ("DeleteSAMLProvider", |call| Box::pin(delete_saml(call))),
    ("TagSAMLProvider", |call| Box::pin(tag_saml(call))),
    ("UntagSAMLProvider", |call| Box::pin(untag_saml(call))),
    ("ListSAMLProviderTags", |call| {
        Box::pin(list_saml_tags(call))
    }),
];

const OIDC_ARN: &str = "OpenIDConnectProviderArn";
const SAML_ARN: &str = "SAMLProviderArn";

/// Refuses members the replicated model cannot hold.
fn refuse_unsupported(call: &Call, members: &[&str]) -> Result<(), ApiError> {
    for member in members {
        if call.has(member) {
            return Err(errors::invalid_input(format!(
                "{member} is not supported by this server"
            )));
        }
    }
    Ok(())
}

fn config_invalid(error: ConfigError) -> ApiError {
    errors::from_refusal(&error)
}

fn find_oidc<'a>(call: &'a Call, arn: &str) -> Result<&'a OidcProvider, ApiError> {
    Arn::parse(arn).map_err(|_| errors::unparsable_arn())?;
    match call.snapshot.oidc_provider_by_arn(arn) {
        Some((account, provider)) if account.account.id == *call.account_id() => Ok(provider),
        _ => Err(errors::not_found(EntityKind::OidcProvider, arn)),
    }
}

fn check_thumbprints(thumbprints: &[String]) -> Result<(), ApiError> {
    if thumbprints.len() > limits::THUMBPRINTS_PER_OIDC_PROVIDER {
        return Err(errors::invalid_input(
            "Thumbprint list must contain fewer than 5 entries.",
        ));
    }
    thumbprints
        .iter()
        .try_for_each(|thumbprint| limits::check_thumbprint(thumbprint))
        .map_err(config_invalid)
}

async fn create_oidc(call: Call) -> Result<XmlResult, ApiError> {
    let url = call.required("Url")?.to_owned();
    refuse_unsupported(&call, &["ContextProvider", "IdentityCenterInstanceArn"])?;
    // Loopback HTTP issuers only on nodes configured for them (development).
    if url.starts_with("http://") && !call.request.state.federation().allow_loopback_http_issuers {
        return Err(errors::invalid_input(
            "Invalid Open ID Connect Provider URL",
        ));
    }
    let resource = limits::check_oidc_url(&url).map_err(config_invalid)?;
    let arn = call.arn("oidc-provider/", "", &resource);
    let tags = call.tags()?;
    call.authorize_tagging(&arn, &tags, &[], &[])?;
    let client_ids = call.strings("ClientIDList");
    let thumbprints = call.strings("ThumbprintList");
    check_thumbprints(&thumbprints)?;
    client_ids
        .iter()
        .try_for_each(|client_id| limits::check_client_id(client_id))
        .map_err(config_invalid)?;
    if call.account()?.oidc_providers.contains_key(&resource) {
        return Err(errors::already_exists(EntityKind::OidcProvider, &url));
    }
    call.write(Command::CreateOidcProvider {
        account_id: *call.account_id(),
        url,
        client_ids,
        thumbprints,
        tags: tags.clone(),
    })
    .await?;
    Ok(XmlResult::build(|w| {
        w.text("OpenIDConnectProviderArn", &arn);
        render::tags(w, &tags, true);
    }))
}

async fn get_oidc(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?;
    call.authorize(arn)?;
    let provider = find_oidc(&call, arn)?;
    Ok(XmlResult::build(|w| {
        w.text("Url", provider.resource())
            .text_list(
                "ClientIDList",
                provider.client_ids.iter().map(String::as_str),
            )
            .text_list(
                "ThumbprintList",
                provider.thumbprints.iter().map(String::as_str),
            )
            .timestamp("CreateDate", provider.created_at);
        render::tags(w, &provider.tags, true);
    }))
}

async fn list_oidc(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let account = call.account()?;
    let arns: Vec<String> = account
        .oidc_providers
        .values()
        .map(|provider| provider.arn(call.partition(), call.account_id()))
        .collect();
    Ok(XmlResult::build(|w| {
        w.list("OpenIDConnectProviderList", &arns, |w, arn| {
            w.structure("member", |w| {
                w.text("Arn", arn);
            });
        });
    }))
}

async fn delete_oidc(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?.to_owned();
    call.authorize(&arn)?;
    find_oidc(&call, &arn)?;
    call.write(Command::DeleteOidcProvider {
        account_id: *call.account_id(),
        provider_arn: arn,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn add_client_id(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?.to_owned();
    let client_id = call.required("ClientID")?.to_owned();
    call.authorize(&arn)?;
    let provider = find_oidc(&call, &arn)?;
    limits::check_client_id(&client_id).map_err(config_invalid)?;
    if !provider.client_ids.contains(&client_id)
        && provider.client_ids.len() >= limits::CLIENT_IDS_PER_OIDC_PROVIDER
    {
        return Err(errors::quota(
            "ClientIdsPerOpenIdConnectProvider",
            limits::CLIENT_IDS_PER_OIDC_PROVIDER,
        ));
    }
    call.write(Command::AddOidcClientId {
        account_id: *call.account_id(),
        provider_arn: arn,
        client_id,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn remove_client_id(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?.to_owned();
    let client_id = call.required("ClientID")?.to_owned();
    call.authorize(&arn)?;
    find_oidc(&call, &arn)?;
    call.write(Command::RemoveOidcClientId {
        account_id: *call.account_id(),
        provider_arn: arn,
        client_id,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn update_thumbprints(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?.to_owned();
    let thumbprints = call.strings("ThumbprintList");
    call.authorize(&arn)?;
    find_oidc(&call, &arn)?;
    check_thumbprints(&thumbprints)?;
    call.write(Command::UpdateOidcThumbprints {
        account_id: *call.account_id(),
        provider_arn: arn,
        thumbprints,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn tag_oidc(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?.to_owned();
    let tags = call.tags()?;
    call.authorize_tagging(&arn, &tags, &[], &[])?;
    find_oidc(&call, &arn)?;
    call.write(Command::TagResource {
        account_id: *call.account_id(),
        target: TagTarget::OidcProvider(arn),
        tags,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn untag_oidc(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?.to_owned();
    let tag_keys = call.strings("TagKeys");
    call.authorize_tagging(&arn, &Tags::new(), &tag_keys, &[])?;
    find_oidc(&call, &arn)?;
    call.write(Command::UntagResource {
        account_id: *call.account_id(),
        target: TagTarget::OidcProvider(arn),
        tag_keys,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn list_oidc_tags(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(OIDC_ARN)?;
    call.authorize(arn)?;
    let page_request = PageRequest::from_call(&call)?;
    let provider = find_oidc(&call, arn)?;
    Ok(render::tags_page(&provider.tags, &page_request))
}

fn find_saml<'a>(call: &'a Call, arn: &str) -> Result<&'a SamlProvider, ApiError> {
    Arn::parse(arn).map_err(|_| errors::unparsable_arn())?;
    match call.snapshot.saml_provider_by_arn(arn) {
        Some((account, provider)) if account.account.id == *call.account_id() => Ok(provider),
        _ => Err(errors::not_found(EntityKind::SamlProvider, arn)),
    }
}

/// The metadata must be an XML `EntityDescriptor` whose `IDPSSODescriptor`
/// carries a usable signing certificate (`meridian_core::saml::metadata`).
fn check_metadata(metadata: &str) -> Result<(), ApiError> {
    limits::check_saml_metadata(metadata).map_err(config_invalid)?;
    let trimmed = metadata.trim_start_matches('\u{feff}').trim();
    let looks_like_xml =
        trimmed.starts_with('<') && trimmed.ends_with('>') && trimmed.contains("EntityDescriptor");
    // The signing certificates are what the provider is for: metadata
    // without one usable for verification (RSA ≥ 2048 or ECDSA) is refused
    // with the same answer as unparsable metadata.
    if looks_like_xml && IdpMetadata::parse(metadata).is_ok() {
        Ok(())
    } else {
        Err(errors::invalid_input("Could not parse metadata"))
    }
}

/// Encryption settings the model cannot hold are refused.
fn refuse_encryption(call: &Call) -> Result<(), ApiError> {
    if call
        .str("AssertionEncryptionMode")
        .is_some_and(|mode| mode != "Allowed")
    {
        return Err(errors::invalid_input(
            "AssertionEncryptionMode Required is not supported by this server",
        ));
    }
    Ok(())
}

async fn create_saml(call: Call) -> Result<XmlResult, ApiError> {
    let name = call.required("Name")?.to_owned();
    let metadata = call.required("SAMLMetadataDocument")?.to_owned();
    let arn = call.arn("saml-provider/", "", &name);
    let tags = call.tags()?;
    call.authorize_tagging(&arn, &tags, &[], &[])?;
    refuse_unsupported(
        &call,
        &[
            "AddPrivateKey",
            "ContextProvider",
            "IdentityCenterInstanceArn",
        ],
    )?;
    refuse_encryption(&call)?;
    limits::check_saml_name(&name).map_err(config_invalid)?;
    check_metadata(&metadata)?;
    if call.account()?.saml_provider(&name).is_some() {
        return Err(errors::already_exists(EntityKind::SamlProvider, &name));
    }
    call.write(Command::CreateSamlProvider {
        account_id: *call.account_id(),
        name,
        metadata,
        tags: tags.clone(),
    })
    .await?;
    Ok(XmlResult::build(|w| {
        w.text("SAMLProviderArn", &arn);
        render::tags(w, &tags, true);
    }))
}

async fn get_saml(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(SAML_ARN)?;
    call.authorize(arn)?;
    let provider = find_saml(&call, arn)?;
    Ok(XmlResult::build(|w| {
        w.text("SAMLMetadataDocument", &provider.metadata)
            .timestamp("CreateDate", provider.created_at)
            .text("AssertionEncryptionMode", "Allowed");
        render::tags(w, &provider.tags, true);
    }))
}

async fn list_saml(call: Call) -> Result<XmlResult, ApiError> {
    call.authorize("*")?;
    let account = call.account()?;
    Ok(XmlResult::build(|w| {
        w.list(
            "SAMLProviderList",
            account.saml_providers.values(),
            |w, provider| {
                w.structure("member", |w| {
                    w.text("Arn", &provider.arn(call.partition(), call.account_id()))
                        .timestamp("CreateDate", provider.created_at);
                });
            },
        );
    }))
}

async fn update_saml(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(SAML_ARN)?.to_owned();
    call.authorize(&arn)?;
    refuse_unsupported(
        &call,
        &[
            "AddPrivateKey",
            "RemovePrivateKey",
            "ContextProvider",
            "IdentityCenterInstanceArn",
        ],
    )?;
    refuse_encryption(&call)?;
    find_saml(&call, &arn)?;
    if let Some(metadata) = call.str("SAMLMetadataDocument") {
        check_metadata(metadata)?;
        call.write(Command::UpdateSamlProvider {
            account_id: *call.account_id(),
            provider_arn: arn.clone(),
            metadata: metadata.to_owned(),
        })
        .await?;
    }
    Ok(XmlResult::build(|w| {
        w.text("SAMLProviderArn", &arn);
    }))
}

async fn delete_saml(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(SAML_ARN)?.to_owned();
    call.authorize(&arn)?;
    find_saml(&call, &arn)?;
    call.write(Command::DeleteSamlProvider {
        account_id: *call.account_id(),
        provider_arn: arn,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn tag_saml(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(SAML_ARN)?.to_owned();
    let tags = call.tags()?;
    call.authorize_tagging(&arn, &tags, &[], &[])?;
    find_saml(&call, &arn)?;
    call.write(Command::TagResource {
        account_id: *call.account_id(),
        target: TagTarget::SamlProvider(arn),
        tags,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn untag_saml(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(SAML_ARN)?.to_owned();
    let tag_keys = call.strings("TagKeys");
    call.authorize_tagging(&arn, &Tags::new(), &tag_keys, &[])?;
    find_saml(&call, &arn)?;
    call.write(Command::UntagResource {
        account_id: *call.account_id(),
        target: TagTarget::SamlProvider(arn),
        tag_keys,
    })
    .await?;
    Ok(XmlResult::empty())
}

async fn list_saml_tags(call: Call) -> Result<XmlResult, ApiError> {
    let arn = call.required(SAML_ARN)?;
    call.authorize(arn)?;
    let page_request = PageRequest::from_call(&call)?;
    let provider = find_saml(&call, arn)?;
    Ok(render::tags_page(&provider.tags, &page_request))
}
