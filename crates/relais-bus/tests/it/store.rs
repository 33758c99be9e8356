//! KV buckets and object stores, created by hand (nats-server 2.9 compatible).

use bytes::Bytes;
use relais_testkit::unique_name;

use crate::helpers::{setup, within};

#[tokio::test]
async fn kv_create_put_get_watch() {
    let t = setup().await;
    let name = unique_name("MODELS");
    let kv = t.bus.kv_bucket(&name, 5).await.expect("created");
    t.owns_stream(format!("KV_{name}"));
    // Create-or-open is idempotent.
    let again = t.bus.kv_bucket(&name, 5).await.expect("opened");

    assert_eq!(kv.get("production").await.expect("get"), None);
    let r1 = kv
        .put("production", Bytes::from_static(b"v1"))
        .await
        .expect("put");
    assert_eq!(
        again.get("production").await.expect("get"),
        Some(Bytes::from_static(b"v1"))
    );
    let entry = kv
        .entry("production")
        .await
        .expect("entry")
        .expect("present");
    assert_eq!(entry.revision, r1);
    assert!(!entry.deleted);

    // Watch from now: sees the next change.
    let mut watch = kv.watch("production").await.expect("watch");
    let r2 = kv
        .put("production", Bytes::from_static(b"v2"))
        .await
        .expect("put");
    let change = within(5, watch.next())
        .await
        .expect("a change")
        .expect("ok");
    assert_eq!(
        (change.key.as_str(), change.value.as_ref(), change.revision),
        ("production", &b"v2"[..], r2)
    );

    // Watch with the current value first (the worker's model alias).
    let mut current = kv.watch_with_current("production").await.expect("watch");
    let first = within(5, current.next())
        .await
        .expect("current")
        .expect("ok");
    assert_eq!(first.value, Bytes::from_static(b"v2"));

    // Compare-and-set.
    assert!(kv
        .update("production", Bytes::from_static(b"stale"), r1)
        .await
        .is_err());
    let r3 = kv
        .update("production", Bytes::from_static(b"v3"), r2)
        .await
        .expect("cas");
    assert!(r3 > r2);
    assert!(
        kv.update("production", Bytes::from_static(b"x"), 0)
            .await
            .is_err(),
        "exists"
    );

    kv.put("staging", Bytes::from_static(b"s"))
        .await
        .expect("put");
    let mut keys = kv.keys().await.expect("keys");
    keys.sort();
    assert_eq!(keys, vec!["production".to_owned(), "staging".to_owned()]);
    kv.delete("staging").await.expect("delete");
    assert_eq!(kv.get("staging").await.expect("get"), None);

    assert!(t.bus.kv_bucket("bad.name", 5).await.is_err());
    assert!(t.bus.kv_bucket(&name, 0).await.is_err());
}

#[tokio::test]
async fn object_store_round_trips_20_megabytes() {
    let t = setup().await;
    let name = unique_name("ARTIFACTS");
    let store = t.bus.object_bucket(&name).await.expect("created");
    t.owns_stream(format!("OBJ_{name}"));
    t.bus.object_bucket(&name).await.expect("reopened");

    let size = 20 * 1024 * 1024;
    let mut data = Vec::with_capacity(size);
    let mut x: u32 = 0x1234_5678;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(size);

    let meta = within(60, store.put("model-v1/weights.safetensors", &data))
        .await
        .expect("put");
    assert_eq!(meta.size, size);
    assert!(meta.chunks > 1);
    let back = within(60, store.get("model-v1/weights.safetensors"))
        .await
        .expect("get");
    assert_eq!(back.len(), size);
    assert!(back == data, "bytes differ");

    assert!(store.get("missing").await.is_err());
    store
        .delete("model-v1/weights.safetensors")
        .await
        .expect("delete");
    assert!(store.get("model-v1/weights.safetensors").await.is_err());
}
