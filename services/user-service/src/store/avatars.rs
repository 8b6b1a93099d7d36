use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use bytes::Bytes;
use common::aws::{aws_error, StorageError};

use super::{AvatarStore, StoreError};

/// Avatars in a private S3 bucket, handed out as presigned GET URLs, or as plain URLs
/// under a public base (e.g. a CDN in front of the bucket) when one is configured.
pub struct S3AvatarStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    public_base_url: Option<String>,
    url_ttl: Duration,
}

impl S3AvatarStore {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: String,
        public_base_url: Option<String>,
        url_ttl: Duration,
    ) -> Self {
        Self {
            client,
            bucket,
            public_base_url: public_base_url.map(|base| base.trim_end_matches('/').to_owned()),
            url_ttl,
        }
    }
}

#[async_trait]
impl AvatarStore for S3AvatarStore {
    fn stored_url(&self, key: &str) -> String {
        match &self.public_base_url {
            Some(base) => format!("{base}/{key}"),
            None => format!("s3://{}/{key}", self.bucket),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .cache_control("private, max-age=300")
            // Served by S3 itself: a browser that opens the URL saves the file instead of
            // rendering it (an upload is checked to be an image, but polyglots exist); an
            // <img> ignores the header.
            .content_disposition(r#"attachment; filename="avatar""#)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| aws_error("Avatar storage", e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| aws_error("Avatar storage", e))?;
        Ok(())
    }

    async fn url_for(&self, key: &str) -> Result<String, StoreError> {
        if self.public_base_url.is_some() {
            return Ok(self.stored_url(key));
        }
        let presigning = PresigningConfig::expires_in(self.url_ttl)
            .map_err(|_| StorageError::Internal("presigning an avatar URL failed".into()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| aws_error("Avatar storage", e))?;
        Ok(request.uri().to_owned())
    }
}
