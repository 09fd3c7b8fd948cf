//! Agreement with shapely (GEOS) on a small generated instance: the same
//! (segment, zone) conflicting pairs with the altitude band filter, the same
//! (route, zone) pairs in 2D, the same (point, zone) pairs. Needs python3
//! with shapely (scripts/requirements-test.txt; SKYSHARE_PYTHON overrides
//! the interpreter). Outside CI it skips with a reason if shapely is absent;
//! in CI it fails.

use std::collections::BTreeSet;
use std::process::Command;

use skyshare::airspace::geom::Xy;
use skyshare::airspace::{
    AirspaceFrame, AltitudeReference, Applicability, Band, Zone, ZoneIndex, ZoneKind, ZoneShape,
};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

const PEER: &str = r#"
import json, sys, numpy as np, shapely
from shapely import STRtree
d = json.load(open(sys.argv[1]))
polys = np.array([shapely.Polygon(p["ring"]) for p in d["polys"]])
zlo = np.array([p["alt"][0] for p in d["polys"]]); zhi = np.array([p["alt"][1] for p in d["polys"]])
tree = STRtree(polys)
segs = shapely.linestrings([s["pts"] for s in d["segs"]])
slo = np.array([s["alt"][0] for s in d["segs"]]); shi = np.array([s["alt"][1] for s in d["segs"]])
s, z = tree.query(segs, predicate="intersects")
keep = (slo[s] <= zhi[z]) & (shi[s] >= zlo[z])
lines = shapely.linestrings(d["routes"])
r, rz = tree.query(lines, predicate="intersects")
pts = shapely.points(d["points"])
p, pz = tree.query(pts, predicate="within")
json.dump({"seg": [[int(a), int(b)] for a, b in zip(s[keep], z[keep])],
           "route": [[int(a), int(b)] for a, b in zip(r, rz)],
           "point": [[int(a), int(b)] for a, b in zip(p, pz)]}, sys.stdout)
"#;

fn python() -> String {
    std::env::var("SKYSHARE_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn shapely_available() -> bool {
    Command::new(python())
        .args(["-c", "import shapely, numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn conflicting_pairs_match_shapely_exactly() {
    if !shapely_available() {
        if std::env::var_os("CI").is_some() {
            panic!("shapely is required in CI (scripts/requirements-test.txt)");
        }
        eprintln!("SKIPPED: {} cannot import shapely and numpy", python());
        return;
    }
    let mut rng = Lcg(7);
    let mut zones = Vec::new();
    let mut polys = Vec::new();
    for i in 0..400 {
        let (cx, cy, r0) = (
            rng.range(0.0, 3000.0),
            rng.range(0.0, 3000.0),
            rng.range(20.0, 200.0),
        );
        let n = 5 + (rng.next() * 30.0) as usize;
        let mut angles: Vec<f64> = (0..n)
            .map(|_| rng.range(0.0, std::f64::consts::TAU))
            .collect();
        angles.sort_by(f64::total_cmp);
        // Rounded like the shared instance, so both sides see the same numbers.
        let ring: Vec<(f64, f64)> = angles
            .iter()
            .map(|a| {
                let r = r0 * rng.range(0.5, 1.0);
                (
                    ((cx + r * a.cos()) * 1000.0).round() / 1000.0,
                    ((cy + r * a.sin()) * 1000.0).round() / 1000.0,
                )
            })
            .collect();
        let lo = [0.0, 0.0, 30.0, 60.0][(rng.next() * 4.0) as usize];
        let hi = lo + [60.0, 120.0, 400.0][(rng.next() * 3.0) as usize];
        polys.push(serde_json::json!({"ring": ring, "alt": [lo, hi]}));
        zones.push(Zone {
            id: format!("P{i}"),
            name: String::new(),
            reason: String::new(),
            kind: ZoneKind::Prohibited,
            shape: ZoneShape::Polygon {
                exterior: ring,
                holes: vec![],
            },
            band: Band::new(lo, hi, AltitudeReference::Agl).unwrap(),
            time: Applicability::permanent(),
        });
    }
    let mut routes = Vec::new();
    let mut segs = Vec::new();
    let mut seg_json = Vec::new();
    for _ in 0..60 {
        let (mut x, mut y, mut h) = (
            rng.range(300.0, 2700.0),
            rng.range(300.0, 2700.0),
            rng.range(0.0, 6.3),
        );
        let mut pts = vec![(x, y, rng.range(30.0, 120.0))];
        for _ in 0..20 {
            h += rng.range(-0.5, 0.5);
            let step = rng.range(50.0, 150.0);
            x = ((x + step * h.cos()).clamp(0.0, 3000.0) * 1000.0).round() / 1000.0;
            y = ((y + step * h.sin()).clamp(0.0, 3000.0) * 1000.0).round() / 1000.0;
            pts.push((x, y, rng.range(30.0, 120.0)));
        }
        for w in pts.windows(2) {
            let (lo, hi) = (w[0].2.min(w[1].2), w[0].2.max(w[1].2));
            segs.push((Xy::new(w[0].0, w[0].1), Xy::new(w[1].0, w[1].1), lo, hi));
            seg_json.push(
                serde_json::json!({"pts": [[w[0].0, w[0].1], [w[1].0, w[1].1]], "alt": [lo, hi]}),
            );
        }
        routes.push(pts);
    }
    let points: Vec<(f64, f64)> = (0..5000)
        .map(|_| (rng.range(0.0, 3000.0), rng.range(0.0, 3000.0)))
        .collect();
    let instance = serde_json::json!({
        "polys": polys,
        "segs": seg_json,
        "routes": routes.iter().map(|r| r.iter().map(|p| [p.0, p.1]).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "points": points.iter().map(|p| [p.0, p.1]).collect::<Vec<_>>(),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("instance.json");
    std::fs::write(&file, instance.to_string()).unwrap();
    let out = Command::new(python())
        .args(["-c", PEER])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pairs = |key: &str| -> BTreeSet<(usize, usize)> {
        peer[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().unwrap() as usize,
                    p[1].as_u64().unwrap() as usize,
                )
            })
            .collect()
    };

    let index = ZoneIndex::build(zones, AirspaceFrame::planar());
    // The index numbers zones in map order; the peer, as given (`P{i}`).
    let given = |z: usize| -> usize {
        index.zone(z).id[1..]
            .parse()
            .expect("zone ids are P and the zone's place in the instance")
    };
    let mut ours = BTreeSet::new();
    let mut hits = Vec::new();
    for (s, &(a, b, lo, hi)) in segs.iter().enumerate() {
        hits.clear();
        index.segment_band_hits(a, b, lo, hi, &mut hits);
        ours.extend(hits.iter().map(|&z| (s, given(z))));
    }
    let theirs = pairs("seg");
    assert!(
        theirs.len() > 100,
        "the instance has conflicts to compare: {}",
        theirs.len()
    );
    assert_eq!(ours, theirs, "segment/zone pairs");

    let mut ours = BTreeSet::new();
    for (r, pts) in routes.iter().enumerate() {
        for w in pts.windows(2) {
            hits.clear();
            index.segment_band_hits(
                Xy::new(w[0].0, w[0].1),
                Xy::new(w[1].0, w[1].1),
                f64::NEG_INFINITY,
                f64::INFINITY,
                &mut hits,
            );
            ours.extend(hits.iter().map(|&z| (r, given(z))));
        }
    }
    assert_eq!(ours, pairs("route"), "route/zone pairs");

    let mut ours = BTreeSet::new();
    for (i, &(x, y)) in points.iter().enumerate() {
        hits.clear();
        index.zones_containing(Xy::new(x, y), &mut hits);
        ours.extend(hits.iter().map(|&z| (i, given(z))));
    }
    assert_eq!(ours, pairs("point"), "point/zone pairs");
    let bulk: Vec<Xy> = points.iter().map(|&(x, y)| Xy::new(x, y)).collect();
    assert_eq!(
        index.count_points_inside(&bulk),
        ours.len(),
        "bulk point count"
    );
}
