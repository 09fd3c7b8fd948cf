//! The design wind reaches submission: a point inspection a calm day's
//! battery flies easily is refused, with the reason, when the planned wind
//! blows straight from it.

mod common;

use std::time::Duration;

use common::standalone;
use geo::{Destination, Haversine};
use skyshare::dispatcher::{DispatchPolicy, SubmitError};
use skyshare::planning::Wind;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flight_that_fits_in_calm_air_is_refused_in_a_strong_headwind() {
    let parts = standalone::start().await;
    let dock = parts.region.docks[0].position;
    let dispatcher = parts.dispatcher("wind-1", Duration::from_secs(5), None);
    let bearing = 0.0;
    let target = Haversine.destination(dock, bearing, 3000.0);

    let calm = dispatcher
        .submit("water", standalone::inspection(target, 0.0, 1))
        .await;
    assert!(calm.is_ok(), "calm air: {calm:?}");

    dispatcher.set_policy(DispatchPolicy {
        wind: Wind {
            from_deg: bearing,
            speed_mps: 10.0,
        },
        ..DispatchPolicy::default()
    });
    match dispatcher
        .submit("water", standalone::inspection(target, 0.0, 1))
        .await
    {
        Err(SubmitError::Refused { field, message }) => {
            assert_eq!(field, "geometry");
            assert!(
                message.contains("too far") && message.contains("wind of 10 m/s from 0°"),
                "{message}"
            );
        }
        other => panic!("a 10 m/s headwind should refuse it: {other:?}"),
    }
}
