//! The console's routes over real HTTP, merged with the API router the way
//! the demo serves them: the page, its assets with their content types, the
//! region as GeoJSON (no token needed), and the API's own routes untouched.

use serde_json::Value;
use skyshare::console;
use skyshare::region::Region;

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn the_console_page_and_its_assets_are_served_with_their_content_types() {
    let base = serve(console::router(Region::demo())).await;
    let http = reqwest::Client::new();
    for (path, kind, marker) in [
        ("/", "text/html", "/assets/app.js"),
        ("/assets/app.js", "text/javascript", "leaflet"),
        ("/assets/app.css", "text/css", ".leaflet-container"),
    ] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        let body = response.text().await.unwrap();
        assert!(body.contains(marker), "{path} lacks {marker}");
    }
    let missing = http
        .get(format!("{base}/assets/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_region_endpoint_gives_zones_with_kind_and_active_state_without_a_token() {
    let region = Region::demo();
    let base = serve(console::router(region.clone())).await;
    let response = reqwest::get(format!("{base}/api/v1/region")).await.unwrap();
    assert_eq!(response.status(), 200);
    let collection: Value = response.json().await.unwrap();
    assert_eq!(collection["type"], "FeatureCollection");
    let zones: Vec<&Value> = collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["role"] == "zone")
        .collect();
    assert_eq!(zones.len(), region.zones.len());
    for zone in zones {
        assert!(zone["properties"]["kind"].is_string(), "{zone}");
        assert!(zone["properties"]["active"].is_boolean(), "{zone}");
    }
}
