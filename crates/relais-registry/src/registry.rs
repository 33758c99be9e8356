//! [`Registry`]: register, list, promote, roll back and fetch model versions.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use relais_bus::{Bus, KvBucket, KvWatch, ObjectBucket};
use relais_events::{
    Envelope, Event, ModelMetrics, ModelPromoted, ModelRegistered, ModelRolledBack,
};
use tracing::info;

use crate::error::{io, RegistryError};
use crate::version::{
    sha256_hex, sums_text, version_name, ArtifactFile, ModelVersion, VersionMetrics,
};
use crate::{BUCKET, FILES, LAST_TRAINING, OBJECTS, PREVIOUS, PRODUCTION, SUMS_FILE};

/// Values kept per key of the `MODELS` bucket: the alias history.
const HISTORY: u8 = 16;
/// Compare-and-set attempts before an alias change gives up.
const CAS_ATTEMPTS: usize = 8;

/// How a new version came about (what `model.json` does not say).
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub dataset_version: i64,
    pub parent: Option<String>,
    /// Who registers it: `trainer`, `dev`, an operator's name.
    pub registered_by: String,
    pub note: String,
    pub test_bleu: Option<f64>,
    pub test_chrf: Option<f64>,
}

/// The registry on one bus connection; cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    bus: Bus,
    kv: KvBucket,
    objects: ObjectBucket,
}

fn version_key(version: &str) -> String {
    format!("version.{version}")
}

fn object_name(version: &str, file: &str) -> String {
    format!("{version}/{file}")
}

/// Metrics and corpus hash from a `model.json` (read as plain JSON so that
/// the registry does not depend on the model crate).
fn card_facts(card: &[u8], dir: &Path) -> Result<(VersionMetrics, String), RegistryError> {
    let card: serde_json::Value =
        serde_json::from_slice(card).map_err(|e| RegistryError::Corrupt {
            key: dir.join("model.json").display().to_string(),
            reason: e.to_string(),
        })?;
    let metric = |name: &str| card["metrics"][name].as_f64();
    let metrics = VersionMetrics {
        bleu: metric("bleu"),
        chrf: metric("chrf"),
        valid_loss: metric("valid_loss"),
        test_bleu: None,
        test_chrf: None,
    };
    let corpus = card["provenance"]["corpus_sha256"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((metrics, corpus))
}

impl Registry {
    /// Opens (creating when needed) the `MODELS` bucket and the
    /// `MODEL_ARTIFACTS` object store.
    pub async fn open(bus: &Bus) -> Result<Registry, RegistryError> {
        let kv = bus.kv_bucket(BUCKET, HISTORY).await?;
        let objects = bus.object_bucket(OBJECTS).await?;
        Ok(Registry {
            bus: bus.clone(),
            kv,
            objects,
        })
    }

    /// The object store (for operators' tools and tests).
    pub fn objects(&self) -> &ObjectBucket {
        &self.objects
    }

    async fn publish<T: Event>(&self, by: &str, event: T) -> Result<(), RegistryError> {
        let envelope = Envelope::new(format!("relais/{by}"), event);
        self.bus.publish_event(&envelope).await?;
        Ok(())
    }

    /// Uploads the model directory `dir` as a new version and publishes
    /// `ModelRegistered`. A directory already registered (same checksums)
    /// returns the existing version and publishes nothing.
    pub async fn register(
        &self,
        dir: &Path,
        registration: Registration,
    ) -> Result<ModelVersion, RegistryError> {
        let mut contents = Vec::with_capacity(FILES.len());
        let mut files = Vec::with_capacity(FILES.len());
        for file in FILES {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(RegistryError::MissingFile {
                    dir: dir.to_path_buf(),
                    file,
                });
            }
            let bytes = tokio::fs::read(&path).await.map_err(io(&path))?;
            files.push(ArtifactFile {
                name: file.to_owned(),
                sha256: sha256_hex(&bytes),
                bytes: bytes.len() as u64,
            });
            contents.push(bytes);
        }
        let version = version_name(&files);
        if let Some(existing) = self.version(&version).await? {
            return Ok(existing);
        }
        let (mut metrics, corpus_hash) = card_facts(&contents[FILES.len() - 1], dir)?;
        metrics.test_bleu = registration.test_bleu;
        metrics.test_chrf = registration.test_chrf;
        for (file, bytes) in files.iter().zip(&contents) {
            self.objects
                .put(&object_name(&version, &file.name), bytes)
                .await?;
        }
        self.objects
            .put(
                &object_name(&version, SUMS_FILE),
                sums_text(&files).as_bytes(),
            )
            .await?;
        let entry = ModelVersion {
            version: version.clone(),
            metrics,
            corpus_hash,
            dataset_version: registration.dataset_version,
            parent: registration.parent,
            created_at: Utc::now(),
            registered_by: registration.registered_by,
            note: registration.note,
            files,
        };
        // The entry goes last: it never describes files that are not there.
        self.kv
            .put(
                &version_key(&version),
                Bytes::from(serde_json::to_vec(&entry).expect("serializable")),
            )
            .await?;
        let m = &entry.metrics;
        self.publish(
            &entry.registered_by,
            ModelRegistered {
                version: version.clone(),
                metrics: ModelMetrics {
                    bleu: m.test_bleu.or(m.bleu),
                    chrf: m.test_chrf.or(m.chrf),
                    valid_loss: m.valid_loss,
                },
                parent: entry.parent.clone(),
                dataset_version: entry.dataset_version,
                corpus_hash: entry.corpus_hash.clone(),
                created_at: entry.created_at,
            },
        )
        .await?;
        info!(%version, by = %entry.registered_by, "model version registered");
        Ok(entry)
    }

    /// The entry of `version`, if registered.
    pub async fn version(&self, version: &str) -> Result<Option<ModelVersion>, RegistryError> {
        let key = version_key(version);
        match self.kv.get(&key).await? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| RegistryError::Corrupt {
                        key,
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Every registered version, oldest first.
    pub async fn list(&self) -> Result<Vec<ModelVersion>, RegistryError> {
        let mut all = Vec::new();
        for key in self.kv.keys().await? {
            if let Some(version) = key.strip_prefix("version.") {
                if let Some(entry) = self.version(version).await? {
                    all.push(entry);
                }
            }
        }
        all.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.version.cmp(&b.version))
        });
        Ok(all)
    }

    async fn alias(&self, key: &str) -> Result<Option<(String, u64)>, RegistryError> {
        Ok(self.kv.entry(key).await?.and_then(|e| {
            let name = String::from_utf8_lossy(&e.value).trim().to_owned();
            (!e.deleted && !name.is_empty()).then_some((name, e.revision))
        }))
    }

    /// The version workers serve, if one was promoted.
    pub async fn production(&self) -> Result<Option<String>, RegistryError> {
        Ok(self.alias(PRODUCTION).await?.map(|(v, _)| v))
    }

    /// The version production replaced.
    pub async fn previous(&self) -> Result<Option<String>, RegistryError> {
        Ok(self.alias(PREVIOUS).await?.map(|(v, _)| v))
    }

    /// Makes `version` production (the old one becomes previous) and
    /// publishes `ModelPromoted`.
    pub async fn promote(
        &self,
        version: &str,
        actor: &str,
        reason: &str,
    ) -> Result<ModelPromoted, RegistryError> {
        if self.version(version).await?.is_none() {
            return Err(RegistryError::UnknownVersion(version.to_owned()));
        }
        for _ in 0..CAS_ATTEMPTS {
            let current = self.alias(PRODUCTION).await?;
            if current.as_ref().is_some_and(|(v, _)| v == version) {
                return Err(RegistryError::AlreadyProduction(version.to_owned()));
            }
            let revision = current.as_ref().map_or(0, |(_, r)| *r);
            let moved = self
                .kv
                .update(PRODUCTION, Bytes::from(version.to_owned()), revision)
                .await;
            if moved.is_err() {
                continue;
            }
            let previous = current.map(|(v, _)| v);
            if let Some(previous) = &previous {
                self.kv.put(PREVIOUS, Bytes::from(previous.clone())).await?;
            }
            let event = ModelPromoted {
                version: version.to_owned(),
                previous,
                actor: actor.to_owned(),
                reason: reason.to_owned(),
            };
            self.publish(actor, event.clone()).await?;
            info!(%version, previous = ?event.previous, %actor, %reason, "model version promoted");
            return Ok(event);
        }
        Err(RegistryError::Contended)
    }

    /// Makes the previous version production again (and the current one
    /// previous, so a second rollback undoes the first); publishes
    /// `ModelRolledBack`.
    pub async fn rollback(
        &self,
        actor: &str,
        reason: &str,
    ) -> Result<ModelRolledBack, RegistryError> {
        for _ in 0..CAS_ATTEMPTS {
            let (to, _) = self
                .alias(PREVIOUS)
                .await?
                .ok_or(RegistryError::NothingToRollBack)?;
            let (from, revision) = self
                .alias(PRODUCTION)
                .await?
                .ok_or(RegistryError::NothingToRollBack)?;
            if from == to {
                return Err(RegistryError::NothingToRollBack);
            }
            if self
                .kv
                .update(PRODUCTION, Bytes::from(to.clone()), revision)
                .await
                .is_err()
            {
                continue;
            }
            self.kv.put(PREVIOUS, Bytes::from(from.clone())).await?;
            let event = ModelRolledBack {
                from_version: from,
                to_version: to,
                actor: actor.to_owned(),
                reason: reason.to_owned(),
            };
            self.publish(actor, event.clone()).await?;
            info!(from = %event.from_version, to = %event.to_version, %actor, "model version rolled back");
            return Ok(event);
        }
        Err(RegistryError::Contended)
    }

    /// Changes of the production alias, starting with its current value.
    pub async fn watch_production(&self) -> Result<KvWatch, RegistryError> {
        Ok(self.kv.watch_with_current(PRODUCTION).await?)
    }

    /// Records that the trainer finished a run at `at`.
    pub async fn mark_training_success(&self, at: DateTime<Utc>) -> Result<(), RegistryError> {
        self.kv
            .put(LAST_TRAINING, Bytes::from(at.to_rfc3339()))
            .await?;
        Ok(())
    }

    /// When the trainer last finished a run.
    pub async fn last_training(&self) -> Result<Option<DateTime<Utc>>, RegistryError> {
        Ok(self
            .kv
            .get(LAST_TRAINING)
            .await?
            .and_then(|b| DateTime::parse_from_rfc3339(&String::from_utf8_lossy(&b)).ok())
            .map(|t| t.with_timezone(&Utc)))
    }

    /// Downloads `version` into `cache/<version>` (reusing a complete, intact
    /// copy) and returns that directory. Every file is checked against the
    /// registered checksum before the directory takes its final name, so a
    /// directory under that name is always whole and verified.
    pub async fn fetch(&self, version: &str, cache: &Path) -> Result<PathBuf, RegistryError> {
        let entry = self
            .version(version)
            .await?
            .ok_or_else(|| RegistryError::UnknownVersion(version.to_owned()))?;
        let target = cache.join(version);
        if verify_dir(&target, &entry).await.is_ok() {
            return Ok(target);
        }
        tokio::fs::create_dir_all(cache).await.map_err(io(cache))?;
        // Unique per call: several workers may share one cache directory.
        static FETCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = FETCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = cache.join(format!(".{version}.partial-{}-{n}", std::process::id()));
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        tokio::fs::create_dir_all(&tmp).await.map_err(io(&tmp))?;
        let fetched = async {
            for file in &entry.files {
                let bytes = self.objects.get(&object_name(version, &file.name)).await?;
                check(version, file, &bytes)?;
                let path = tmp.join(&file.name);
                tokio::fs::write(&path, &bytes).await.map_err(io(&path))?;
            }
            Ok::<(), RegistryError>(())
        }
        .await;
        if let Err(e) = fetched {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            return Err(e);
        }
        // Another fetch may have finished first: keep its verified copy.
        if verify_dir(&target, &entry).await.is_ok() {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            return Ok(target);
        }
        let _ = tokio::fs::remove_dir_all(&target).await;
        if let Err(e) = tokio::fs::rename(&tmp, &target).await {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
            if verify_dir(&target, &entry).await.is_err() {
                return Err(io(&target)(e));
            }
        }
        Ok(target)
    }
}

fn check(version: &str, file: &ArtifactFile, bytes: &[u8]) -> Result<(), RegistryError> {
    let actual = sha256_hex(bytes);
    if actual != file.sha256 {
        return Err(RegistryError::Checksum {
            version: version.to_owned(),
            file: file.name.clone(),
            expected: file.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Whether `dir` holds every file of `entry` with its checksum.
async fn verify_dir(dir: &Path, entry: &ModelVersion) -> Result<(), RegistryError> {
    for file in &entry.files {
        let path = dir.join(&file.name);
        let bytes = tokio::fs::read(&path).await.map_err(io(&path))?;
        check(&entry.version, file, &bytes)?;
    }
    Ok(())
}
