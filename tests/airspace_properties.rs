//! Properties of the route check on random star-shaped zones (simple by
//! construction: vertices at increasing angles around a centre).

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use skyshare::airspace::geom::{leg_clearance, leg_intervals, PlanarShape, Xy};
use skyshare::airspace::{
    AirspaceFrame, AltitudeReference, Applicability, Band, CheckOptions, PairScratch, Waypoint,
    Zone, ZoneIndex, ZoneKind, ZoneShape,
};

/// A star polygon around `(cx, cy)`: `n` vertices, angle gaps under pi so
/// the centre sees every edge.
fn star() -> impl Strategy<Value = (f64, f64, Vec<(f64, f64)>)> {
    (0.0..1000.0f64, 0.0..1000.0f64, 20.0..300.0f64, 5usize..24).prop_flat_map(|(cx, cy, r0, n)| {
        (
            proptest::collection::vec(0.0..0.9f64, n),
            proptest::collection::vec(0.5..1.0f64, n),
        )
            .prop_map(move |(jitter, radius)| {
                let step = std::f64::consts::TAU / n as f64;
                let ring = (0..n)
                    .map(|i| {
                        let a = step * (i as f64 + jitter[i]);
                        let r = r0 * radius[i];
                        (cx + r * a.cos(), cy + r * a.sin())
                    })
                    .collect();
                (cx, cy, ring)
            })
    })
}

fn zone(id: &str, ring: Vec<(f64, f64)>) -> Zone {
    Zone {
        id: id.into(),
        name: id.into(),
        reason: String::new(),
        kind: ZoneKind::Prohibited,
        shape: ZoneShape::Polygon {
            exterior: ring,
            holes: vec![],
        },
        band: Band::new(0.0, 120.0, AltitudeReference::Agl).unwrap(),
        time: Applicability::permanent(),
    }
}

fn route(points: &[(f64, f64)], alt: f64) -> Vec<Waypoint> {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| Waypoint {
            lon: x,
            lat: y,
            alt_agl_m: alt,
            time: t0 + chrono::Duration::seconds(30 * i as i64),
        })
        .collect()
}

fn options(buffer: f64) -> CheckOptions {
    CheckOptions {
        lateral_buffer_m: buffer,
        vertical_margin_m: 0.0,
        authorisations: vec![],
    }
}

/// What a check says, without the parts that depend on the ring's storage.
fn summary(index: &ZoneIndex, wps: &[Waypoint], buffer: f64) -> Vec<(usize, String, i64)> {
    index
        .check_route(wps, &options(buffer))
        .iter()
        .map(|c| (c.leg, c.zone.id.clone(), c.from.timestamp_millis()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_point_inside_a_zone_is_always_reported(
        (cx, cy, ring) in star(), edge in 0usize..24, u in 0.0..1.0f64, f in 0.0..0.99f64, alt in 0.0..120.0f64
    ) {
        // A point between the centre and the boundary of a star polygon is inside.
        let n = ring.len();
        let (a, b) = (ring[edge % n], ring[(edge + 1) % n]);
        let on_edge = (a.0 + (b.0 - a.0) * u, a.1 + (b.1 - a.1) * u);
        let p = (cx + (on_edge.0 - cx) * f, cy + (on_edge.1 - cy) * f);
        let index = ZoneIndex::build(vec![zone("Z", ring)], AirspaceFrame::planar());
        let mut found = Vec::new();
        index.zones_near(Xy::new(p.0, p.1), 0.0, &mut found);
        prop_assert_eq!(found, vec![0]);
        // A hover there (a zero-length leg) and a short leg from it are refused.
        prop_assert_eq!(index.check_route(&route(&[p, p], alt), &options(0.0)).len(), 1);
        prop_assert_eq!(index.check_route(&route(&[p, (p.0 + 5000.0, p.1)], alt), &options(0.0)).len(), 1);
    }

    #[test]
    fn a_route_far_from_every_zone_is_never_reported(
        zones in proptest::collection::vec(star(), 1..8),
        legs in proptest::collection::vec((0.0..2000.0f64, 0.0..2000.0f64), 2..12),
        buffer in 0.0..50.0f64,
    ) {
        // Zones lie within x < 1300; the route starts 1300 + buffer + 1 m east.
        let zones: Vec<Zone> = zones.into_iter().enumerate().map(|(i, (_, _, r))| zone(&format!("Z{i}"), r)).collect();
        let shift = 1300.0 + buffer + 1.0;
        let pts: Vec<(f64, f64)> = legs.iter().map(|&(x, y)| (x + shift, y)).collect();
        let index = ZoneIndex::build(zones, AirspaceFrame::planar());
        prop_assert!(index.check_route(&route(&pts, 60.0), &options(buffer)).is_empty());
    }

    #[test]
    fn answers_do_not_depend_on_ring_orientation_or_starting_vertex(
        (_, _, ring) in star(),
        legs in proptest::collection::vec((-200.0..1200.0f64, -200.0..1200.0f64), 2..10),
        rotate in 0usize..24,
        buffer in 0.0..30.0f64,
    ) {
        let wps = route(&legs, 60.0);
        let base = summary(&ZoneIndex::build(vec![zone("Z", ring.clone())], AirspaceFrame::planar()), &wps, buffer);
        let mut reversed = ring.clone();
        reversed.reverse();
        let mut rotated = ring.clone();
        rotated.rotate_left(rotate % ring.len());
        for other in [reversed, rotated] {
            let again = summary(&ZoneIndex::build(vec![zone("Z", other)], AirspaceFrame::planar()), &wps, buffer);
            prop_assert_eq!(&base, &again);
        }
    }

    #[test]
    fn segment_test_and_exact_intervals_agree(
        (_, _, ring) in star(),
        a in (-200.0..1200.0f64, -200.0..1200.0f64),
        b in (-200.0..1200.0f64, -200.0..1200.0f64),
    ) {
        let shape = PlanarShape::polygon(ring.iter().map(|&(x, y)| Xy::new(x, y)).collect(), vec![]);
        let (a, b) = (Xy::new(a.0, a.1), Xy::new(b.0, b.1));
        prop_assert_eq!(shape.meets_segment(a, b), !leg_intervals(a, b, &shape, 0.0).is_empty());
    }
}

/// Signed clearance of a point from a shape's edge: positive inside.
fn signed_clearance(shape: &PlanarShape, p: Xy) -> f64 {
    let edge = shape.distance_to_boundary(p);
    if shape.contains(p) {
        edge
    } else {
        -edge
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_leg_leaving_a_concave_operating_area_anywhere_is_reported(
        (_, _, ring) in star(),
        a in (-100.0..1100.0f64, -100.0..1100.0f64),
        b in (-100.0..1100.0f64, -100.0..1100.0f64),
        buffer in 0.0..30.0f64,
    ) {
        let shape = PlanarShape::polygon(ring.iter().map(|&(x, y)| Xy::new(x, y)).collect(), vec![]);
        let (pa, pb) = (Xy::new(a.0, a.1), Xy::new(b.0, b.1));
        let (clear, at) = leg_clearance(pa, pb, &shape);
        prop_assert!((0.0..=1.0).contains(&at));
        // Far more points than the check ever looked at.
        let n = 4000;
        let sampled = (0..=n)
            .map(|k| signed_clearance(&shape, pa.lerp(pb, k as f64 / n as f64)))
            .fold(f64::INFINITY, f64::min);
        let step = pa.distance(pb) / n as f64;
        if clear >= 0.0 {
            // Inside throughout: no point is closer to the edge than the
            // exact clearance, and the sampled minimum is it up to the
            // step between samples.
            prop_assert!(sampled >= clear - 1e-6, "exact {clear} sampled {sampled}");
            prop_assert!(sampled <= clear + step + 1e-6, "exact {clear} sampled {sampled}");
        } else {
            // Outside somewhere: how far is measured at a point of the leg
            // that really is that far out.
            prop_assert!(sampled <= clear + step + 1e-6, "exact {clear} sampled {sampled}");
        }
        // Any point found outside means the leg leaves the area.
        prop_assert!(sampled >= 0.0 || clear < 0.0, "exact {clear} sampled {sampled}");
        // The route check reports the leg exactly when it is not `buffer`
        // clear of the edge, however briefly.
        let mut area = zone("AREA", ring);
        area.kind = ZoneKind::OperatingArea;
        let index = ZoneIndex::build(vec![area], AirspaceFrame::planar());
        let found = index.check_route(&route(&[a, b], 60.0), &options(buffer));
        prop_assert_eq!(found.len(), usize::from(clear < buffer));
        if sampled < buffer {
            prop_assert_eq!(found.len(), 1);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_pairs_decided_alone_are_the_full_checks_and_explain_to_the_same_conflicts(
        zones in proptest::collection::vec((star(), 0.0..100.0f64, 10.0..100.0f64, 0usize..4), 1..8),
        legs in proptest::collection::vec((-200.0..1200.0f64, -200.0..1200.0f64, 0.0..150.0f64), 2..10),
        buffer in prop_oneof![Just(0.0), 0.0..30.0f64],
        area in any::<bool>(),
        held in any::<bool>(),
    ) {
        let kinds = [ZoneKind::Prohibited, ZoneKind::AuthorisationRequired, ZoneKind::Advisory, ZoneKind::Conditional];
        let mut zones: Vec<Zone> = zones
            .into_iter()
            .enumerate()
            .map(|(i, ((_, _, ring), floor, height, kind))| {
                let mut z = zone(&format!("Z{i}"), ring);
                z.band = Band::new(floor, floor + height, AltitudeReference::Agl).unwrap();
                z.kind = kinds[kind];
                if i % 3 == 2 {
                    // Applies only from the second leg's time on.
                    z.time = Applicability::between(
                        Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 45).unwrap(),
                        Utc.with_ymd_and_hms(2026, 11, 24, 13, 0, 0).unwrap(),
                    );
                }
                z
            })
            .collect();
        if area {
            let mut a = zone("AREA", vec![(0.0, 0.0), (1000.0, 0.0), (1000.0, 400.0), (400.0, 400.0), (400.0, 1000.0), (0.0, 1000.0)]);
            a.kind = ZoneKind::OperatingArea;
            a.band = Band::new(0.0, f64::INFINITY, AltitudeReference::Agl).unwrap();
            zones.push(a);
        }
        let index = ZoneIndex::build(zones, AirspaceFrame::planar());
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let wps: Vec<Waypoint> = legs
            .iter()
            .enumerate()
            .map(|(i, &(x, y, alt))| Waypoint { lon: x, lat: y, alt_agl_m: alt, time: t0 + chrono::Duration::seconds(30 * i as i64) })
            .collect();
        // With no authorisation held, whether a pair blocks follows from
        // the zone's kind alone.
        let authorisations = if held { vec!["Z1".into()] } else { Vec::new() };
        let opts = CheckOptions { authorisations, ..options(buffer) };
        let full = index.check_route(&wps, &opts);
        let mut pairs = Vec::new();
        index.conflict_pairs(&wps, &opts, &mut PairScratch::default(), &mut pairs);
        // Listed by leg, and the same from working space used before on a
        // shorter and a longer route.
        prop_assert!(pairs.windows(2).all(|w| w[0].leg <= w[1].leg), "{pairs:?}");
        let mut scratch = PairScratch::default();
        let mut again = Vec::new();
        for part in [&wps[..], &wps[..2], &wps[..]] {
            index.conflict_pairs(part, &opts, &mut scratch, &mut again);
        }
        prop_assert_eq!(&again, &pairs);
        let mut lean: Vec<(usize, String, bool)> = pairs
            .iter()
            .map(|p| (p.leg as usize, index.zone(p.zone as usize).id.clone(), p.blocking))
            .collect();
        let mut listed: Vec<(usize, String, bool)> = full.iter().map(|c| (c.leg, c.zone.id.clone(), c.is_blocking())).collect();
        lean.sort();
        listed.sort();
        prop_assert_eq!(lean, listed);
        for p in &pairs {
            let explained = index.explain(&wps, &opts, *p).expect("a found pair explains");
            prop_assert!(full.contains(&explained), "{explained}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The discs about each zone (one holding it, one inside it) decide
    /// most legs without reading an edge; they must never decide otherwise
    /// than the edges would. Checked against the exact parts of each leg
    /// within the buffer of each zone, zone by zone, with no index.
    #[test]
    fn the_disc_shortcuts_decide_every_pair_as_the_edges_do(
        stars in proptest::collection::vec(star(), 1..6),
        legs in proptest::collection::vec((-200.0..1200.0f64, -200.0..1200.0f64), 2..8),
        buffer in prop_oneof![Just(0.0), 0.0..30.0f64],
    ) {
        let zones: Vec<Zone> = stars
            .into_iter()
            .enumerate()
            .map(|(i, (_, _, ring))| zone(&format!("Z{i}"), ring))
            .collect();
        let index = ZoneIndex::build(zones, AirspaceFrame::planar());
        let wps = route(&legs, 50.0);
        let mut pairs = Vec::new();
        index.conflict_pairs(&wps, &options(buffer), &mut PairScratch::default(), &mut pairs);
        let mut decided: Vec<(u32, u32)> = pairs.iter().map(|p| (p.leg, p.zone)).collect();
        decided.sort();
        let mut listed: Vec<(u32, u32)> = index
            .check_route(&wps, &options(buffer))
            .iter()
            .map(|c| (c.leg as u32, index.zones().iter().position(|z| z.id == c.zone.id).unwrap() as u32))
            .collect();
        listed.sort();
        let mut exact = Vec::new();
        for (k, w) in legs.windows(2).enumerate() {
            let (a, b) = (Xy::new(w[0].0, w[0].1), Xy::new(w[1].0, w[1].1));
            for z in 0..index.len() {
                if !leg_intervals(a, b, index.shape(z), buffer).is_empty() {
                    exact.push((k as u32 + 1, z as u32));
                }
            }
        }
        prop_assert_eq!(&decided, &exact);
        prop_assert_eq!(&listed, &exact);
    }
}
