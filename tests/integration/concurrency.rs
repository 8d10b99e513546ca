//! Many concurrent writers over HTTP: gapless positions, nothing lost or doubled, chain intact.

use std::collections::HashSet;

use serde_json::json;

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_writers_leave_a_gapless_verified_chain() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let alice = app.alice();
    let mut tasks = Vec::new();
    for writer in 0..64 {
        let app = app.clone();
        let token = alice.clone();
        tasks.push(tokio::spawn(async move {
            let mut positions = Vec::new();
            for round in 0..4 {
                let reply = app
                    .post(
                        &token,
                        "/api/v1/risks",
                        json!({"title": format!("risk {writer}-{round}"), "category": "c", "owner": "alice"}),
                    )
                    .await
                    .expect(201);
                positions.push(reply.body["position"].as_u64().unwrap());
            }
            positions
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    acknowledged.sort_unstable();
    assert_eq!(
        acknowledged,
        (1..=256).collect::<Vec<u64>>(),
        "every acknowledged command has its own position, without gaps"
    );
    let feed = app.get(&alice, "/api/v1/events?limit=500").await.expect(200);
    let items = feed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 256);
    let titles: HashSet<&str> = items.iter().map(|e| e["data"]["title"].as_str().unwrap()).collect();
    assert_eq!(titles.len(), 256, "no event doubled");

    let app = std::sync::Arc::into_inner(app).expect("all tasks finished");
    let dir = app.stop().await;
    let storage = isms_store::SledStorage::open(&isms::events_dir(dir.path())).unwrap();
    let reports = isms_store::chain::verify_all(&storage, true).unwrap().expect("chain verifies");
    assert_eq!(reports[0].1.head.position, 256);
}
