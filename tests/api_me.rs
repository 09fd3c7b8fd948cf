//! `GET /api/v1/me` over HTTP, against SQLite and (when it answers)
//! PostgreSQL: each role learns who it is, a department-wide token reads as
//! its department, and a missing or unknown token is refused with 401.

mod common;

use common::served::{self, Served};
use serde_json::json;
use skyshare::auth::{random_token, token_hash};

async fn each_caller_learns_who_it_is(served: Served) {
    let (status, body) = served
        .call("GET", Some(&served.pilot), "/api/v1/me", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"user_id": "pilot-a", "name": "pilot-a", "role": "pilot", "department": null})
    );

    let (status, body) = served
        .call("GET", Some(&served.admin), "/api/v1/me", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"user_id": "admin-a", "name": "admin-a", "role": "admin", "department": null})
    );

    let (status, body) = served
        .call("GET", Some(&served.department), "/api/v1/me", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"user_id": "parks-a", "name": "parks-a", "role": "department",
               "department": {"id": "parks", "name": "Parks"}})
    );

    // A department-wide token (no user behind it) is a department user
    // named after its department.
    let legacy = random_token();
    served
        .store
        .add_token(&token_hash(&legacy), "water", 0)
        .await
        .unwrap();
    let (status, body) = served.call("GET", Some(&legacy), "/api/v1/me", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"user_id": "department:water", "name": "Water Authority", "role": "department",
               "department": {"id": "water", "name": "Water Authority"}})
    );

    let (status, body) = served.call("GET", None, "/api/v1/me", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let (status, body) = served
        .call("GET", Some("not-a-token"), "/api/v1/me", None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_reads_who_it_is_and_no_token_is_refused_with_sqlite() {
    each_caller_learns_who_it_is(served::start(None, &["me-1"]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_reads_who_it_is_and_no_token_is_refused_with_postgresql() {
    let Some(pg) = common::pg::schema("me").await else {
        return;
    };
    each_caller_learns_who_it_is(served::start(Some(pg.url.clone()), &["me-1"]).await).await;
    pg.drop().await;
}
