//! Key-value buckets and object stores, created by hand so they work on
//! nats-server 2.9 (whose account info async-nats cannot parse) and newer.

use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation};
use async_nats::jetstream::object_store::ObjectStore;
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{check_name, BusError};
use crate::Bus;

/// Most values kept per key, as in the server.
pub const MAX_HISTORY: u8 = 64;

/// One value of a key.
#[derive(Debug, Clone, PartialEq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// The value (empty for a deletion).
    pub value: Bytes,
    /// Its revision (stream sequence).
    pub revision: u64,
    /// When it was written.
    pub created: DateTime<Utc>,
    /// Whether this entry deletes the key.
    pub deleted: bool,
}

impl KvEntry {
    fn from_nats(e: kv::Entry) -> Self {
        KvEntry {
            deleted: !matches!(e.operation, Operation::Put),
            key: e.key,
            value: e.value,
            revision: e.revision,
            created: e.created,
        }
    }
}

/// A key-value bucket.
#[derive(Clone)]
pub struct KvBucket {
    name: String,
    store: kv::Store,
}

impl std::fmt::Debug for KvBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvBucket")
            .field("name", &self.name)
            .finish()
    }
}

/// Changes to watched keys.
pub struct KvWatch {
    inner: kv::Watch,
}

impl std::fmt::Debug for KvWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KvWatch")
    }
}

impl KvWatch {
    /// The next change (puts and deletes), or `None` when the watch ends.
    pub async fn next(&mut self) -> Option<Result<KvEntry, BusError>> {
        self.inner.next().await.map(|r| {
            r.map(KvEntry::from_nats)
                .map_err(|e| BusError::js("kv watch", e))
        })
    }
}

impl Bus {
    /// Opens the KV bucket `name`, creating its `KV_<name>` stream first when it does
    /// not exist (`history` values per key, 1..=64).
    pub async fn kv_bucket(&self, name: &str, history: u8) -> Result<KvBucket, BusError> {
        check_name("bucket", name)?;
        if history == 0 || history > MAX_HISTORY {
            return Err(BusError::InvalidName {
                kind: "bucket",
                name: name.to_owned(),
                why: "history must be between 1 and 64",
            });
        }
        let config = stream::Config {
            name: format!("KV_{name}"),
            subjects: vec![format!("$KV.{name}.>")],
            max_messages_per_subject: i64::from(history),
            max_bytes: -1,
            max_messages: -1,
            max_consumers: -1,
            max_message_size: -1,
            discard: DiscardPolicy::New,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            duplicate_window: Duration::from_secs(120),
            storage: StorageType::File,
            num_replicas: 1,
            ..Default::default()
        };
        self.ensure_stream(config).await?;
        let store = self
            .js()
            .get_key_value(name)
            .await
            .map_err(|e| BusError::js(format!("open kv bucket {name}"), e))?;
        Ok(KvBucket {
            name: name.to_owned(),
            store,
        })
    }

    /// Opens the object store `name`, creating its `OBJ_<name>` stream first when it
    /// does not exist.
    pub async fn object_bucket(&self, name: &str) -> Result<ObjectBucket, BusError> {
        check_name("bucket", name)?;
        let config = stream::Config {
            name: format!("OBJ_{name}"),
            subjects: vec![format!("$O.{name}.C.>"), format!("$O.{name}.M.>")],
            max_bytes: -1,
            max_messages: -1,
            max_messages_per_subject: -1,
            max_consumers: -1,
            discard: DiscardPolicy::New,
            allow_rollup: true,
            allow_direct: true,
            storage: StorageType::File,
            num_replicas: 1,
            ..Default::default()
        };
        self.ensure_stream(config).await?;
        let store = self
            .js()
            .get_object_store(name)
            .await
            .map_err(|e| BusError::js(format!("open object store {name}"), e))?;
        Ok(ObjectBucket {
            name: name.to_owned(),
            store,
        })
    }

    async fn ensure_stream(&self, config: stream::Config) -> Result<(), BusError> {
        if self.js().get_stream(&config.name).await.is_ok() {
            return Ok(());
        }
        let name = config.name.clone();
        match self.js().create_stream(config).await {
            Ok(_) => Ok(()),
            // Lost a race with another instance creating it.
            Err(_) if self.js().get_stream(&name).await.is_ok() => Ok(()),
            Err(e) => Err(BusError::js(format!("create stream {name}"), e)),
        }
    }
}

impl KvBucket {
    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes `value` under `key`; returns the new revision.
    pub async fn put(&self, key: &str, value: Bytes) -> Result<u64, BusError> {
        self.store
            .put(key, value)
            .await
            .map_err(|e| BusError::js(format!("kv put {}/{key}", self.name), e))
    }

    /// Writes `value` only if the key's latest revision is `revision` (0: the key
    /// must not exist); returns the new revision.
    pub async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, BusError> {
        let result = if revision == 0 {
            self.store
                .create(key, value)
                .await
                .map_err(|e| e.to_string())
        } else {
            self.store
                .update(key, value, revision)
                .await
                .map_err(|e| e.to_string())
        };
        result.map_err(|e| BusError::js(format!("kv update {}/{key}", self.name), e))
    }

    /// The current value of `key`, `None` when absent or deleted.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, BusError> {
        self.store
            .get(key)
            .await
            .map_err(|e| BusError::js(format!("kv get {}/{key}", self.name), e))
    }

    /// The current entry of `key` with its revision.
    pub async fn entry(&self, key: &str) -> Result<Option<KvEntry>, BusError> {
        self.store
            .entry(key)
            .await
            .map(|e| e.map(KvEntry::from_nats))
            .map_err(|e| BusError::js(format!("kv entry {}/{key}", self.name), e))
    }

    /// Deletes `key` (a delete marker; history is kept).
    pub async fn delete(&self, key: &str) -> Result<(), BusError> {
        self.store
            .delete(key)
            .await
            .map_err(|e| BusError::js(format!("kv delete {}/{key}", self.name), e))
    }

    /// Changes to `key` (wildcards allowed) from now on.
    pub async fn watch(&self, key: &str) -> Result<KvWatch, BusError> {
        self.store
            .watch(key)
            .await
            .map(|inner| KvWatch { inner })
            .map_err(|e| BusError::js(format!("kv watch {}/{key}", self.name), e))
    }

    /// The current value of `key` (if any) followed by every later change: what a
    /// worker watching the `production` alias needs.
    pub async fn watch_with_current(&self, key: &str) -> Result<KvWatch, BusError> {
        self.store
            .watch_with_history(key)
            .await
            .map(|inner| KvWatch { inner })
            .map_err(|e| BusError::js(format!("kv watch {}/{key}", self.name), e))
    }

    /// Every key that currently has a value.
    pub async fn keys(&self) -> Result<Vec<String>, BusError> {
        let mut keys = self
            .store
            .keys()
            .await
            .map_err(|e| BusError::js(format!("kv keys {}", self.name), e))?;
        let mut out = Vec::new();
        while let Some(k) = keys.next().await {
            out.push(k.map_err(|e| BusError::js(format!("kv keys {}", self.name), e))?);
        }
        Ok(out)
    }
}

/// An object store bucket (large blobs split into chunks).
#[derive(Clone)]
pub struct ObjectBucket {
    name: String,
    store: ObjectStore,
}

impl std::fmt::Debug for ObjectBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBucket")
            .field("name", &self.name)
            .finish()
    }
}

/// What the store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Object name.
    pub name: String,
    /// Size in bytes.
    pub size: usize,
    /// Number of chunks.
    pub chunks: usize,
    /// SHA-256 digest as the server records it (`SHA-256=<base64url>`).
    pub digest: Option<String>,
}

impl ObjectBucket {
    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stores `data` as `name`, replacing an older object of that name.
    pub async fn put(&self, name: &str, data: &[u8]) -> Result<ObjectMeta, BusError> {
        let mut reader = data;
        self.put_reader(name, &mut reader).await
    }

    /// Stores what `reader` yields (e.g. a file) as `name`.
    pub async fn put_reader(
        &self,
        name: &str,
        reader: &mut (impl AsyncRead + Unpin),
    ) -> Result<ObjectMeta, BusError> {
        let info = self
            .store
            .put(name, reader)
            .await
            .map_err(|e| BusError::js(format!("object put {}/{name}", self.name), e))?;
        Ok(ObjectMeta {
            name: info.name,
            size: info.size,
            chunks: info.chunks,
            digest: info.digest,
        })
    }

    /// Reads the whole object `name` into memory (checked against its digest).
    pub async fn get(&self, name: &str) -> Result<Bytes, BusError> {
        let mut object = self
            .store
            .get(name)
            .await
            .map_err(|e| BusError::js(format!("object get {}/{name}", self.name), e))?;
        let mut out = Vec::with_capacity(object.info().size);
        object
            .read_to_end(&mut out)
            .await
            .map_err(|source| BusError::Io {
                name: name.to_owned(),
                source,
            })?;
        Ok(Bytes::from(out))
    }

    /// Deletes the object `name`.
    pub async fn delete(&self, name: &str) -> Result<(), BusError> {
        self.store
            .delete(name)
            .await
            .map_err(|e| BusError::js(format!("object delete {}/{name}", self.name), e))
    }
}
