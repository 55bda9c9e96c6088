//! The conformance suite and PostgreSQL-specific behaviour: several stores
//! (standing in for several machines) draining one queue.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use spotifyart_core::store::JobQueue;
use spotifyart_core::testing::store::{new_job, t};
use spotifyart_store::PostgresStore;

spotifyart_core::store_conformance_tests!(optional: support::postgres());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_on_several_machines_complete_each_job_exactly_once() {
    let Some(url) = support::postgres_schema_url().await else {
        return;
    };
    let keys = support::keys();
    const MACHINES: usize = 3;
    const WORKERS: usize = 3;
    const JOBS: usize = 60;
    let mut stores = Vec::new();
    for _ in 0..MACHINES {
        stores.push(Arc::new(
            PostgresStore::open(&url, keys.clone(), 4).await.unwrap(),
        ));
    }
    let mut expected = HashSet::new();
    for i in 0..JOBS {
        expected.insert(
            stores[i % MACHINES]
                .enqueue(&new_job("many", 1), t(i as i64))
                .await
                .unwrap()
                .id,
        );
    }
    let mut tasks = Vec::new();
    for (m, store) in stores.iter().enumerate() {
        for w in 0..WORKERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let worker = format!("machine-{m}/worker-{w}");
                let mut done = Vec::new();
                while let Some(job) = store
                    .lease(&worker, t(1000), Duration::from_secs(60))
                    .await
                    .unwrap()
                {
                    store
                        .complete(job.id, &worker, spotifyart_core::ArtworkId::new(), t(1001))
                        .await
                        .unwrap();
                    done.push(job.id);
                }
                done
            }));
        }
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    assert_eq!(all.len(), JOBS, "no job completed twice");
    assert_eq!(
        all.into_iter().collect::<HashSet<_>>(),
        expected,
        "every job completed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workers_wake_on_notify() {
    let Some((store, url)) = support::postgres_with(support::keys()).await else {
        return;
    };
    let other_machine = PostgresStore::open(&url, support::keys(), 2).await.unwrap();
    // Let the listener connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiter = tokio::spawn(async move {
        let started = std::time::Instant::now();
        other_machine.wait_for_jobs(Duration::from_secs(20)).await;
        started.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.enqueue(&new_job("wake", 1), t(0)).await.unwrap();
    let waited = waiter.await.unwrap();
    assert!(
        waited < Duration::from_secs(10),
        "woken by NOTIFY, not by the timeout: {waited:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let config = spotifyart_store::StoreConfig {
        url: "postgres://nobody:secret-pw@127.0.0.1:1/none".into(),
        key: Some(spotifyart_store::EncryptionKey::generate()),
        ..Default::default()
    };
    let err = spotifyart_store::open(&config).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.code(), "storage_failed");
    assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
    assert!(
        !text.contains("secret-pw"),
        "no password in messages: {text}"
    );
    let config = spotifyart_store::StoreConfig {
        url: "postgres://u@127.0.0.1/db".into(),
        ..Default::default()
    };
    let text = spotifyart_store::open(&config)
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("SPOTIFYART_ENCRYPTION_KEY"), "{text}");
}
