//! Reading an `s3://` URL into object_store's S3 settings.

use object_store::ClientConfigKey;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

use crate::BlobStoreError;

/// An S3 blob store as a URL describes it:
/// `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&access_key_id=K&secret_access_key=S`.
#[derive(Debug)]
pub(crate) struct S3Url {
    /// The builder, with the bucket and every query setting.
    pub(crate) builder: AmazonS3Builder,
    /// Keys live under this prefix of the bucket (empty: at its root).
    pub(crate) prefix: String,
}

/// Reads `url`. Settings the URL does not give come from the `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`, `AWS_ENDPOINT`...). An `http://` endpoint (a local
/// server) is allowed; requests go path-style (`ENDPOINT/BUCKET/KEY`)
/// unless `virtual_hosted_style_request=true`.
pub(crate) fn parse(url: &str) -> Result<S3Url, BlobStoreError> {
    let invalid = |why: &str| BlobStoreError::InvalidUrl(format!("{why}: {}", redact(url)));
    let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.scheme() != "s3" {
        return Err(invalid("an S3 blob store URL starts with s3://"));
    }
    let bucket = parsed
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| invalid("the URL names no bucket"))?;
    // Each request must answer within 30 s (connecting within 5): an
    // upload waiting on a store that is down fails rather than hangs. The
    // URL may say otherwise (`timeout=`, `connect_timeout=`).
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "30s")
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            "5s",
        );
    for (name, value) in query_pairs(&parsed).map_err(|e| invalid(&e))? {
        let key: AmazonS3ConfigKey = name
            .parse()
            .map_err(|_| invalid(&format!("unknown S3 setting {name}")))?;
        if matches!(key, AmazonS3ConfigKey::Endpoint) && value.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        builder = builder.with_config(key, value);
    }
    let prefix = parsed.path().trim_matches('/').to_owned();
    Ok(S3Url { builder, prefix })
}

/// The settings of the URL's query, percent-decoded. Not as a form
/// (`Url::query_pairs`): there `+` means a space, and secret keys hold
/// `+`s that must stay.
fn query_pairs(url: &url::Url) -> Result<Vec<(String, String)>, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|d| d.into_owned())
            .map_err(|_| "a setting is not UTF-8 once decoded".to_owned())
    };
    (url.query().unwrap_or_default().split('&'))
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// `url` without its query (which may hold a secret key), for messages.
pub(crate) fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use object_store::aws::AmazonS3ConfigKey as Key;

    use super::*;

    #[test]
    fn bucket_prefix_and_settings_come_from_the_url() {
        let s3 = parse(
            "s3://chat-files/prod/att?endpoint=http://127.0.0.1:9000&region=eu-west-1\
             &access_key_id=AK&secret_access_key=SK",
        )
        .expect("valid");
        assert_eq!(s3.prefix, "prod/att");
        assert_eq!(
            s3.builder.get_config_value(&Key::Bucket).as_deref(),
            Some("chat-files")
        );
        assert_eq!(
            s3.builder.get_config_value(&Key::Endpoint).as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            s3.builder.get_config_value(&Key::Region).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            s3.builder.get_config_value(&Key::AccessKeyId).as_deref(),
            Some("AK")
        );
        assert_eq!(parse("s3://bucket").expect("valid").prefix, "");
    }

    #[test]
    fn a_secret_keeps_its_plus_signs_and_percent_escapes_decode() {
        let s3 = parse("s3://b?secret_access_key=ab+c/d%2Be%3D&region=eu-west-1").expect("valid");
        assert_eq!(
            s3.builder
                .get_config_value(&Key::SecretAccessKey)
                .as_deref(),
            Some("ab+c/d+e=")
        );
    }

    #[test]
    fn bad_urls_are_refused_without_showing_secrets() {
        for (url, why) in [
            ("http://bucket", "starts with s3://"),
            ("s3://", "no bucket"),
            ("s3://b?colour=blue", "unknown S3 setting colour"),
        ] {
            let err = parse(url).expect_err(url).to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
        let err = parse("s3://b?secret_access_key=hush&nope=1")
            .expect_err("unknown")
            .to_string();
        assert!(!err.contains("hush"), "{err}");
    }
}
