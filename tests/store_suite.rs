//! One store test suite, run against SQLite and against PostgreSQL (when
//! it answers on 127.0.0.1:5432; skipped with the reason otherwise):
//! tasks, flights and their assignments, the fleet's service states,
//! applied events, flight-time shares and recurring series.

use std::time::Duration;

use skyshare::store::{DroneServiceRow, FlightRow, FlightTaskRow, SeriesRow, Store, TaskRow};

fn task(id: &str, department: &str, at_ms: i64) -> TaskRow {
    TaskRow {
        id: id.into(),
        department_id: department.into(),
        kind: "point_inspection".into(),
        request: serde_json::json!({"kind": "point_inspection", "sensor": "visible"}),
        state: "queued".into(),
        reason: Some("waiting for the scheduler".into()),
        drone_id: None,
        created_at_ms: at_ms,
        updated_at_ms: at_ms,
        progress_seq: None,
        progress_total: None,
    }
}

async fn suite(store: &Store) {
    store.upsert_department("water", "Water").await.unwrap();
    store.upsert_department("urban", "Urban").await.unwrap();

    // Tasks: stored as given, moved through their states; a cancelled task
    // stays cancelled whatever a late round writes.
    let t1 = task("t1", "water", 1_000);
    store.insert_task(&t1).await.unwrap();
    store
        .insert_task(&task("t2", "urban", 2_000))
        .await
        .unwrap();
    store
        .insert_task(&task("t3", "water", 3_000))
        .await
        .unwrap();
    assert_eq!(store.task("t1").await.unwrap(), Some(t1));
    let queued: Vec<String> = store
        .tasks_in_state("queued")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(queued, ["t1", "t2", "t3"]);
    store
        .set_task_state("t1", "in_flight", None, Some("d1"), 4_000)
        .await
        .unwrap();
    store.set_task_progress("t1", 3, 7, 4_100).await.unwrap();
    let t = store.task("t1").await.unwrap().unwrap();
    assert_eq!(
        (
            t.state.as_str(),
            t.drone_id.as_deref(),
            t.progress_seq,
            t.progress_total
        ),
        ("in_flight", Some("d1"), Some(3), Some(7))
    );
    assert!(store
        .cancel_queued_task("t3", "water", "no longer needed", 5_000)
        .await
        .unwrap());
    assert!(!store
        .cancel_queued_task("t2", "water", "not mine", 5_000)
        .await
        .unwrap());
    store
        .set_task_state("t3", "queued", Some("a late round"), None, 5_100)
        .await
        .unwrap();
    assert_eq!(store.task("t3").await.unwrap().unwrap().state, "cancelled");
    assert_eq!(store.count_open_tasks("water").await.unwrap(), 1);
    assert_eq!(store.tasks_updated_since(4_050).await.unwrap().len(), 2);

    // Events are applied once.
    assert!(store.mark_event_applied("e1", "d1", 10).await.unwrap());
    assert!(!store.mark_event_applied("e1", "d1", 10).await.unwrap());

    // Flights and assignments: which items are whose, how far it got.
    let flight = FlightRow {
        id: "f1".into(),
        drone_id: "d1".into(),
        state: "uploading".into(),
        assigned_at_ms: 4_000,
        started_at_ms: None,
        ended_at_ms: None,
        last_reached: None,
        mission_completed: false,
        recalled_for: None,
        route: vec![[11.57, 48.13], [11.58, 48.14], [11.57, 48.13]],
        tasks: vec![
            FlightTaskRow {
                task_id: "t1".into(),
                department_id: "water".into(),
                items: Some((1, 7)),
                leg: None,
                finished: false,
            },
            FlightTaskRow {
                task_id: "t2".into(),
                department_id: "urban".into(),
                items: Some((8, 12)),
                leg: Some((0, 3)),
                finished: false,
            },
        ],
    };
    store.insert_flight(&flight).await.unwrap();
    assert_eq!(store.open_flights().await.unwrap(), vec![flight.clone()]);
    assert!(
        store.flights_since(0).await.unwrap().is_empty(),
        "not started yet"
    );
    store.flight_started("f1", 4_500).await.unwrap();
    store.flight_reached("f1", 7, Some(0)).await.unwrap();
    store.flight_reached("f1", 9, None).await.unwrap();
    store.flight_recalled("f1", Some("t9")).await.unwrap();
    store.flight_mission_completed("f1").await.unwrap();
    let read = store.flight("f1").await.unwrap().unwrap();
    assert_eq!(read.state, "flying");
    assert_eq!(read.started_at_ms, Some(4_500));
    assert_eq!(read.last_reached, Some(9));
    assert!(read.mission_completed);
    assert_eq!(read.recalled_for.as_deref(), Some("t9"));
    assert_eq!(
        read.tasks.iter().map(|t| t.finished).collect::<Vec<_>>(),
        [true, false]
    );
    assert_eq!(read.tasks[1].leg, Some((0, 3)));
    assert_eq!(
        store.flights_since(100_000).await.unwrap().len(),
        1,
        "in the air"
    );
    store.end_flight("f1", "landed", 9_000).await.unwrap();
    store.end_flight("f1", "lost", 9_500).await.unwrap();
    let ended = store.flight("f1").await.unwrap().unwrap();
    assert_eq!(
        (ended.state.as_str(), ended.ended_at_ms),
        ("landed", Some(9_000)),
        "ended once"
    );
    assert!(store.open_flights().await.unwrap().is_empty());
    assert_eq!(store.flights_since(8_000).await.unwrap().len(), 1);
    assert!(store.flights_since(9_001).await.unwrap().is_empty());
    let mut second = flight.clone();
    second.id = "f2".into();
    second.assigned_at_ms = 10_000;
    second.tasks.truncate(1);
    store.insert_flight(&second).await.unwrap();
    let of_drone: Vec<String> = store
        .flights_of_drone("d1")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(of_drone, ["f2", "f1"], "newest first");

    // The fleet: service states, set again and again.
    for (state, reason) in [("maintenance", Some("motor")), ("in_service", None)] {
        store
            .set_drone_service(&DroneServiceRow {
                drone_id: "d1".into(),
                state: state.into(),
                reason: reason.map(str::to_owned),
                changed_at_ms: 11_000,
                changed_by: "admin".into(),
            })
            .await
            .unwrap();
    }
    let services = store.drone_services().await.unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(
        (services[0].state.as_str(), services[0].reason.as_deref()),
        ("in_service", None)
    );

    // Flight-time shares.
    store.set_flight_share("water", Some(2.5)).await.unwrap();
    store.set_flight_share("urban", Some(1.0)).await.unwrap();
    store.set_flight_share("urban", None).await.unwrap();
    let shares = store.flight_shares().await.unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares["water"], 2.5);

    // Recurring series: each occurrence once, cancelled as a whole.
    let series = SeriesRow {
        id: "s1".into(),
        department_id: "water".into(),
        request: serde_json::json!({"kind": "point_inspection"}),
        state: "active".into(),
        next_occurrence: 0,
        created_at_ms: 12_000,
        updated_at_ms: 12_000,
        reason: None,
    };
    store.insert_series(&series).await.unwrap();
    assert!(store
        .add_occurrence("s1", 0, &task("s1-0", "water", 12_100))
        .await
        .unwrap());
    assert!(
        !store
            .add_occurrence("s1", 0, &task("s1-0b", "water", 12_100))
            .await
            .unwrap(),
        "an occurrence is created once"
    );
    assert!(
        store.task("s1-0b").await.unwrap().is_none(),
        "nothing half-stored"
    );
    assert!(store
        .add_occurrence("s1", 1, &task("s1-1", "water", 12_200))
        .await
        .unwrap());
    store.advance_series("s1", 3, false, 12_300).await.unwrap();
    assert_eq!(
        store.series("s1").await.unwrap().unwrap().next_occurrence,
        3
    );
    assert_eq!(store.active_series().await.unwrap().len(), 1);
    assert_eq!(
        store.series_of_task("s1-1").await.unwrap(),
        Some(("s1".into(), 1))
    );
    store
        .set_task_state("s1-0", "in_flight", None, Some("d1"), 12_400)
        .await
        .unwrap();
    assert!(store
        .cancel_series("s1", "urban", "not theirs", 13_000)
        .await
        .unwrap()
        .is_none());
    let cancelled = store
        .cancel_series("s1", "water", "done with it", 13_000)
        .await
        .unwrap();
    assert_eq!(
        cancelled,
        Some(vec!["s1-1".to_string()]),
        "only the queued one"
    );
    assert_eq!(
        store.task("s1-1").await.unwrap().unwrap().state,
        "cancelled"
    );
    assert_eq!(
        store.task("s1-0").await.unwrap().unwrap().state,
        "in_flight"
    );
    assert!(store
        .cancel_series("s1", "water", "again", 13_100)
        .await
        .unwrap()
        .is_none());
    assert!(!store
        .add_occurrence("s1", 3, &task("s1-3", "water", 13_200))
        .await
        .unwrap());
    assert!(store.active_series().await.unwrap().is_empty());
    assert_eq!(store.all_series(Some("water")).await.unwrap().len(), 1);
    assert!(store.all_series(Some("urban")).await.unwrap().is_empty());
    let occurrences: Vec<i64> = store
        .series_tasks("s1")
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(occurrences, [0, 1]);
}

#[tokio::test]
async fn the_store_suite_passes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("suite.sqlite").display()
    );
    let store = Store::connect(&url).await.unwrap();
    suite(&store).await;
    // And the schema opens again over its own data.
    drop(store);
    let again = Store::connect(&url).await.unwrap();
    assert_eq!(again.flights_of_drone("d1").await.unwrap().len(), 2);
}

#[tokio::test]
async fn the_store_suite_passes_on_postgresql() {
    let answers = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().unwrap(),
        Duration::from_millis(300),
    )
    .is_ok();
    if !answers {
        println!("SKIPPED: needs PostgreSQL on 127.0.0.1:5432");
        return;
    }
    // A private schema per run keeps runs apart in the shared database.
    let schema = format!("store_suite_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    let store = Store::connect(&url).await.unwrap();
    suite(&store).await;
    let again = Store::connect(&url).await.unwrap();
    assert_eq!(again.flights_of_drone("d1").await.unwrap().len(), 2);
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}

/// A database made before flights kept their route: opening it adds the
/// column, the old flight reads with no route, and new flights keep theirs.
async fn a_flights_table_without_routes_gains_the_column(url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    for statement in [
        "CREATE TABLE flights (id TEXT PRIMARY KEY, drone_id TEXT NOT NULL, state TEXT NOT NULL, assigned_at_ms BIGINT NOT NULL, started_at_ms BIGINT, ended_at_ms BIGINT, last_reached BIGINT, mission_completed BIGINT NOT NULL, recalled_for TEXT)",
        "INSERT INTO flights (id, drone_id, state, assigned_at_ms, mission_completed) VALUES ('old', 'd1', 'flying', 1000, 0)",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let store = Store::connect(url).await.unwrap();
    let old = store.flight("old").await.unwrap().unwrap();
    assert!(old.route.is_empty(), "{old:?}");
    let new = FlightRow {
        id: "new".into(),
        drone_id: "d2".into(),
        state: "uploading".into(),
        assigned_at_ms: 2_000,
        started_at_ms: None,
        ended_at_ms: None,
        last_reached: None,
        mission_completed: false,
        recalled_for: None,
        route: vec![[11.5, 48.1], [11.6, 48.2]],
        tasks: Vec::new(),
    };
    store.insert_flight(&new).await.unwrap();
    drop(store);
    // Opening it once more finds the column there and leaves it be.
    let again = Store::connect(url).await.unwrap();
    assert_eq!(again.flight("new").await.unwrap().unwrap(), new);
}

#[tokio::test]
async fn an_older_sqlite_file_gains_the_flight_route_column() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("old.sqlite").display()
    );
    a_flights_table_without_routes_gains_the_column(&url).await;
}

#[tokio::test]
async fn an_older_postgresql_schema_gains_the_flight_route_column() {
    let answers = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().unwrap(),
        Duration::from_millis(300),
    )
    .is_ok();
    if !answers {
        println!("SKIPPED: needs PostgreSQL on 127.0.0.1:5432");
        return;
    }
    let schema = format!("store_route_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let admin = "postgres://postgres@127.0.0.1:5432/test";
    let pool = sqlx::AnyPool::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{admin}?options=-c%20search_path%3D{schema}");
    a_flights_table_without_routes_gains_the_column(&url).await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
