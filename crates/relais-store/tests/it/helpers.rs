//! A fresh database per test, on each backend, and event builders.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use relais_events::{Envelope, Event};
use relais_store::{Backend, Store};
use sqlx::{Connection, Executor, PgConnection};

/// The PostgreSQL server the tests use; `RELAIS_TEST_POSTGRES` overrides
/// (a URL to an existing database the test user may create databases from).
fn postgres_admin_url() -> String {
    std::env::var("RELAIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs `test` against a fresh, migrated database on `backend`, then removes
/// the database, whether the test passed or panicked.
pub async fn with_store<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}/nested/relais.db?mode=rwc",
                dir.path().display()
            );
            let store = Store::connect(&url).await.expect("connect to SQLite");
            let outcome = AssertUnwindSafe(test(store.clone())).catch_unwind().await;
            store.close().await;
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let name = format!("relais_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = PgConnection::connect(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed for tests: {e}"));
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create test database");
            let (base, _) = admin_url.rsplit_once('/').expect("URL has a database");
            let store = Store::connect(&format!("{base}/{name}"))
                .await
                .expect("connect to PostgreSQL");
            let outcome = AssertUnwindSafe(test(store.clone())).catch_unwind().await;
            store.close().await;
            admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .expect("drop test database");
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Declares a test module with one test per backend, each running
/// `async fn $body(store: Store)` on its own fresh database.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    $crate::helpers::with_store(relais_store::Backend::Sqlite, super::$name).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    $crate::helpers::with_store(relais_store::Backend::Postgres, super::$name).await;
                }
            }
        )+
    };
}
pub(crate) use on_both_backends;

/// The JSON bytes of a fresh event.
pub fn event_bytes<T: Event>(data: T) -> Vec<u8> {
    Envelope::new("relais/test", data)
        .to_json()
        .expect("encode event")
}
