//! Look-ups that never create anything, for probes such as the monitor: a
//! probe must not declare a stream or bucket that another service owns.

use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::ErrorCode;

use crate::error::{check_name, BusError};
use crate::{Bus, KvBucket};

impl Bus {
    /// Whether stream `name` exists.
    pub async fn stream_exists(&self, name: &str) -> Result<bool, BusError> {
        check_name("stream", name)?;
        match self.js().get_stream(name).await {
            Ok(_) => Ok(true),
            Err(e) => match e.kind() {
                GetStreamErrorKind::JetStream(js)
                    if js.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    Ok(false)
                }
                _ => Err(BusError::js(format!("get stream {name}"), e)),
            },
        }
    }

    /// Opens the KV bucket `name` when it exists, `None` when it does not.
    /// Unlike [`Bus::kv_bucket`] it never creates the bucket, so the owner's
    /// settings (history) are the ones the bucket gets.
    pub async fn existing_kv_bucket(&self, name: &str) -> Result<Option<KvBucket>, BusError> {
        check_name("bucket", name)?;
        if !self.stream_exists(&format!("KV_{name}")).await? {
            return Ok(None);
        }
        // The stream exists, so this only opens it; `history` applies to creation.
        self.kv_bucket(name, 1).await.map(Some)
    }
}
