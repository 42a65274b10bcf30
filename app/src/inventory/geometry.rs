//! Shapes on a plan: polygons in the plan's pixel space, checked before they are saved,
//! measured in metres once the plan has a scale.

/// Why a polygon is refused, as the editor tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShapeError {
    TooFewPoints,
    NotFinite,
    OutsidePlan,
    SelfIntersecting,
    NoArea,
    TooManyPoints,
}

impl ShapeError {
    pub fn message_key(self) -> &'static str {
        match self {
            ShapeError::TooFewPoints => "inventory.shape.too_few_points",
            ShapeError::NotFinite => "inventory.shape.not_finite",
            ShapeError::OutsidePlan => "inventory.shape.outside_plan",
            ShapeError::SelfIntersecting => "inventory.shape.self_intersecting",
            ShapeError::NoArea => "inventory.shape.no_area",
            ShapeError::TooManyPoints => "inventory.shape.too_many_points",
        }
    }
}

/// Most vertices one shape may have.
pub const MAX_POINTS: usize = 500;

/// The ring without a repeated closing point.
fn open_ring(points: &[(f64, f64)]) -> &[(f64, f64)] {
    match points {
        [first, .., last] if first == last => &points[..points.len() - 1],
        _ => points,
    }
}

/// Twice the signed area (shoelace).
fn twice_area(ring: &[(f64, f64)]) -> f64 {
    (0..ring.len())
        .map(|i| {
            let (x1, y1) = ring[i];
            let (x2, y2) = ring[(i + 1) % ring.len()];
            x1 * y2 - x2 * y1
        })
        .sum()
}

/// Area in square pixels.
pub fn area(points: &[(f64, f64)]) -> f64 {
    twice_area(open_ring(points)).abs() / 2.0
}

/// Perimeter in pixels.
pub fn perimeter(points: &[(f64, f64)]) -> f64 {
    let ring = open_ring(points);
    (0..ring.len())
        .map(|i| {
            let (x1, y1) = ring[i];
            let (x2, y2) = ring[(i + 1) % ring.len()];
            (x2 - x1).hypot(y2 - y1)
        })
        .sum()
}

fn orientation(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> f64 {
    (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
}

fn on_segment(a: (f64, f64), b: (f64, f64), p: (f64, f64)) -> bool {
    p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
}

/// Whether segments ab and cd touch or cross.
fn segments_meet(a: (f64, f64), b: (f64, f64), c: (f64, f64), d: (f64, f64)) -> bool {
    let (o1, o2, o3, o4) = (
        orientation(a, b, c),
        orientation(a, b, d),
        orientation(c, d, a),
        orientation(c, d, b),
    );
    if o1 * o2 < 0.0 && o3 * o4 < 0.0 {
        return true;
    }
    (o1 == 0.0 && on_segment(a, b, c))
        || (o2 == 0.0 && on_segment(a, b, d))
        || (o3 == 0.0 && on_segment(c, d, a))
        || (o4 == 0.0 && on_segment(c, d, b))
}

/// Checks a polygon for a plan of `width` × `height` pixels; the ring as stored
/// (without a repeated closing point).
pub fn validate(
    points: &[(f64, f64)],
    width: f64,
    height: f64,
) -> Result<Vec<(f64, f64)>, ShapeError> {
    let ring = open_ring(points);
    if ring.len() > MAX_POINTS {
        return Err(ShapeError::TooManyPoints);
    }
    if ring.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return Err(ShapeError::NotFinite);
    }
    let mut distinct: Vec<(u64, u64)> = ring
        .iter()
        .map(|(x, y)| (x.to_bits(), y.to_bits()))
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 3 {
        return Err(ShapeError::TooFewPoints);
    }
    if ring
        .iter()
        .any(|(x, y)| *x < 0.0 || *y < 0.0 || *x > width || *y > height)
    {
        return Err(ShapeError::OutsidePlan);
    }
    let n = ring.len();
    for i in 0..n {
        for j in i + 1..n {
            // Neighbouring edges share a vertex; the first and last edges too.
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            if segments_meet(ring[i], ring[(i + 1) % n], ring[j], ring[(j + 1) % n]) {
                return Err(ShapeError::SelfIntersecting);
            }
        }
    }
    if area(ring) < 1e-9 {
        return Err(ShapeError::NoArea);
    }
    Ok(ring.to_vec())
}

/// Square metres and metres, for a plan with `meters_per_px`.
pub fn measure(points: &[(f64, f64)], meters_per_px: f64) -> (f64, f64) {
    (
        area(points) * meters_per_px * meters_per_px,
        perimeter(points) * meters_per_px,
    )
}

/// The scale that makes a line of `pixels` measure `meters`.
pub fn scale(pixels: f64, meters: f64) -> Option<f64> {
    (pixels.is_finite() && meters.is_finite() && pixels > 0.0 && meters > 0.0)
        .then(|| meters / pixels)
}

/// A GeoJSON Polygon (closed ring) of the points.
pub fn to_geojson(ring: &[(f64, f64)]) -> serde_json::Value {
    let mut coords: Vec<[f64; 2]> = ring.iter().map(|(x, y)| [*x, *y]).collect();
    if let Some(first) = coords.first().copied() {
        coords.push(first);
    }
    serde_json::json!({ "type": "Polygon", "coordinates": [coords] })
}

/// The outer ring of a GeoJSON Polygon, without its closing point.
pub fn from_geojson(value: &serde_json::Value) -> Option<Vec<(f64, f64)>> {
    let ring = value.get("coordinates")?.get(0)?.as_array()?;
    let points: Option<Vec<(f64, f64)>> = ring
        .iter()
        .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
        .collect();
    Some(open_ring(&points?).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQUARE: [(f64, f64); 4] = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)];

    #[test]
    fn area_and_perimeter_match_figures_worked_by_hand() {
        assert_eq!(area(&SQUARE), 10_000.0);
        assert_eq!(perimeter(&SQUARE), 400.0);
        // A right triangle 30 × 40: area 600, sides 30 + 40 + 50.
        let tri = [(0.0, 0.0), (30.0, 0.0), (0.0, 40.0)];
        assert_eq!(area(&tri), 600.0);
        assert_eq!(perimeter(&tri), 120.0);
        // An L: 10×4 plus 4×6 = 64; the closing point repeated changes nothing.
        let l = [
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 4.0),
            (4.0, 4.0),
            (4.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ];
        assert_eq!(area(&l), 64.0);
        assert_eq!(perimeter(&l), 40.0);
        // Clockwise or not, the area is positive.
        let mut reversed = SQUARE.to_vec();
        reversed.reverse();
        assert_eq!(area(&reversed), 10_000.0);
    }

    #[test]
    fn a_scale_turns_pixels_into_metres() {
        // A 200 px line drawn over a 10 m wall: 0.05 m per pixel.
        let mpp = scale(200.0, 10.0).unwrap();
        assert!((mpp - 0.05).abs() < 1e-12);
        let (sqm, m) = measure(&SQUARE, mpp);
        assert!((sqm - 25.0).abs() < 1e-9, "{sqm}");
        assert!((m - 20.0).abs() < 1e-9, "{m}");
        assert_eq!(scale(0.0, 10.0), None);
        assert_eq!(scale(10.0, -1.0), None);
        assert_eq!(scale(f64::NAN, 1.0), None);
    }

    #[test]
    fn invalid_shapes_are_refused_with_their_reason() {
        assert_eq!(
            validate(&[(0.0, 0.0), (1.0, 1.0)], 10.0, 10.0),
            Err(ShapeError::TooFewPoints)
        );
        assert_eq!(
            validate(
                &[(0.0, 0.0), (1.0, 1.0), (0.0, 0.0), (1.0, 1.0)],
                10.0,
                10.0
            ),
            Err(ShapeError::TooFewPoints)
        );
        // A bow tie crosses itself.
        let bow = [(0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0)];
        assert_eq!(
            validate(&bow, 20.0, 20.0),
            Err(ShapeError::SelfIntersecting)
        );
        assert_eq!(validate(&SQUARE, 50.0, 200.0), Err(ShapeError::OutsidePlan));
        assert_eq!(
            validate(&[(0.0, 0.0), (5.0, 0.0), (10.0, 0.0)], 20.0, 20.0),
            Err(ShapeError::NoArea)
        );
        assert_eq!(
            validate(&[(0.0, 0.0), (f64::NAN, 1.0), (1.0, 1.0)], 20.0, 20.0),
            Err(ShapeError::NotFinite)
        );
        let many: Vec<(f64, f64)> = (0..=MAX_POINTS).map(|i| (i as f64, 0.0)).collect();
        assert_eq!(validate(&many, 1e6, 1e6), Err(ShapeError::TooManyPoints));
        assert_eq!(validate(&SQUARE, 100.0, 100.0).unwrap().len(), 4);
    }

    #[test]
    fn geojson_round_trips_with_a_closed_ring() {
        let json = to_geojson(&SQUARE);
        assert_eq!(json["type"], "Polygon");
        assert_eq!(json["coordinates"][0].as_array().unwrap().len(), 5);
        assert_eq!(from_geojson(&json).unwrap(), SQUARE.to_vec());
        assert_eq!(
            from_geojson(&serde_json::json!({ "type": "Polygon" })),
            None
        );
    }
}
