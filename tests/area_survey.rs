//! An area survey from request to photographs: the department sends a
//! polygon, a drone flies the lawnmower, and the photos cover the area.

mod common;

use std::time::Duration;

use common::{config, wait_for_fleet, wait_for_state, Api};
use geo::{Contains, Destination, Haversine, LineString, Point, Polygon};
use serde_json::json;
use skyshare::demo;
use skyshare::region::Region;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_area_survey_is_flown_as_a_lawnmower_and_its_photos_cover_the_area() {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let api = Api::new(&running);
    let region = Region::demo();
    let token = running.token("environment").to_owned();
    wait_for_fleet(&api, &token).await;

    // A 120 m x 80 m block starting 100 m north-east of the dock.
    let dock = region.docks[0].position;
    let corner = Haversine.destination(dock, 45.0, 100.0);
    let east = Haversine.destination(corner, 90.0, 120.0);
    let north_east = Haversine.destination(east, 0.0, 80.0);
    let north = Haversine.destination(corner, 0.0, 80.0);
    let ring: Vec<[f64; 2]> = [corner, east, north_east, north, corner]
        .iter()
        .map(|p| [p.x(), p.y()])
        .collect();
    let body = json!({"kind": "area_survey", "geometry": {"type": "Polygon", "coordinates": [ring]},
                      "alt_m": 40, "sensor": "visible"});
    let (status, task) = api.post(&token, "/api/v1/tasks", &body.to_string()).await;
    assert_eq!(status, 201, "{task}");
    assert_eq!(task["kind"], "area_survey");
    assert_eq!(
        task["progress_total"], 1,
        "one leg fits one battery: {task}"
    );
    let id = task["id"].as_str().unwrap();

    let done = wait_for_state(&api, &token, id, "completed", Duration::from_secs(120)).await;
    assert_eq!(done["progress_seq"], 1, "{done}");

    // At 40 m the camera sees 60 m x 40 m; with 70% side and 80% front
    // overlap, lines are 18 m apart and photos 8 m apart: about 5 lines of
    // 16 photos each.
    let (_, images) = api.get(&token, &format!("/api/v1/images?task={id}")).await;
    let images = images["images"].as_array().unwrap();
    assert!(images.len() >= 60, "{} photos", images.len());
    let area = Polygon::new(
        LineString::from(ring.iter().map(|c| (c[0], c[1])).collect::<Vec<_>>()),
        vec![],
    );
    // Every photo is taken over the block (within a metre or two of its
    // edge, where the outermost photos of a pass sit).
    let near_area = |at: Point| {
        use geo::{Closest, ClosestPoint, Distance};
        area.contains(&at)
            || match area.exterior().closest_point(&at) {
                Closest::SinglePoint(p) | Closest::Intersection(p) => {
                    Haversine.distance(at, p) < 3.0
                }
                Closest::Indeterminate => false,
            }
    };
    for image in images {
        let at = Point::new(
            image["lon_deg"].as_f64().unwrap(),
            image["lat_deg"].as_f64().unwrap(),
        );
        assert!(near_area(at), "photo outside the area: {image}");
        assert!(image["alt_rel_m"].as_f64().unwrap() > 30.0, "{image}");
    }
    running.stop().await;
}
