//! Stored files (uploaded plans): behind `object_store`'s trait, so one setting picks
//! the local filesystem (one server, the default) or S3-compatible object storage
//! (several servers, which must all see every file). Keys are namespaced by tenant.

use crate::db::internal;
use crate::error::AppError;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use std::sync::Arc;

#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStore({})", self.store)
    }
}

impl FileStore {
    /// `s3://bucket[/prefix]` (credentials, region and endpoint from the standard
    /// `AWS_*` variables, e.g. `AWS_ENDPOINT` for MinIO or R2), or a directory.
    pub fn open(location: &str) -> Result<FileStore, String> {
        if location.starts_with("s3://") {
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(location)
                .build()
                .map_err(|e| format!("S3 file storage {location}: {e}"))?;
            return Ok(FileStore::new(store));
        }
        let dir = location.strip_prefix("file://").unwrap_or(location);
        std::fs::create_dir_all(dir).map_err(|e| format!("file storage {dir}: {e}"))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| format!("file storage {dir}: {e}"))?;
        Ok(FileStore::new(store))
    }

    /// An S3-compatible bucket at `endpoint` (path-style), with these credentials.
    pub fn s3_at(
        bucket: &str,
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<FileStore, String> {
        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(endpoint)
            .with_region("us-east-1")
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key)
            .with_allow_http(endpoint.starts_with("http://"))
            .build()
            .map_err(|e| format!("S3 file storage {endpoint}: {e}"))?;
        Ok(FileStore::new(store))
    }

    /// Files kept in this process's memory only: when no directory can be made.
    pub fn memory() -> FileStore {
        FileStore::new(object_store::memory::InMemory::new())
    }

    pub fn new(store: impl ObjectStore) -> FileStore {
        FileStore {
            store: Arc::new(store),
        }
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), AppError> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map_err(|e| internal(format!("storing {key}: {e}")))?;
        Ok(())
    }

    /// The file's bytes, or `None` when nothing is stored under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        match self.store.get(&Path::from(key)).await {
            Ok(found) => found
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(|e| internal(format!("reading {key}: {e}"))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(internal(format!("reading {key}: {e}"))),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), AppError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(internal(format!("deleting {key}: {e}"))),
        }
    }
}
