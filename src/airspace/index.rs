//! The zone index: zones projected to local metres, with a uniform grid over
//! their bounding boxes. Immutable once built; [`Airspace`] swaps in a new
//! one when zones change, so readers never wait on a rebuild.
//!
//! Why a grid and not an R-tree: zones in a district are of similar size, so
//! a grid with cells about one zone wide answers a query by reading a few
//! contiguous cells, with no tree walk. (Measured against shapely's
//! STRtree by `skyshare bench airspace`; not measured against an R-tree
//! crate.) Each (query, zone) pair is reported once, by the cell holding
//! the lower-left corner of the overlap of their boxes' cell ranges, so no
//! per-query dedup set is needed: besides every zone of every cell, the
//! grid lists each zone again in its box's first row, first column and
//! lower-left cell only, and a query reads each list where it applies
//! (see `Grid`), so it meets each zone once. Zones are numbered in the
//! Z-order of their boxes' centres, so neighbours on the map are
//! neighbours in memory, and the walk tests boxes from a compact array of
//! 16 bytes a zone (`FilterBox`), reading a zone's 64-byte record only
//! when its box meets the query.
//!
//! Each zone also keeps two discs, an outer one holding its footprint and
//! an inner one its footprint holds (about the widest found). A leg clear
//! of the outer disc, or through the inner one, is decided without reading
//! an edge; about half the candidates of a route on the shared dense
//! instance are. The rest are scanned by `packed` (or, where its rounded
//! coordinates cannot be sure, `geom::leg_meets_flat`), which reads each
//! vertex's side of the leg's line (several at a time where the CPU has
//! AVX2) and looks closer only where the side changes.
//!
//! What a route check costs on that instance (10,000 zones over 30 km, a
//! route's candidates rarely in the core's own cache): about 150,000
//! instructions and 900 reads that miss a 1 MB cache per 50-leg route
//! (`valgrind --tool=callgrind --cache-sim=yes --LL=1048576,16,64`), two
//! thirds of those misses in the candidates' ring coordinates, and about
//! 2,000 mispredicted branches (`--branch-sim=yes`), 800 of them on which
//! grid items repeat a zone. So a query reads each zone once and counts
//! the box test instead of branching on it (about 1,000 mispredicted
//! branches left per route), a zone's band and discs share one cache
//! line, and the decision-only scans read rings packed to 16 bits a
//! coordinate (`packed`: a ring and its header in about three lines
//! instead of ten), which halves those misses for about 15% more
//! instructions (the error bounds, and the unpacking).
//!
//! Where a route check's time goes (2-core AMD EPYC Zen 4 VM, 2026-12-07,
//! `skyshare bench airspace polys.json routes.json --route-only`, each
//! route's best of 10, with the check cut short at each stage): the walk
//! and the band test 5.8 us, with the outer disc 7.2 us, with the inner
//! disc 8.2 us, the whole 21.7 us. So about 150 ring scans per route took
//! two thirds of it, at about 640 instructions each (callgrind), more than
//! half of all. A polygon of one ring of up to 64 points is now scanned
//! in one AVX2 function, and the edges across the leg's line are decided
//! by bit masks where their ends' places along the leg are sure: about
//! 350 instructions a scan, 152,000 a route (from 184,000), 820
//! mispredicted branches (from 1,130); each route's best p50 19.8-20.1 us
//! (from 22.0-22.4), the cache-warm p50 11.1 us (from 13.3).
//!
//! Tried and measured on that instance, and not kept: a grid listing each
//! cell's edges per zone, as S2's shape index does (20-40 MB, no faster);
//! a 16 x 16 inside/boundary mask per zone (halved the edge scans, no
//! faster); fetching the candidates' records ahead (no faster); ring
//! coordinates in single precision with an error bound and exact re-reads
//! near the line (5% fewer misses, 8% more instructions: the crossing
//! edges' exact points are read apart from them; `packed` decides those
//! within its bounds too); gathering all of a route's candidates first,
//! asking memory ahead for their records and then for the survivors'
//! rings, with the cheap rejections made branch-free (a third fewer
//! mispredicted branches, 50% more instructions, no faster on this
//! 2-core VM); asking for each batch's packed rings before deciding it
//! (no faster); the query's box in single precision for the box test (its
//! outward rounding branches cost more mispredictions than it saved); the
//! band and outer-disc rejections in one branch (more of both).
//!
//! Also tried, and not kept: each cell's zones again in blocks of eight,
//! with their boxes, discs and band limits rounded the safe way to 8 or 16
//! bits from the cell's corner, sorted eight at a time without a branch
//! (AVX2) into dropped, sure and to be checked, so that only the last read
//! a zone's line. Per dense route it cut mispredicted branches from 1,030
//! to 927 but raised instructions from 197k to 219k and L1 misses from 551
//! to 769: a zone's box covers about nine cells, and each cell holds its
//! own copy, so the blocks are five times the zones' lines; no faster.
//! Compiling the whole route check for AVX2 (so the packed sides inline):
//! 219k instructions, 1,241 mispredicted branches. Transparent huge pages
//! for the index (the system set to `always`): within this VM's noise.
//! A finer cover of squares (a quarter of a zone wide) listing only the
//! zones each really meets, marked where the square lies wholly inside,
//! walked row by row along the leg: fewer candidates (191k instructions)
//! but 1,532 mispredicted branches (the per-leg dedup) and 699 L1 misses,
//! and only 1.5% fewer ring scans, because the squares wholly inside a
//! zone lie mostly within its inner disc already. The scans left are legs
//! across a zone's edge, which only edges can decide.
//! Asking memory a leg ahead (each leg prefetching the next legs' records,
//! and the rings of those whose boxes meet): each route's best p50 went
//! from 28 to 41-43 us in alternating runs, and the cache-warm p50 from
//! 17 to 24 us: the extra walks and hints cost more than the waits saved.
//!
//! A query walks each row of its cells as one run of items (the cells of a
//! row are neighbours in `items`): a loop per cell ended in a mispredicted
//! branch about as often as it ran. Alternating runs: each route's best
//! p50 27.2 against 28.0 us, p99 34.3 against 35.6 us. Testing eight
//! items at a time there (AVX2: the flags as masks, the boxes gathered,
//! the kept zones packed to the front by a table) was no faster: each
//! route's best p50 27.2-28.0 against 26.9-27.7 us in alternating runs.
//!
//! Tried on the Zen 4 VM, and not kept: asking memory for the candidates'
//! records and packed rings ahead of deciding them (each batch's before
//! its decisions, or a route's candidates gathered first and asked for 4,
//! 8 or 16 ahead): each route's best p50 22.2-23.0 against 21.5-21.7 us,
//! no faster, so the time is not in waiting for L3 (with the index
//! evicted to DRAM first, the check takes 56-63 us). So the cache-warm
//! check's 11 us against 20 us cold is more likely its branches learnt
//! by the predictor than its data in L1 and L2 (`perf` cannot count
//! either on this VM). Cells of 0.75 and 0.5 of a zone with the four lists:
//! 20.8-24.5 and 21.2-25.0 against 20.6-20.7 us. Transparent huge pages
//! (the system set to `always`): no change.
//!
//! On a 2-core AMD EPYC Zen 3 VM (2026-12-07, about 3 GHz, 512 KB of L2 a
//! core, a noisy host: a fixed in-register computation as long as the
//! check's median has a p99 1.3 to 2.5 times its p50 from one minute to
//! the next), per dense route (callgrind, toggled on `conflict_pairs`):
//! about 145,000 instructions, of which the packed scans (about 150 a
//! route, 370 instructions each with the leg's set-up) are 40%, the
//! candidates' band and disc tests 35% and the grid walk 18%. Reading
//! first, untimed, every line a route's check reads (interleaved with
//! cold checks in one run) took the check's p50 from 34 to 25 us, about
//! as fast as a check right after three checks of the same route: here
//! the waits on memory are about a third of a cold check. Asking for the
//! candidates' records and packed runs ahead (each batch's, with the runs'
//! starts kept apart from the records so that the walk need not wait for
//! them) was still no faster (each route's best p50 27.2-29.1 against
//! 25.4-27.8 us), nor were transparent huge pages: the misses already
//! overlap about as much as they can. What helped was less work: the query
//! bound rounded up with no branch, and the packed scan inlined into the
//! candidate's decision (157k to 145k instructions; each route's best p50
//! 25.6-25.9 against 26.2-27.5 us in alternating runs). Not kept: each
//! batch of candidates culled without a branch by band and outer disc
//! before the rest of the decision (150.6k instructions against 144.9k,
//! 774 mispredicted branches against 784: the tests cost more done for
//! every candidate than the branches they replaced).
//!
//! Back on a Zen 4 VM (2026-12-07, family 25 model 17, AVX-512), the check
//! cut short at each stage (each route's best p50): the walk 4.5 us, with
//! the band 5.3, with the outer disc 7.4, with the inner disc 11.7, the
//! whole 20.3. Working out the inner disc's answer and throwing it away
//! cost nothing (7.4 us); branching on it cost 4.3 us. With the route's
//! zones' lines read first, untimed, the check took 18.7 against 20.4 us
//! cold and 10.6 us after three checks of it: here the cold check's extra
//! time is the branches, guessed wrong where nothing was learnt of this
//! route, not the waits on memory. So `conflict_pairs` now works in
//! passes, none of which branches on whether a candidate is kept: the
//! walk writes every zone it meets and keeps it by a count
//! (`push_candidates`), the band and both discs are worked out for every
//! candidate and sort it into clear, a conflict, to be scanned or to be
//! tested in full (`triage`), each leg's data is looked up rather than
//! rebuilt on a branch, the scans run over the list of those to be
//! scanned, and the pairs are written in the walk's order and kept by a
//! count. Per dense route: 166k instructions (from 145k), 462 mispredicted
//! branches (from 784; callgrind's model); each route's best p50 16.9-17.6
//! against 19.4-19.9 us, every sample's p99 25-30 against 29-35 us. Asking
//! memory ahead for the hot lines and the runs made no difference here.
//! Not kept: the sides sixteen points at a time with AVX-512 (a loop of
//! up to four steps: each route's best p50 the same, cache-warm 0.4 us
//! faster; four fixed masked steps, with no branch on the ring's length:
//! 18.0-18.9 against 17.1-17.6 us, slower). The scans grouped by the
//! number of eight-point steps they take (a counting sort), so that the
//! sides' loop ends alike from one to the next: 379 mispredicted branches
//! in callgrind's model against 462, but 172k instructions against 166k
//! and each route's best p50 17.3-17.8 against 17.0-17.3 us: this core
//! guessed that loop's end well enough already.
//!
//! On a 2-core Intel Xeon VM with AVX-512 (2026-12-07, family 6 model
//! 167, 2 MB of L2 a core): a route's check right after 20,000 random
//! branches, with its lines still in cache, took 13.5 us, as fast as
//! right after three checks of it (12.9 us), against 17.3 us cold. Here
//! the cold check's extra time is waiting on memory, not branches guessed
//! wrong. So the scan pass asks for each zone's packed run eight scans
//! ahead, and the triage (`triage`, now four candidates at a time with
//! AVX2, the part of a leg in a band included, each leg's candidates
//! filled up to whole groups of four) asks for the hot lines two groups
//! ahead. Per dense route: 137k instructions (from 167k; the walk 19 to
//! 11 instructions an item with its reads hoisted); in alternating runs
//! against the code before these changes, each route's best p50 15.5-15.9
//! against 19.9-20.0 us and p99 19.9-20.3 against 26.2 us. Not kept: the sides sixteen points at a time
//! with AVX-512 (each route's best p50 18.8-19.5 against 18.1-18.8 us:
//! slower here too); asking for five or six lines of a run, not four
//! (no different); asking for every walked zone's hot line during the
//! walk, or for the next leg's first grid runs (no faster); the masks'
//! answer to a scan by table when no edge is left to decide one by one
//! (callgrind's model: 14 fewer mispredicted branches a route, 1.9k more
//! instructions; no faster). Huge pages: the system's set to `always`
//! against `madvise`, alternating, took the checks interrupted past 60 us
//! from 0.73-1.11% to 0.62-0.96% of samples; the index's own large
//! arrays copied into 2 MB-aligned mappings advised `MADV_HUGEPAGE` made
//! no difference that the host's noise let show, so that was not kept.
//! Callgrind's branch model moves with the code's layout: adding 24
//! branches a route once took its count from 410 to 576, all in
//! `conflict_pairs`, while timing showed the change 3% faster.
//!
//! Back on a Zen 4 VM (2026-12-07, later), with the passes above: the ring
//! scans took about 7.6 of each route's best 13.7 us (skipping them left
//! 6.1 us), about 154 scans a dense route, half of which found the leg
//! clear, and 71% of those clear of the zone's convex hull. So each zone's
//! outer disc is now the smallest that holds it (Welzl's algorithm; its
//! radius is about 95% of the disc's about the box's centre), and a leg
//! only partly in a zone's band has that part tested against it as well:
//! 135 scans a route. With two smaller changes (the disc tests of the part
//! on one blended segment; the walk's cells clamped as floats and
//! converted unchecked, where `as` cost 13 instructions a conversion),
//! 138.9k to 129.6k instructions a route; in alternating runs each route's
//! best p50 13.7-14.0 against 14.0-14.3 us, p99 17.1-17.8 against
//! 18.3-18.9 us. Tried and not kept: each zone's reach along twelve
//! directions, a byte each in the hot line's spare bytes, tested one scan
//! at a time before reading its ring (25% fewer scans, but about 216
//! instructions a test: each route's best p50 15.4-15.8 against
//! 14.3-14.6 us); the reaches along the two diagonals, four 16-bit numbers
//! tested four candidates at a time in the triage (13 fewer scans a route,
//! 2.5k more instructions, no faster: 13.8-14.3 against 13.8-14.0 us); the
//! triage compiled with AVX-512VL's 32 registers (38 stack accesses to 12,
//! no faster). A wider inner disc (a finer search) would decide only 2%
//! of the scans; testing a box against the leg's own line in the walk
//! would drop only 16 of 97 candidates found clear.
//!
//! On a 2-core AMD EPYC Zen 3 VM again (family 25 model 1, AVX2 without
//! AVX-512, 2026-12-07, later): the scan pass had about a dozen bounds
//! checks a scan (each column of the candidates', each word of a run's
//! header), about 85 instructions a scan around the call. The header is
//! now read as one array and the columns are cut to the candidates' count
//! first, so one check stands for the rest; the triage tests the outer disc
//! once, on the segment the rings would decide, not on the leg and then
//! on its part. 129.6k to 121.3k instructions a dense route, 8,650 to
//! 6,640 conditional branches. This host runs a process either fast or
//! about 40% slower, at random from one process to the next (with the
//! address space laid out the same each time, too), so the figures are of
//! alternating runs in the fast state: each route's best p50 14.7-15.4
//! against 16.1-16.5 us, p99 18.5-20.0 against 20.2-21.8 us. Tried there
//! and not kept: the packed scan inlined into a scan pass compiled for
//! AVX2 (0.4% fewer instructions: the edges' decision then became a call
//! of its own); the places along the leg worked out only for the eight
//! points from the first and from the last edge across its line (385
//! instructions a scan against 352: the one loop shares each load and
//! conversion between the sides and the places); the hot lines asked for
//! four groups ahead, not two, and transparent huge pages for every
//! allocation (no difference the host's two states let show).
//!
//! Back on the Intel Xeon VM with AVX-512 (family 6 model 167, 2 MB of L2 a
//! core, 2026-12-07, later), with the code above: each route's best p50
//! 13.2-13.7 us, p99 16.5-17.2 us, and a route checked right after three
//! checks of it 10.3-10.6 us at p50, so about 3 us of a cold check is
//! waiting on memory here (about 260 reads a cold check miss a 2 MB cache
//! in callgrind's model: a third in the packed runs, nearly half in the
//! walk and the pairs pass). Every sample's p99 was under 25 us in 2 of 3
//! full runs of 5 passes and missed in the third (55.5 us) because one
//! pass of 14 ms met an interruption of the host, which at 5,000 samples
//! is more than the 1% a p99 allows; the bench now takes the route
//! figures over 20 passes (`--route-reps`), and three full runs gave
//! 18.4, 21.5 and 19.9 us.

use std::sync::{Arc, Mutex, RwLock};

use chrono::FixedOffset;

use super::band::VerticalContext;
use super::geom::{Bbox, FlatPolygon, FlatRings, LocalFrame, PlanarShape, Segment, Xy};
use super::packed::PackedRings;
use super::zone::{Zone, ZoneKind};

/// How many lines of a packed run [`ZoneIndex::prefetch_packed`] asks for.
const PREFETCH_LINES: usize = 4;

/// [`ZoneHot::packed`] of a zone with no packed run.
pub(super) const NOT_PACKED: u32 = u32::MAX;

/// Where and when the numbers in an index are: the local metric frame, the
/// vertical datums, and the local time zone of weekly schedules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AirspaceFrame {
    pub local: LocalFrame,
    pub vertical: VerticalContext,
    pub utc_offset: FixedOffset,
}

impl AirspaceFrame {
    pub fn new(origin_lon: f64, origin_lat: f64, utc_offset_hours: i32) -> AirspaceFrame {
        AirspaceFrame {
            local: LocalFrame::new(origin_lon, origin_lat),
            vertical: VerticalContext::default(),
            utc_offset: FixedOffset::east_opt(utc_offset_hours.clamp(-23, 23) * 3600)
                .expect("offset within a day"),
        }
    }

    /// Coordinates are already metres, UTC schedules, heights above ground.
    pub fn planar() -> AirspaceFrame {
        AirspaceFrame {
            local: LocalFrame::identity(),
            vertical: VerticalContext::default(),
            utc_offset: FixedOffset::east_opt(0).expect("zero offset"),
        }
    }
}

/// Zone numbers listed by grid cell: cell `c` holds
/// `items[starts[c]..starts[c + 1]]`, and the cells of a row are
/// neighbours, so a run of cells in a row is one slice.
#[derive(Debug, Clone, Default)]
struct CellLists {
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl CellLists {
    /// Lists zone `i` in every cell `cells(i)` gives (two passes, count
    /// then fill, for one contiguous array).
    fn build<C: Iterator<Item = usize>>(
        n_cells: usize,
        zones: usize,
        cells: impl Fn(usize) -> C,
    ) -> CellLists {
        let mut starts = vec![0u32; n_cells + 1];
        for i in 0..zones {
            for c in cells(i) {
                starts[c + 1] += 1;
            }
        }
        for c in 0..n_cells {
            starts[c + 1] += starts[c];
        }
        let mut items = vec![0u32; starts[n_cells] as usize];
        let mut fill: Vec<u32> = starts[..n_cells].to_vec();
        for i in 0..zones {
            for c in cells(i) {
                items[fill[c] as usize] = i as u32;
                fill[c] += 1;
            }
        }
        CellLists { starts, items }
    }

    /// The zones listed in cells `x0..=x1` of the row whose first cell is
    /// `row`.
    #[inline]
    fn run(&self, row: usize, x0: usize, x1: usize) -> &[u32] {
        &self.items[self.starts[row + x0] as usize..self.starts[row + x1 + 1] as usize]
    }
}

/// A uniform grid over the zones' boxes. A (query, zone) pair is found in
/// one cell only: the one holding the lower-left corner of the overlap of
/// the two boxes' cell ranges. So besides every zone in every cell its box
/// covers (`all`), the grid lists each zone again in the cells of its
/// box's first row only (`first_row`), of its first column only
/// (`first_column`), and in its lower-left cell only (`corner`). A query
/// reads `all` in its own lower-left cell, `first_column` along the rest
/// of its first row, `first_row` up the rest of its first column and
/// `corner` in the rest: each zone whose cells meet the query's is read
/// exactly once, with no flag to test and no repeat to read.
#[derive(Debug, Clone)]
struct Grid {
    extent: Bbox,
    cell_m: f64,
    nx: usize,
    ny: usize,
    all: CellLists,
    first_row: CellLists,
    first_column: CellLists,
    corner: CellLists,
}

impl Grid {
    fn build(bboxes: &[Bbox]) -> Grid {
        assert!(
            u32::try_from(bboxes.len()).is_ok(),
            "an index holds fewer than 2^32 zones"
        );
        let extent = bboxes.iter().fold(Bbox::EMPTY, |e, b| e.union(*b));
        let empty = || CellLists {
            starts: vec![0, 0],
            items: Vec::new(),
        };
        if bboxes.is_empty() {
            return Grid {
                extent,
                cell_m: 1.0,
                nx: 1,
                ny: 1,
                all: empty(),
                first_row: empty(),
                first_column: empty(),
                corner: empty(),
            };
        }
        let width = (extent.max_x - extent.min_x).max(1e-9);
        let height = (extent.max_y - extent.min_y).max(1e-9);
        // Cells about as wide as a typical zone, but no more than ~4M
        // cells. A query walks a row of cells as one run, so wider cells
        // cost little in walking and save the per-row work. (Measured
        // with `skyshare bench airspace`; see the module doc.)
        let mean_size = bboxes
            .iter()
            .map(|b| (b.max_x - b.min_x).max(b.max_y - b.min_y))
            .sum::<f64>()
            / bboxes.len() as f64;
        let cell_m = mean_size
            .max((width * height / 4.0e6).sqrt())
            .max(width.max(height) / 4096.0)
            .max(1e-9);
        let nx = ((width / cell_m).ceil() as usize).max(1);
        let ny = ((height / cell_m).ceil() as usize).max(1);
        let mut grid = Grid {
            extent,
            cell_m,
            nx,
            ny,
            all: empty(),
            first_row: empty(),
            first_column: empty(),
            corner: empty(),
        };
        let ranges: Vec<(usize, usize, usize, usize)> =
            bboxes.iter().map(|b| grid.cell_range(b)).collect();
        let (cells, zones) = (nx * ny, bboxes.len());
        // Each list takes the part of a zone's cell range `pick` gives.
        type Range = (usize, usize, usize, usize);
        let list = |pick: fn(Range) -> Range| {
            CellLists::build(cells, zones, |i| {
                let (x0, y0, x1, y1) = pick(ranges[i]);
                (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| y * nx + x))
            })
        };
        grid.all = list(|r| r);
        grid.first_row = list(|(x0, y0, x1, _)| (x0, y0, x1, y0));
        grid.first_column = list(|(x0, y0, _, y1)| (x0, y0, x0, y1));
        grid.corner = list(|(x0, y0, _, _)| (x0, y0, x0, y0));
        grid
    }

    /// Hands `visit` the runs of items a query over the cells `x0..=x1`
    /// by `y0..=y1` reads, in which each zone whose box meets that range
    /// appears once: the whole lists of the first row's first cell, the
    /// first-column lists along the first row, the first-row lists up
    /// the first column, and the corner lists of the rest.
    #[inline(always)]
    fn runs(&self, (x0, y0, x1, y1): (usize, usize, usize, usize), mut visit: impl FnMut(&[u32])) {
        let row = y0 * self.nx;
        visit(self.all.run(row, x0, x0));
        if x1 > x0 {
            visit(self.first_column.run(row, x0 + 1, x1));
        }
        for cy in y0 + 1..=y1 {
            let row = cy * self.nx;
            visit(self.first_row.run(row, x0, x0));
            if x1 > x0 {
                visit(self.corner.run(row, x0 + 1, x1));
            }
        }
    }

    #[inline]
    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        // Clamped while still a float (`max` first: a NaN becomes 0), so
        // that the conversion needs none of the checks `as` adds for
        // values out of range (about 13 instructions each, 2.6k a dense
        // route). Truncation of a non-negative number is its floor.
        let cell = |v: f64, min: f64, n: usize| {
            let c = ((v - min) / self.cell_m).max(0.0).min((n - 1) as f64);
            // SAFETY: `c` is finite and from 0 to `n - 1`, so its
            // truncation fits a usize.
            unsafe { c.to_int_unchecked::<usize>() }
        };
        (
            cell(x, self.extent.min_x, self.nx),
            cell(y, self.extent.min_y, self.ny),
        )
    }

    #[inline]
    fn cell_range(&self, b: &Bbox) -> (usize, usize, usize, usize) {
        let (x0, y0) = self.cell_of(b.min_x, b.min_y);
        let (x1, y1) = self.cell_of(b.max_x, b.max_y);
        (x0, y0, x1, y1)
    }
}

/// A zone's box as the grid walk's filter reads it: single precision,
/// rounded outwards, stored as `[min_x, min_y, -max_x, -max_y]` so that a
/// box is tested by four comparisons of the same sense, which the compiler
/// makes one. The walk reads these (16 bytes a zone, four to a cache line,
/// zones near each other on the map near each other here) and not the
/// zones' 64-byte records, which only the candidates' decisions read.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct FilterBox([f32; 4]);

/// A query's box as [`FilterBox::meets`] compares it: `[max_x, max_y,
/// -min_x, -min_y]`, each taken up to a single-precision number above it
/// ([`above_f32`]), so the filter never drops a box the exact test would
/// keep.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct FilterQuery([f32; 4]);

impl FilterBox {
    fn of(b: &Bbox) -> FilterBox {
        let [min_x, min_y, max_x, max_y] = outward_f32(b);
        FilterBox([min_x, min_y, -max_x, -max_y])
    }

    #[inline]
    fn meets(&self, q: &FilterQuery) -> bool {
        let (b, q) = (&self.0, &q.0);
        // One branch, not four: whether a candidate's box meets follows no
        // pattern a predictor could learn.
        (b[0] <= q[0]) & (b[1] <= q[1]) & (b[2] <= q[2]) & (b[3] <= q[3])
    }
}

impl FilterQuery {
    #[inline]
    fn of(q: &Bbox) -> FilterQuery {
        FilterQuery([
            above_f32(q.max_x),
            above_f32(q.max_y),
            above_f32(-q.min_x),
            above_f32(-q.min_y),
        ])
    }
}

/// What a query needs of a candidate zone before its geometry, in one
/// cache line: a route check reads this line for each zone whose box
/// meets a leg's, and, across a district's map, few of them are in the
/// core's own cache.
///
/// The first 32 bytes are eight 32-bit numbers (the discs, the flags and
/// where the packed run starts) so that the triage's vector form loads
/// them as one register a zone (`triage`).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct ZoneHot {
    pub(super) discs: Discs,
    /// [`ZoneHot::CHECKED`], [`ZoneHot::PERMANENT`], [`ZoneHot::PACKED`].
    pub(super) flags: u32,
    /// Where the polygon's packed run starts ([`NOT_PACKED`]: scanned on
    /// the exact coordinates alone).
    pub(super) packed: u32,
    /// Band above ground.
    pub(super) floor: f64,
    pub(super) ceiling: f64,
    /// How many rings the polygon has in the flat layout (0: not a polygon).
    flat_rings: u16,
    kind: ZoneKind,
}

impl ZoneHot {
    /// A zone a route is checked against: not an operating area (checked
    /// apart) and not the index's padding line.
    pub(super) const CHECKED: u32 = 1;
    /// Applies at all times.
    pub(super) const PERMANENT: u32 = 2;
    /// A polygon with a packed run.
    pub(super) const PACKED: u32 = 4;
}

// One cache line, no more.
const _: () = assert!(std::mem::size_of::<ZoneHot>() == 64);

/// A single-precision number above `v` (a finite coordinate in metres),
/// with no branch: the nearest single-precision number `r` errs by at most
/// half a unit in its last place, and `|r| 2^-23` is one or two such units
/// (the smallest normal number covers a value rounded to zero). Unlike
/// `f32::next_up`, no test for infinities, NaN or the sign: the walk works
/// this out four times a leg.
#[inline]
fn above_f32(v: f64) -> f32 {
    let r = v as f32;
    r + r.abs() * (1.0 / (1u32 << 23) as f32) + f32::MIN_POSITIVE
}

/// `b` in single precision, each side moved outwards if rounding moved it in.
fn outward_f32(b: &Bbox) -> [f32; 4] {
    let down = |v: f64| {
        let r = v as f32;
        if f64::from(r) > v {
            r.next_down()
        } else {
            r
        }
    };
    let up = |v: f64| {
        let r = v as f32;
        if f64::from(r) < v {
            r.next_up()
        } else {
            r
        }
    };
    [down(b.min_x), down(b.min_y), up(b.max_x), up(b.max_y)]
}

/// An immutable set of zones ready to be queried.
#[derive(Debug, Clone)]
pub struct ZoneIndex {
    frame: AirspaceFrame,
    zones: Vec<Arc<Zone>>,
    shapes: Vec<Arc<PlanarShape>>,
    /// What the grid walk reads of every zone it visits.
    boxes: Vec<FilterBox>,
    /// What a query reads of every candidate, in one cache line per zone.
    hot: Vec<ZoneHot>,
    /// Each zone's place in the order of ids: conflicts found at the same
    /// instant are listed by id, compared as numbers, not strings.
    id_ranks: Vec<u32>,
    /// Polygon rings again, laid out in map order for the route check.
    flat: FlatRings,
    /// Each zone's first ring in `flat` (read only where the packed run
    /// cannot decide, or for the full listing's intervals).
    flat_first: Vec<u32>,
    /// The same rings packed to 16 bits a number, in the same order: what
    /// the decision-only scans read.
    packed: PackedRings,
    operating_areas: Vec<usize>,
    grid: Grid,
}

impl ZoneIndex {
    /// An index of `zones`, numbered in map order, not in the order given
    /// (a zone's number is for this index only: [`ZoneIndex::zone`] gives
    /// the zone).
    pub fn build(zones: Vec<Zone>, frame: AirspaceFrame) -> ZoneIndex {
        let (zones, shapes, bboxes) = in_map_order(zones, &frame);
        let grid = Grid::build(&bboxes);
        let operating_areas = zones
            .iter()
            .enumerate()
            .filter(|(_, z)| z.kind == ZoneKind::OperatingArea)
            .map(|(i, _)| i)
            .collect();
        let mut by_id: Vec<usize> = (0..zones.len()).collect();
        by_id.sort_by(|&x, &y| zones[x].id.cmp(&zones[y].id));
        let mut id_ranks = vec![0u32; zones.len()];
        for (rank, &z) in by_id.iter().enumerate() {
            // Equal ids (allowed between a map and a restriction) share a rank.
            let same = rank > 0 && zones[by_id[rank - 1]].id == zones[z].id;
            id_ranks[z] = if same {
                id_ranks[by_id[rank - 1]]
            } else {
                rank as u32
            };
        }
        let (flat, flat_polygons, packed, packed_at) = lay_out_rings(&shapes);
        let mut flat_first_of = vec![0u32; zones.len()];
        let hot = zones
            .iter()
            .enumerate()
            .map(|(i, z)| {
                let (floor, ceiling) = z.band.agl(&frame.vertical);
                // A polygon with more rings than fit is checked on its
                // `PlanarShape` instead (the count 0 says so).
                let (flat_first, flat_rings) = match flat_polygons[i] {
                    Some(p) => match u16::try_from(p.end - p.first) {
                        Ok(n) => (p.first, n),
                        Err(_) => (0, 0),
                    },
                    None => (0, 0),
                };
                flat_first_of[i] = flat_first;
                let packed = packed_at[i].unwrap_or(NOT_PACKED);
                let permanent = z.time.is_permanent();
                ZoneHot {
                    discs: Discs::of(&shapes[i]),
                    flags: (u32::from(z.kind != ZoneKind::OperatingArea) * ZoneHot::CHECKED)
                        | (u32::from(permanent) * ZoneHot::PERMANENT)
                        | (u32::from(packed != NOT_PACKED) * ZoneHot::PACKED),
                    packed,
                    floor,
                    ceiling,
                    flat_rings,
                    kind: z.kind,
                }
            })
            // The padding line (`ZoneIndex::padding_zone`): checked
            // against nothing, so that the triage may read whole groups
            // of candidates. Advisory, so that the pairs pass, which asks
            // every candidate whether it blocks, never reads a zone
            // record for it (there is none).
            .chain(std::iter::once(ZoneHot {
                discs: Discs::NONE,
                flags: 0,
                packed: NOT_PACKED,
                floor: 0.0,
                ceiling: 0.0,
                flat_rings: 0,
                kind: ZoneKind::Advisory,
            }))
            .collect();
        let zones = zones.into_iter().map(Arc::new).collect();
        ZoneIndex {
            frame,
            zones,
            shapes,
            boxes: bboxes.iter().map(FilterBox::of).collect(),
            hot,
            id_ranks,
            flat,
            flat_first: flat_first_of,
            packed,
            operating_areas,
            grid,
        }
    }

    pub fn frame(&self) -> &AirspaceFrame {
        &self.frame
    }
    /// The zones, in the index's own order (map order): zone `i` is
    /// `zones()[i]`.
    pub fn zones(&self) -> &[Arc<Zone>] {
        &self.zones
    }
    pub fn len(&self) -> usize {
        self.zones.len()
    }
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
    pub fn zone(&self, i: usize) -> &Arc<Zone> {
        &self.zones[i]
    }
    pub fn shape(&self, i: usize) -> &PlanarShape {
        &self.shapes[i]
    }
    pub fn shape_arc(&self, i: usize) -> &Arc<PlanarShape> {
        &self.shapes[i]
    }
    pub fn band_agl(&self, i: usize) -> (f64, f64) {
        (self.hot[i].floor, self.hot[i].ceiling)
    }
    /// Whether zone `i` applies at all times.
    #[inline]
    pub fn is_permanent(&self, i: usize) -> bool {
        self.hot[i].flags & ZoneHot::PERMANENT != 0
    }
    /// Zone `i`'s rings in [`ZoneIndex::flat_rings`], if it is a polygon.
    #[inline]
    pub fn flat_polygon(&self, i: usize) -> Option<FlatPolygon> {
        let h = &self.hot[i];
        (h.flat_rings > 0).then(|| {
            let first = self.flat_first[i];
            FlatPolygon {
                first,
                end: first + u32::from(h.flat_rings),
            }
        })
    }
    pub fn flat_rings(&self) -> &FlatRings {
        &self.flat
    }
    #[inline]
    pub(super) fn discs(&self, i: usize) -> &Discs {
        &self.hot[i].discs
    }
    #[inline]
    pub fn id_rank(&self, i: usize) -> u32 {
        self.id_ranks[i]
    }
    #[inline]
    pub fn kind(&self, i: usize) -> ZoneKind {
        self.hot[i].kind
    }

    /// Every zone's hot line, then the padding line
    /// ([`ZoneIndex::padding_zone`]).
    #[inline]
    pub(super) fn hot_lines(&self) -> &[ZoneHot] {
        &self.hot
    }

    /// A zone number whose hot line is checked against nothing: what fills
    /// a leg's candidates up to a whole group for the triage.
    #[inline]
    pub(super) fn padding_zone(&self) -> u32 {
        self.zones.len() as u32
    }

    /// Appends `make(z)` to `out` for every zone `z` whose bounding box
    /// meets `query`, as [`ZoneIndex::for_each_candidate`] finds them,
    /// each written and kept by a count: no branch on whether a box
    /// meets, and no second loop over what was kept.
    #[inline]
    pub(super) fn push_candidates<T: Copy>(
        &self,
        query: Bbox,
        out: &mut Vec<T>,
        make: impl Fn(u32) -> T,
    ) {
        let g = &self.grid;
        if self.zones.is_empty() || !query.intersects(&g.extent) {
            return;
        }
        let (x0, y0, x1, y1) = g.cell_range(&query);
        let filter = FilterQuery::of(&query);
        // Read once, here: inside the loop the compiler would read them
        // again after every write (about 19 instructions an item, not 11).
        let boxes: &[FilterBox] = &self.boxes;
        let visit = |run: &[u32]| {
            out.reserve(run.len());
            let kept = out.len();
            // Each zone is written at the first free place, which moves on
            // only if its box meets the query (no further than the zone's
            // own place in the run), so no place past the run's length.
            let spare = out.spare_capacity_mut()[..run.len()].as_mut_ptr();
            let mut n = 0;
            for &z in run {
                debug_assert!((z as usize) < boxes.len());
                // SAFETY: `n` is at most the items before this one, below
                // `run.len()`; every zone in the grid has a box.
                unsafe {
                    (*spare.add(n)).write(make(z));
                    n += usize::from(boxes.get_unchecked(z as usize).meets(&filter));
                }
            }
            // SAFETY: the first `n` spare places were written above.
            unsafe { out.set_len(kept + n) };
        };
        g.runs((x0, y0, x1, y1), visit);
    }

    /// Calls `f` once with every zone whose bounding box meets `query`.
    #[inline]
    pub fn for_each_candidate(&self, query: Bbox, mut f: impl FnMut(usize)) {
        let g = &self.grid;
        if self.zones.is_empty() || !query.intersects(&g.extent) {
            return;
        }
        let (x0, y0, x1, y1) = g.cell_range(&query);
        // Zones found are held back and handed to `f` in one batch per
        // query (or per 64): whether a zone's box meets the query follows
        // no pattern a branch predictor could learn, so keeping one is a
        // count, not a branch, and a query of several short runs (small
        // zones) pays for one loop over what it kept, not one per run.
        const BATCH: usize = 64;
        let mut found = [0u32; BATCH];
        let mut n = 0;
        let filter = FilterQuery::of(&query);
        let visit = |run: &[u32]| {
            for &z in run {
                if n == BATCH {
                    found.iter().for_each(|&z| f(z as usize));
                    n = 0;
                }
                found[n] = z;
                n += usize::from(self.boxes[z as usize].meets(&filter));
            }
        };
        g.runs((x0, y0, x1, y1), visit);
        for &z in &found[..n] {
            f(z as usize);
        }
    }

    /// Zones met by the segment `a`-`b` (touching counts) whose band overlaps
    /// `[alt_low_m, alt_high_m]` above ground, whatever their time. The
    /// benchmark's 3D check; pushes zone numbers to `out`.
    #[inline]
    pub fn segment_band_hits(
        &self,
        a: Xy,
        b: Xy,
        alt_low_m: f64,
        alt_high_m: f64,
        out: &mut Vec<usize>,
    ) {
        self.for_each_candidate(Bbox::of_segment(a, b), |z| {
            let (floor, ceiling) = self.band_agl(z);
            if alt_low_m <= ceiling && alt_high_m >= floor {
                let (discs, segment) = (&self.hot[z].discs, Segment::new(a, b));
                if discs.enters(&segment)
                    || (!discs.clear_of(&segment, 0.0) && self.meets_segment(z, a, b))
                {
                    out.push(z);
                }
            }
        });
    }

    /// Whether the segment `a`-`b` meets zone `z`'s footprint, as
    /// [`PlanarShape::meets_segment`] answers (for a polygon, from its
    /// packed or flat rings: see [`ZoneIndex::polygon_meets_leg`]).
    #[inline]
    fn meets_segment(&self, z: usize, a: Xy, b: Xy) -> bool {
        if a == b {
            return self.shapes[z].meets_segment(a, b);
        }
        self.polygon_meets_leg(z, a, b)
            .unwrap_or_else(|| self.shapes[z].meets_segment(a, b))
    }

    /// Whether the leg `a`-`b` (of non-zero length) meets polygon zone
    /// `z`'s footprint, touching counting: decided on the packed rings
    /// where they are fine enough, else on the exact flat ones. None if
    /// the zone is not a polygon.
    // Always inlined: as a call it took about 55 instructions of each
    // 400-instruction scan, inlined about 25 (callgrind, dense route).
    #[inline(always)]
    pub(super) fn polygon_meets_leg(&self, z: usize, a: Xy, b: Xy) -> Option<bool> {
        debug_assert!(a != b, "a leg of no length has no line to read sides by");
        let at = self.hot[z].packed;
        if at != NOT_PACKED {
            if let Some(meets) = self.packed.leg_meets(at, a, b) {
                return Some(meets);
            }
        }
        let polygon = self.flat_polygon(z)?;
        Some(super::geom::leg_meets_flat(a, b, &self.flat, polygon))
    }

    /// Asks the memory for the start of zone `z`'s packed run, ahead of
    /// its scan.
    #[inline(always)]
    pub(super) fn prefetch_packed(&self, z: usize) {
        self.packed.prefetch(self.hot[z].packed, PREFETCH_LINES);
    }

    /// Zones whose interior holds `p`, whatever their band and time.
    #[inline]
    pub fn zones_containing(&self, p: Xy, out: &mut Vec<usize>) {
        self.for_each_candidate(Bbox::of_segment(p, p), |z| {
            if self.shapes[z].contains(p) {
                out.push(z);
            }
        });
    }

    /// How many (point, zone) pairs have the point inside the zone. Bulk
    /// form of [`ZoneIndex::zones_containing`]: points are visited in grid
    /// cell order so each cell's zones stay in cache (the sort is part of
    /// the cost).
    pub fn count_points_inside(&self, points: &[Xy]) -> usize {
        let g = &self.grid;
        let cells = g.nx * g.ny;
        // Counting sort of the points by cell: each cell's zones are then
        // read once for all its points, and each point meets only the
        // zones of its one cell (no dedup needed).
        let cell_of: Vec<u32> = points
            .iter()
            .map(|p| {
                let (cx, cy) = g.cell_of(p.x, p.y);
                (cy * g.nx + cx) as u32
            })
            .collect();
        let mut starts = vec![0u32; cells + 1];
        for &c in &cell_of {
            starts[c as usize + 1] += 1;
        }
        for c in 0..cells {
            starts[c + 1] += starts[c];
        }
        let mut fill = starts.clone();
        let mut sorted = vec![Xy::new(0.0, 0.0); points.len()];
        for (p, &c) in points.iter().zip(&cell_of) {
            sorted[fill[c as usize] as usize] = *p;
            fill[c as usize] += 1;
        }
        let mut hits = 0;
        for c in 0..cells {
            let zones = g.all.run(c, 0, 0);
            if zones.is_empty() {
                continue;
            }
            for &p in &sorted[starts[c] as usize..starts[c + 1] as usize] {
                let at = Segment::new(p, p);
                let filter = FilterQuery::of(&Bbox::of_segment(p, p));
                for &z in zones {
                    let z = z as usize;
                    let h = &self.hot[z];
                    // The inner disc is strictly inside (so is a point in
                    // it); the test has the point strictly inside too.
                    if self.boxes[z].meets(&filter)
                        && (h.discs.enters(&at)
                            || (!h.discs.clear_of(&at, 0.0) && self.shapes[z].contains(p)))
                    {
                        hits += 1;
                    }
                }
            }
        }
        hits
    }

    /// Zones within `distance_m` of `p` (0: inside or on the edge).
    pub fn zones_near(&self, p: Xy, distance_m: f64, out: &mut Vec<usize>) {
        self.for_each_candidate(Bbox::of_segment(p, p).expanded(distance_m), |z| {
            if self.shapes[z].distance(p) <= distance_m {
                out.push(z);
            }
        });
    }

    /// Indexes of the operating areas (kept apart: every route check needs them).
    pub fn operating_areas(&self) -> &[usize] {
        &self.operating_areas
    }

    /// Indexes of the zones of one kind.
    pub fn of_kind(&self, kind: ZoneKind) -> impl Iterator<Item = usize> + '_ {
        self.zones
            .iter()
            .enumerate()
            .filter(move |(_, z)| z.kind == kind)
            .map(|(i, _)| i)
    }
}

/// Two discs about a zone's footprint, stored small (24 bytes, so that the
/// discs of ten thousand zones stay in cache) and made conservative for it:
/// the outer one is the smallest that holds the footprint, the inner one
/// (radius 0 if there is none about the centre) lies inside it, after the
/// rounding of the single precision numbers is allowed for.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(super) struct Discs {
    pub(super) outer_x: f32,
    pub(super) outer_y: f32,
    pub(super) outer: f32,
    pub(super) inner_x: f32,
    pub(super) inner_y: f32,
    pub(super) inner: f32,
}

impl Discs {
    /// No footprint (the padding line's).
    const NONE: Discs = Discs {
        outer_x: 0.0,
        outer_y: 0.0,
        outer: 0.0,
        inner_x: 0.0,
        inner_y: 0.0,
        inner: 0.0,
    };

    fn of(shape: &PlanarShape) -> Discs {
        let (outer_centre, outer, inner_centre, inner) = match shape {
            PlanarShape::Circle { center, radius_m } => (*center, *radius_m, *center, *radius_m),
            PlanarShape::Polygon(p) => {
                let b = p.exterior.bbox();
                let centre = enclosing_centre(p.exterior.vertices()).unwrap_or(Xy::new(
                    (b.min_x + b.max_x) / 2.0,
                    (b.min_y + b.max_y) / 2.0,
                ));
                let outer = p
                    .exterior
                    .vertices()
                    .iter()
                    .map(|v| v.distance(centre))
                    .fold(0.0, f64::max);
                let (inner_centre, inner) = widest_inner_disc(shape, &b);
                (centre, outer, inner_centre, inner)
            }
        };
        // Each centre is stored rounded; the radii allow for how far it
        // moved, plus a margin for the rounding of the distances computed
        // from it (far below a millimetre at any district's scale).
        let stored = |c: Xy| {
            let (x, y) = (c.x as f32, c.y as f32);
            let moved = Xy::new(f64::from(x), f64::from(y)).distance(c) + 1e-6 * (1.0 + outer);
            (x, y, moved)
        };
        let (outer_x, outer_y, outer_moved) = stored(outer_centre);
        let (inner_x, inner_y, inner_moved) = stored(inner_centre);
        Discs {
            outer_x,
            outer_y,
            outer: ((outer + outer_moved) as f32).next_up(),
            inner_x,
            inner_y,
            inner: ((inner - inner_moved).max(0.0) as f32).next_down().max(0.0),
        }
    }

    /// The segment stays further than `buffer_m` from the footprint.
    /// (Squared distances: the margin in the radius far exceeds their
    /// rounding.)
    #[inline]
    pub(super) fn clear_of(&self, segment: &Segment, buffer_m: f64) -> bool {
        let c = Xy::new(f64::from(self.outer_x), f64::from(self.outer_y));
        let r = f64::from(self.outer) + buffer_m.max(0.0);
        segment.distance2_filter(c) > r * r
    }

    /// The segment passes inside the footprint. (Both tests made, with no
    /// branch between them: the triage must not branch on the answer.)
    #[inline(always)]
    pub(super) fn enters(&self, segment: &Segment) -> bool {
        let c = Xy::new(f64::from(self.inner_x), f64::from(self.inner_y));
        let r = f64::from(self.inner);
        (r > 0.0) & (segment.distance2_filter(c) < r * r)
    }
}

/// The centre of the smallest disc holding every one of `points`, or None
/// if there are none (or it is not a finite point).
///
/// Why the smallest disc, not one about the box's centre: a leg that
/// enters the outer disc is scanned on the zone's rings unless the inner
/// disc decides it, and on the shared dense instance the smallest disc's
/// radius is about 95% of the other's: with the part of a leg in a band
/// tested against it too, 135 scans a route instead of 154.
fn enclosing_centre(points: &[Xy]) -> Option<Xy> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut points: Vec<[f64; 2]> = points.iter().map(|p| [p.x, p.y]).collect();
    // Welzl's algorithm takes expected linear time only on points in a
    // random order; a ring's vertices come in order along it. A fixed
    // seed keeps the index the same from one build to the next.
    points.shuffle(&mut rand::rngs::StdRng::seed_from_u64(0x5EED));
    let [x, y] =
        smallest_enclosing_circle::smallest_enclosing_circle(points.into_iter()).center()?;
    let centre = Xy::new(x, y);
    (x.is_finite() && y.is_finite()).then_some(centre)
}

/// About the widest disc inside a polygon: the best of a 7 x 7 grid of
/// points over its box, then a local search around it with a halving step
/// (the idea of Mapbox's polylabel, coarser). Radius 0 if no point tried is
/// inside.
fn widest_inner_disc(shape: &PlanarShape, b: &Bbox) -> (Xy, f64) {
    let depth = |p: Xy| {
        if shape.contains(p) {
            shape.distance_to_boundary(p)
        } else {
            0.0
        }
    };
    let (w, h) = (b.max_x - b.min_x, b.max_y - b.min_y);
    let mut best = (Xy::new(b.min_x + w / 2.0, b.min_y + h / 2.0), 0.0);
    best.1 = depth(best.0);
    for i in 0..7 {
        for j in 0..7 {
            let p = Xy::new(
                b.min_x + w * (i as f64 + 0.5) / 7.0,
                b.min_y + h * (j as f64 + 0.5) / 7.0,
            );
            let d = depth(p);
            if d > best.1 {
                best = (p, d);
            }
        }
    }
    let mut step = w.max(h) / 14.0;
    for _ in 0..12 {
        let mut moved = false;
        for (dx, dy) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
            let p = Xy::new(best.0.x + dx * step, best.0.y + dy * step);
            let d = depth(p);
            if d > best.1 {
                best = (p, d);
                moved = true;
            }
        }
        if !moved {
            step /= 2.0;
        }
    }
    best
}

/// The zones, their shapes in local metres and their boxes, in the Z-order
/// (Morton order) of their boxes' centres: zones near each other on the
/// map are then near each other in every per-zone array, so a route's
/// candidates share cache lines and pages.
#[allow(clippy::type_complexity)]
fn in_map_order(
    zones: Vec<Zone>,
    frame: &AirspaceFrame,
) -> (Vec<Zone>, Vec<Arc<PlanarShape>>, Vec<Bbox>) {
    let shapes: Vec<PlanarShape> = zones
        .iter()
        .map(|z| z.shape.to_planar(&frame.local))
        .collect();
    let bboxes: Vec<Bbox> = shapes.iter().map(|s| s.bbox()).collect();
    let extent = bboxes.iter().fold(Bbox::EMPTY, |e, b| e.union(*b));
    let span = (extent.max_x - extent.min_x).max(extent.max_y - extent.min_y);
    // Centres on a 65,536-square lattice over the extent (a centre that is
    // not a number sorts at the low corner).
    let lattice = |v: f64, lo: f64| {
        let t = if span > 0.0 { (v - lo) / span } else { 0.0 };
        (t * 65535.0).clamp(0.0, 65535.0) as u64
    };
    let spread = |mut v: u64| {
        // Bit k of v to bit 2k.
        v = (v | v << 8) & 0x00FF_00FF;
        v = (v | v << 4) & 0x0F0F_0F0F;
        v = (v | v << 2) & 0x3333_3333;
        (v | v << 1) & 0x5555_5555
    };
    let mut order: Vec<(u64, usize)> = bboxes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = lattice((b.min_x + b.max_x) / 2.0, extent.min_x);
            let y = lattice((b.min_y + b.max_y) / 2.0, extent.min_y);
            (spread(x) | spread(y) << 1, i)
        })
        .collect();
    // Zones at one place by id, so the numbering does not hang on the
    // order given (stable: equal ids keep it).
    order.sort_by(|&(k, i), &(l, j)| k.cmp(&l).then_with(|| zones[i].id.cmp(&zones[j].id)));
    let mut zones: Vec<Option<Zone>> = zones.into_iter().map(Some).collect();
    let mut shapes: Vec<Option<PlanarShape>> = shapes.into_iter().map(Some).collect();
    let (mut zones_out, mut shapes_out, mut boxes_out) = (Vec::new(), Vec::new(), Vec::new());
    for (_, i) in order {
        zones_out.push(zones[i].take().expect("each zone once"));
        shapes_out.push(Arc::new(shapes[i].take().expect("each shape once")));
        boxes_out.push(bboxes[i]);
    }
    (zones_out, shapes_out, boxes_out)
}

/// Copies the polygons' rings into one array in zone order (map order),
/// exact and packed.
#[allow(clippy::type_complexity)]
fn lay_out_rings(
    shapes: &[Arc<PlanarShape>],
) -> (
    FlatRings,
    Vec<Option<FlatPolygon>>,
    PackedRings,
    Vec<Option<u32>>,
) {
    let mut flat = FlatRings::default();
    let mut polygons = vec![None; shapes.len()];
    let mut packed = PackedRings::default();
    let mut packed_at = vec![None; shapes.len()];
    for (i, shape) in shapes.iter().enumerate() {
        if let PlanarShape::Polygon(p) = &**shape {
            polygons[i] = Some(flat.push_polygon(p));
            packed_at[i] = packed.push_polygon(p).filter(|&at| at != NOT_PACKED);
        }
    }
    (flat, polygons, packed, packed_at)
}

/// The live airspace: permanent zones plus temporary restrictions created at
/// run time. Readers take a snapshot (`Arc` clone under a brief read lock);
/// a change builds a new index outside any lock and swaps it in.
#[derive(Debug)]
pub struct Airspace {
    frame: AirspaceFrame,
    /// Serialises writers so two changes cannot lose each other.
    zones: Mutex<Vec<Zone>>,
    current: RwLock<Arc<ZoneIndex>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AirspaceChangeError {
    #[error("a zone with id `{0}` already exists")]
    DuplicateId(String),
    #[error("no zone with id `{0}`")]
    UnknownId(String),
}

impl Airspace {
    pub fn new(zones: Vec<Zone>, frame: AirspaceFrame) -> Airspace {
        let index = Arc::new(ZoneIndex::build(zones.clone(), frame));
        Airspace {
            frame,
            zones: Mutex::new(zones),
            current: RwLock::new(index),
        }
    }

    pub fn snapshot(&self) -> Arc<ZoneIndex> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a zone (e.g. a temporary restriction) and publishes the new index.
    pub fn add(&self, zone: Zone) -> Result<Arc<ZoneIndex>, AirspaceChangeError> {
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        if zones.iter().any(|z| z.id == zone.id) {
            return Err(AirspaceChangeError::DuplicateId(zone.id));
        }
        zones.push(zone);
        Ok(self.publish(zones.clone()))
    }

    pub fn remove(&self, id: &str) -> Result<Arc<ZoneIndex>, AirspaceChangeError> {
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        let before = zones.len();
        zones.retain(|z| z.id != id);
        if zones.len() == before {
            return Err(AirspaceChangeError::UnknownId(id.into()));
        }
        Ok(self.publish(zones.clone()))
    }

    /// Replaces every zone (a fresh import).
    pub fn replace_all(&self, new_zones: Vec<Zone>) -> Arc<ZoneIndex> {
        let mut zones = self.zones.lock().unwrap_or_else(|e| e.into_inner());
        *zones = new_zones;
        self.publish(zones.clone())
    }

    fn publish(&self, zones: Vec<Zone>) -> Arc<ZoneIndex> {
        let index = Arc::new(ZoneIndex::build(zones, self.frame));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&index);
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airspace::geom::tests::uniform;
    use crate::airspace::zone::ZoneShape;
    use crate::airspace::{AltitudeReference, Applicability, Band};

    proptest::proptest! {
        /// The walk's query bound is never below the value it stands for:
        /// the filter may keep a box the exact test drops, never the
        /// reverse. Values are drawn across the whole single-precision
        /// range in both signs, and near and on powers of two, where a
        /// unit in the last place changes size.
        #[test]
        fn a_query_bound_in_single_precision_is_never_below_the_value(
            mantissa in -1.0f64..1.0,
            exponent in -140i32..120,
            nudge in -4i64..=4,
        ) {
            let v = mantissa * 2f64.powi(exponent);
            let on_power = f64::from_bits((2f64.powi(exponent).to_bits() as i64 + nudge) as u64);
            let on_single = f64::from(v as f32);
            for v in [v, -v, on_power, -on_power, on_single, -on_single, 0.0] {
                proptest::prop_assert!(f64::from(above_f32(v)) >= v, "{} gave {}", v, above_f32(v));
            }
        }
    }

    /// Square zones in local metres, of sizes from a tenth of a cell to
    /// several cells, so that boxes span one cell, a row, a column or many.
    fn squares(next: &mut impl FnMut() -> f64, n: usize) -> Vec<Zone> {
        (0..n)
            .map(|i| {
                let (x, y) = (next() * 5_000.0, next() * 5_000.0);
                let w = 20.0 + next() * next() * 1_500.0;
                Zone {
                    id: format!("Z{i}"),
                    name: String::new(),
                    reason: String::new(),
                    kind: ZoneKind::Prohibited,
                    shape: ZoneShape::Polygon {
                        exterior: vec![(x, y), (x + w, y), (x + w, y + w), (x, y + w)],
                        holes: Vec::new(),
                    },
                    band: Band::new(0.0, 120.0, AltitudeReference::Agl).expect("band"),
                    time: Applicability::permanent(),
                }
            })
            .collect()
    }

    /// Zone numbers are the index's own, in map order: the same zones
    /// given in any order are numbered alike, and each number leads to the
    /// zone whose box the grid holds for it.
    #[test]
    fn zones_are_numbered_by_place_on_the_map_not_by_order_given() {
        let mut next = uniform(0x0A11_CE5E_ED00_0001);
        let given = squares(&mut next, 300);
        let ids = |index: &ZoneIndex| -> Vec<String> {
            index.zones().iter().map(|z| z.id.clone()).collect()
        };
        let index = ZoneIndex::build(given.clone(), AirspaceFrame::planar());
        let mut reversed = given.clone();
        reversed.reverse();
        let other = ZoneIndex::build(reversed, AirspaceFrame::planar());
        assert_eq!(ids(&index), ids(&other));
        assert_ne!(
            ids(&index),
            given.iter().map(|z| z.id.clone()).collect::<Vec<_>>(),
            "300 zones scattered over the map are not given in map order"
        );
        for (z, zone) in index.zones().iter().enumerate() {
            let b = index.shape(z).bbox();
            let centre = Xy::new((b.min_x + b.max_x) / 2.0, (b.min_y + b.max_y) / 2.0);
            let mut found = Vec::new();
            index.zones_containing(centre, &mut found);
            assert!(
                found.iter().any(|&f| index.zone(f).id == zone.id),
                "zone {} holds its own centre",
                zone.id
            );
        }
    }

    #[test]
    fn each_zone_whose_box_meets_a_query_is_a_candidate_exactly_once_in_either_walk() {
        let mut next = uniform(0x005e_ed0f_ce11);
        let index = ZoneIndex::build(squares(&mut next, 400), AirspaceFrame::planar());
        for q in 0..2_000 {
            let (x, y) = (next() * 5_500.0 - 250.0, next() * 5_500.0 - 250.0);
            // Points, legs across a few cells, and queries wider than the map.
            let (w, h) = match q % 3 {
                0 => (0.0, 0.0),
                1 => (next() * 900.0, next() * 900.0),
                _ => (next() * 6_000.0, next() * 3_000.0),
            };
            let query = Bbox::of_segment(Xy::new(x, y), Xy::new(x + w, y + h));
            let mut found = Vec::new();
            index.for_each_candidate(query, |z| found.push(z));
            let mut unique = found.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(
                unique.len(),
                found.len(),
                "query {query:?} met a zone twice"
            );
            let expected: Vec<usize> = (0..index.len())
                .filter(|&z| index.shape(z).bbox().intersects(&query))
                .collect();
            assert_eq!(unique, expected, "query {query:?}");
            // The branch-free form finds the same zones in the same order,
            // after what the list held before.
            let mut pushed = vec![u64::MAX];
            index.push_candidates(query, &mut pushed, u64::from);
            let found: Vec<u64> = found.iter().map(|&z| z as u64).collect();
            assert_eq!(pushed[1..], found[..], "query {query:?}");
        }
    }

    /// An L-shaped zone far from the frame's origin, so that the stored
    /// single-precision centres are rounded.
    fn l_shape() -> PlanarShape {
        let (x, y) = (23_456.789_123, 17_654.321_987);
        PlanarShape::polygon(
            vec![
                Xy::new(x, y),
                Xy::new(x + 300.0, y),
                Xy::new(x + 300.0, y + 100.0),
                Xy::new(x + 100.0, y + 100.0),
                Xy::new(x + 100.0, y + 300.0),
                Xy::new(x, y + 300.0),
            ],
            vec![],
        )
    }

    #[test]
    fn the_outer_disc_holds_every_vertex_and_the_inner_disc_lies_inside() {
        let shape = l_shape();
        let discs = Discs::of(&shape);
        let PlanarShape::Polygon(p) = &shape else {
            unreachable!()
        };
        for &v in p.exterior.vertices() {
            // A zero-length leg at a vertex is not clear of the zone (the
            // farthest vertex is on the outer disc's edge, up to rounding).
            assert!(!discs.clear_of(&Segment::new(v, v), 0.0), "{v:?}");
        }
        assert!(discs.inner > 10.0, "the L's arms are 100 m wide: {discs:?}");
        let c = Xy::new(f64::from(discs.inner_x), f64::from(discs.inner_y));
        let r = f64::from(discs.inner);
        for k in 0..64 {
            let t = k as f64 / 64.0 * std::f64::consts::TAU;
            let p = Xy::new(c.x + r * t.cos(), c.y + r * t.sin());
            assert!(
                shape.contains(p),
                "{p:?} on the inner disc is outside the zone"
            );
            // A leg ending just inside the inner disc enters the zone.
            let q = c.lerp(p, 0.999);
            assert!(discs.enters(&Segment::new(q, Xy::new(q.x + 5000.0, q.y))));
        }
        // Far away, and within a buffer of the far corner.
        let far = Xy::new(23_456.789_123 + 1000.0, 17_654.321_987 + 1000.0);
        assert!(discs.clear_of(&Segment::new(far, Xy::new(far.x + 10.0, far.y)), 0.0));
        let corner = Xy::new(23_456.789_123 + 300.0, 17_654.321_987 - 5.0);
        assert!(!discs.clear_of(&Segment::new(corner, corner), 6.0));
    }

    #[test]
    fn the_outer_disc_is_the_smallest_that_holds_the_footprint() {
        // An acute triangle: its smallest disc is its circumcircle, centred
        // at (50, 37.5) with radius 62.5; the disc about its box's centre
        // (50, 50) would need 70.7 m.
        let (x0, y0) = (23_456.5, 17_654.25);
        let triangle = PlanarShape::polygon(
            vec![
                Xy::new(x0, y0),
                Xy::new(x0 + 100.0, y0),
                Xy::new(x0 + 50.0, y0 + 100.0),
            ],
            vec![],
        );
        let discs = Discs::of(&triangle);
        let centre = Xy::new(f64::from(discs.outer_x), f64::from(discs.outer_y));
        assert!(
            centre.distance(Xy::new(x0 + 50.0, y0 + 37.5)) < 1e-2,
            "{discs:?}"
        );
        assert!((62.5..62.51).contains(&f64::from(discs.outer)), "{discs:?}");
        // A leg passing 65 m from the circumcentre, inside the box-centred
        // disc, is decided clear without its edges.
        let (a, b) = (
            Xy::new(x0 - 100.0, y0 - 27.5),
            Xy::new(x0 + 200.0, y0 - 27.5),
        );
        assert!(discs.clear_of(&Segment::new(a, b), 0.0));
        let PlanarShape::Polygon(p) = &triangle else {
            unreachable!()
        };
        for &v in p.exterior.vertices() {
            assert!(!discs.clear_of(&Segment::new(v, v), 0.0), "{v:?}");
        }
    }

    #[test]
    fn the_outer_disc_still_holds_degenerate_rings() {
        // Rings the importer refuses, but the index must not trust that:
        // points on one line (three of them can be a circle's "support"
        // with no finite centre), repeated points, one point.
        for ring in [
            vec![Xy::new(0.0, 0.0), Xy::new(10.0, 0.0), Xy::new(20.0, 0.0)],
            vec![
                Xy::new(5.0, 5.0),
                Xy::new(5.0, 5.0),
                Xy::new(7.0, 9.0),
                Xy::new(5.0, 5.0),
            ],
            vec![Xy::new(1.0, 2.0)],
        ] {
            let shape = PlanarShape::polygon(ring.clone(), vec![]);
            let discs = Discs::of(&shape);
            assert!(
                discs.outer.is_finite() && discs.outer_x.is_finite(),
                "{discs:?}"
            );
            for &v in &ring {
                assert!(!discs.clear_of(&Segment::new(v, v), 0.0), "{v:?} {discs:?}");
            }
        }
    }

    #[test]
    fn a_zone_with_no_room_inside_has_no_inner_disc_to_enter() {
        // A sliver: the search may find no point well inside it, and then
        // nothing is decided by the inner disc.
        let sliver = PlanarShape::polygon(
            vec![
                Xy::new(0.0, 0.0),
                Xy::new(1000.0, 0.0),
                Xy::new(1000.0, 1e-9),
            ],
            vec![],
        );
        let discs = Discs::of(&sliver);
        assert!(
            !discs.enters(&Segment::new(Xy::new(500.0, -1.0), Xy::new(500.0, 1.0)))
                || discs.inner > 0.0
        );
        assert!(f64::from(discs.inner) < 1e-6);
    }
}
