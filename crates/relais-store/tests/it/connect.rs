//! Connecting: URLs, migrations on an existing database, unreachable servers.

use std::time::{Duration, Instant};

use relais_store::{Backend, Recorded, Store, StoreError, StoreOptions, Table};
use uuid::Uuid;

use crate::events::completed;
use crate::helpers::event_bytes;

#[tokio::test]
async fn reconnecting_to_a_sqlite_file_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/a/b/relais.db?mode=rwc", dir.path().display());
    let bytes = event_bytes(completed(Uuid::new_v4(), "Hi.", "Salut."));
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.record_event(&bytes).await.unwrap(), Recorded::New);
    store.close().await;

    let again = Store::connect(&url).await.unwrap();
    assert_eq!(again.count(Table::Events).await.unwrap(), 1);
    assert_eq!(
        again.record_event(&bytes).await.unwrap(),
        Recorded::Duplicate
    );
    again.close().await;
    assert!(dir.path().join("a/b/relais.db").is_file());
}

#[tokio::test]
async fn other_schemes_are_refused_clearly() {
    let err = Store::connect("mysql://root:hunter2@localhost/relais")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("postgres://") && !message.contains("hunter2"),
        "{message}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn an_unreachable_server_is_a_transient_error() {
    // Port 1 on localhost: nothing listens, the connection is refused.
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let started = Instant::now();
    let err = Store::connect_with("postgres://postgres@127.0.0.1:1/relais", &options)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
