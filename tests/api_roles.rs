//! Roles over HTTP, against SQLite and (when it answers) PostgreSQL:
//! department users see and change only their own tasks, pilots see every
//! flight and command drones, administrators manage departments, quotas,
//! users and tokens; every pilot and administrator action is audited, and
//! every role's refusals are checked.

mod common;

use std::time::Duration;

use common::{config, point_task, wait_for_fleet, Api};
use geo::{Destination, Haversine};
use serde_json::{json, Value};
use skyshare::demo::{self, RunningDemo};
use skyshare::region::Region;

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(demo: &RunningDemo) -> Client {
        Client {
            base: format!("http://{}", demo.http_addr),
            http: reqwest::Client::new(),
        }
    }
    async fn call(
        &self,
        method: &str,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }
}

fn target(region: &Region, bearing: f64) -> String {
    let p = Haversine.destination(region.docks[0].position, bearing, 150.0);
    point_task(p.x(), p.y(), "visible")
}

async fn audit_entries(client: &Client, admin: &str) -> Vec<Value> {
    let (status, body) = client
        .call("GET", Some(admin), "/api/v1/audit?limit=1000", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

async fn roles_are_enforced(demo: RunningDemo) {
    let api = Api::new(&demo);
    let client = Client::new(&demo);
    let region = Region::demo();
    let urban = demo.token("urban-management").to_owned();
    let env = demo.token("environment").to_owned();
    let pilot = demo.pilot_token.clone();
    let admin = demo.admin_token.clone();
    wait_for_fleet(&api, &urban).await;

    // Every route but /healthz wants a known token.
    for (method, path) in [
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/fleet"),
        ("GET", "/api/v1/flights"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/departments"),
        ("POST", "/api/v1/tasks/x/cancel"),
    ] {
        let (status, body) = client.call(method, None, path, None).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(body["error"]["where"], "header Authorization");
        let (status, _) = client.call(method, Some("sky_nope"), path, None).await;
        assert_eq!(status, 401, "{method} {path} with an unknown token");
    }

    // The one drone takes urban's first task; the second stays queued
    // behind it, so it can be cancelled.
    let (status, first) = api
        .post(&urban, "/api/v1/tasks", &target(&region, 20.0))
        .await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, t) = api.get(&urban, &format!("/api/v1/tasks/{first_id}")).await;
        if t["state"] == "assigned" || t["state"] == "in_flight" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "first task never taken: {t}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, second) = api
        .post(&urban, "/api/v1/tasks", &target(&region, 60.0))
        .await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().unwrap().to_owned();

    // Another department: not found, for reading and for cancelling.
    let (status, body) = client
        .call(
            "GET",
            Some(&env),
            &format!("/api/v1/tasks/{second_id}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, _) = client
        .call(
            "POST",
            Some(&env),
            &format!("/api/v1/tasks/{second_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = api.get(&env, "/api/v1/tasks").await;
    assert!(list["tasks"].as_array().unwrap().is_empty(), "{list}");
    let (_, images) = api
        .get(&env, &format!("/api/v1/images?task={first_id}"))
        .await;
    assert!(images["images"].as_array().unwrap().is_empty(), "{images}");
    let (_, fleet) = api.get(&env, "/api/v1/fleet").await;
    assert!(
        fleet["drones"][0]["task_id"].is_null(),
        "another department's task id leaked: {fleet}"
    );
    let (_, flights) = api.get(&env, "/api/v1/flights").await;
    assert!(
        flights["flights"].as_array().unwrap().is_empty(),
        "{flights}"
    );

    // The owner cancels its queued task; once cancelled, again is a conflict,
    // and a task in flight cannot be cancelled.
    let (status, cancelled) = client
        .call(
            "POST",
            Some(&urban),
            &format!("/api/v1/tasks/{second_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    let (status, again) = client
        .call(
            "POST",
            Some(&urban),
            &format!("/api/v1/tasks/{second_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("not_cancellable")),
        "{again}"
    );
    let (status, _) = client
        .call(
            "POST",
            Some(&urban),
            &format!("/api/v1/tasks/{first_id}/cancel"),
            None,
        )
        .await;
    assert_eq!(status, 409);

    // Pilots see every department's tasks and flights, may not submit, cancel or administer.
    let (status, all) = api.get(&pilot, "/api/v1/tasks").await;
    assert_eq!(status, 200);
    assert_eq!(all["tasks"].as_array().unwrap().len(), 2, "{all}");
    let (status, _) = api.get(&pilot, &format!("/api/v1/tasks/{first_id}")).await;
    assert_eq!(status, 200);
    let (_, flights) = api.get(&pilot, "/api/v1/flights").await;
    assert_eq!(
        flights["flights"][0]["task_id"],
        first_id.as_str(),
        "{flights}"
    );
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/tasks".to_string(),
            Some(serde_json::from_str::<Value>(&target(&region, 90.0)).unwrap()),
        ),
        ("POST", format!("/api/v1/tasks/{first_id}/cancel"), None),
        ("GET", "/api/v1/audit".to_string(), None),
        ("GET", "/api/v1/users".to_string(), None),
        (
            "PUT",
            "/api/v1/departments/environment".to_string(),
            Some(json!({"name": "x"})),
        ),
    ] {
        let (status, reply) = client.call(method, Some(&pilot), &path, body).await;
        assert_eq!(
            (status, reply["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "pilot {method} {path}: {reply}"
        );
    }
    // Departments and administrators may not command drones.
    let drone = demo.drones[0].id.clone();
    let command_path = format!("/api/v1/drones/{drone}/commands");
    for token in [&urban, &admin] {
        let (status, _) = client
            .call(
                "POST",
                Some(token),
                &command_path,
                Some(json!({"command": "pause"})),
            )
            .await;
        assert_eq!(status, 403);
    }
    for path in ["/api/v1/audit", "/api/v1/users", "/api/v1/departments"] {
        let (status, _) = client.call("GET", Some(&urban), path, None).await;
        assert_eq!(status, 403, "department GET {path}");
    }

    // A pilot pauses and resumes the flight; each command is audited as
    // sent, and the bridge's answer follows as its own line.
    let (status, bad) = client
        .call(
            "POST",
            Some(&pilot),
            &command_path,
            Some(json!({"command": "explode"})),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["where"].as_str()),
        (400, Some("command")),
        "{bad}"
    );
    let (status, _) = client
        .call(
            "POST",
            Some(&pilot),
            "/api/v1/drones/no-such-drone/commands",
            Some(json!({"command": "land"})),
        )
        .await;
    assert_eq!(status, 404);
    let mut command_ids = Vec::new();
    for command in ["pause", "resume"] {
        let (status, sent) = client
            .call(
                "POST",
                Some(&pilot),
                &command_path,
                Some(json!({"command": command})),
            )
            .await;
        assert_eq!(status, 202, "{sent}");
        assert_eq!(sent["state"], "sent");
        command_ids.push(sent["command_id"].as_str().unwrap().to_owned());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let entries = audit_entries(&client, &admin).await;
        let sent = entries
            .iter()
            .filter(|e| e["action"] == "drone_command" && e["result"] == "sent")
            .count();
        assert_eq!(sent, 2, "{entries:?}");
        let outcomes: Vec<&Value> = entries
            .iter()
            .filter(|e| e["action"] == "drone_command_outcome")
            .collect();
        if command_ids.iter().all(|id| {
            outcomes
                .iter()
                .any(|e| e["detail"]["command_id"] == id.as_str())
        }) {
            for e in outcomes {
                assert_eq!(e["actor"], "pilot");
                assert_eq!(e["target"], drone.as_str());
                assert!(
                    ["succeeded", "failed", "timed_out"].contains(&e["result"].as_str().unwrap()),
                    "{e}"
                );
            }
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no bridge outcome for {command_ids:?}: {entries:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Scheduling rounds ran meanwhile; the cancelled task stayed cancelled.
    let (_, later) = api.get(&urban, &format!("/api/v1/tasks/{second_id}")).await;
    assert_eq!(later["state"], "cancelled", "{later}");

    // An administrator sets a quota: environment may have no unfinished task.
    let (status, dept) = client
        .call(
            "PUT",
            Some(&admin),
            "/api/v1/departments/environment",
            Some(json!({"name": "Environment", "max_open_tasks": 0})),
        )
        .await;
    assert_eq!(status, 200, "{dept}");
    assert_eq!(dept["max_open_tasks"], 0);
    let (status, refused) = api
        .post(&env, "/api/v1/tasks", &target(&region, 120.0))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("quota_exceeded")),
        "{refused}"
    );
    let (status, bad) = client
        .call(
            "PUT",
            Some(&admin),
            "/api/v1/departments/environment",
            Some(json!({"name": "E", "max_open_tasks": -1})),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["where"].as_str()),
        (422, Some("max_open_tasks")),
        "{bad}"
    );

    // Users and tokens: a new pilot, its token works, revoked it does not.
    let (status, bad) = client
        .call(
            "PUT",
            Some(&admin),
            "/api/v1/users/night-pilot",
            Some(json!({"name": "N", "role": "pilot", "department_id": "environment"})),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["where"].as_str()),
        (422, Some("department_id")),
        "{bad}"
    );
    let (status, bad) = client
        .call(
            "PUT",
            Some(&admin),
            "/api/v1/users/night-pilot",
            Some(json!({"name": "N", "role": "root"})),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["where"].as_str()),
        (422, Some("role")),
        "{bad}"
    );
    let (status, user) = client
        .call(
            "PUT",
            Some(&admin),
            "/api/v1/users/night-pilot",
            Some(json!({"name": "Night pilot", "role": "pilot"})),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    let (status, issued) = client
        .call(
            "POST",
            Some(&admin),
            "/api/v1/users/night-pilot/tokens",
            None,
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let night = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&night, "/api/v1/flights").await.0, 200);
    assert_eq!(
        api.post(&night, "/api/v1/tasks", &target(&region, 90.0))
            .await
            .0,
        403
    );
    let (status, revoked) = client
        .call(
            "DELETE",
            Some(&admin),
            "/api/v1/users/night-pilot/tokens",
            None,
        )
        .await;
    assert_eq!(
        (status, revoked["revoked"].as_i64()),
        (200, Some(1)),
        "{revoked}"
    );
    assert_eq!(api.get(&night, "/api/v1/flights").await.0, 401);
    let (status, _) = client
        .call("POST", Some(&admin), "/api/v1/users/nobody/tokens", None)
        .await;
    assert_eq!(status, 404);
    let (_, users) = client
        .call("GET", Some(&admin), "/api/v1/users", None)
        .await;
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == "night-pilot"),
        "{users}"
    );

    // The audit log holds every administrator action, refusals included,
    // in order, and never a token.
    let entries = audit_entries(&client, &admin).await;
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["actor"] == "admin")
        .map(|e| (e["action"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("department_put", "ok"),
            ("department_put", "refused (422)"),
            ("user_put", "refused (422)"),
            ("user_put", "refused (422)"),
            ("user_put", "ok"),
            ("token_issue", "ok"),
            ("tokens_revoke", "ok"),
            ("token_issue", "refused (404)"),
        ],
        "{entries:?}"
    );
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(
        !serde_json::to_string(&entries).unwrap().contains(&night),
        "a token reached the audit log"
    );
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_are_enforced_over_http_with_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    roles_are_enforced(demo).await;
}

fn answers(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(300)).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn roles_are_enforced_over_http_with_postgresql() {
    if !answers("127.0.0.1:5432") {
        println!("SKIPPED: needs PostgreSQL on 127.0.0.1:5432");
        return;
    }
    // A private schema per run keeps runs apart in the shared `test` database.
    let schema = format!("roles_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 1, None, Some(url)))
        .await
        .unwrap();
    roles_are_enforced(demo).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
