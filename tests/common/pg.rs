//! A private PostgreSQL schema per test run in the shared `test` database,
//! or None (with the reason printed) when PostgreSQL does not answer.

use std::time::Duration;

pub const SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct PgSchema {
    /// A URL whose connections use only this schema.
    pub url: String,
    schema: String,
    pool: sqlx::AnyPool,
}

pub async fn schema(tag: &str) -> Option<PgSchema> {
    let answers = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:5432".parse().unwrap(),
        Duration::from_millis(300),
    )
    .is_ok();
    if !answers {
        println!("SKIPPED: needs PostgreSQL on 127.0.0.1:5432");
        return None;
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(SERVER).await.unwrap();
    let schema = format!("{tag}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{SERVER}?options=-c%20search_path%3D{schema}");
    Some(PgSchema { url, schema, pool })
}

impl PgSchema {
    pub async fn drop(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.pool)
            .await
            .unwrap();
    }
}
