//! The geography of the simulated world: named sites with coordinates, the round-trip time
//! between any two of them, and the choice of a PoP for viewers at a site.
//!
//! # Sites
//!
//! A [`Site`] has a short name (`eu-central`), a city (`Frankfurt`) and a latitude and
//! longitude in degrees (WGS84, north and east positive). [`World::earth`] is the built-in
//! preset of 23 metros where the big clouds and CDNs have their largest presence:
//!
//! | name | city | | name | city |
//! |---|---|---|---|---|
//! | `us-east` | Ashburn | | `eu-south` | Madrid |
//! | `us-east-2` | New York | | `eu-east` | Warsaw |
//! | `us-central` | Dallas | | `me-central` | Dubai |
//! | `us-central-2` | Chicago | | `af-south` | Johannesburg |
//! | `us-west` | San Jose | | `ap-south` | Mumbai |
//! | `us-west-2` | Los Angeles | | `ap-southeast` | Singapore |
//! | `ca-central` | Toronto | | `ap-east` | Hong Kong |
//! | `sa-east` | São Paulo | | `ap-northeast` | Tokyo |
//! | `eu-west` | London | | `ap-northeast-2` | Seoul |
//! | `eu-west-2` | Amsterdam | | `ap-southeast-2` | Sydney |
//! | `eu-west-3` | Paris | | | |
//! | `eu-central` | Frankfurt | | | |
//! | `eu-north` | Stockholm | | | |
//!
//! Names are `{continent}-{direction}`, with `-2`, `-3` for further metros of the same region
//! (numbered in the order they were added; Paris keeps `eu-west-3`, as in the issue and at
//! AWS). `us-central` is **Dallas**, the largest interconnection hub between the coasts, and
//! Chicago is `us-central-2`. The coordinates are the usual city-centre points (city hall or
//! the conventional centre as given by Wikipedia/GeoNames), to 4 decimals (about 10 m): far
//! more precise than the latency model needs.
//!
//! # Round-trip time
//!
//! Between sites `a` and `b`, unless a scenario overrides the pair:
//!
//! ```text
//! rtt(a, b) = base + 2 × great_circle_km(a, b) ÷ 200 km/ms × inflation
//! ```
//!
//! with `base` 2 ms by default (last-mile, switching and host time) and `inflation` 1.5 by
//! default (fibre paths are longer than the great circle). Light in fibre covers about
//! 200 km per millisecond. The distance-dependent part is rounded to the nearest nanosecond;
//! `rtt(a, a)` is `base`. [`World::set_rtt`] overrides a pair, in both directions.
//!
//! The great-circle distance is the haversine formula on a sphere of the mean Earth radius
//! R₁ = 6371.0088 km (IUGG; the mean of the WGS84 semi-axes, (2a + b) / 3). Against the
//! geodesic on the WGS84 ellipsoid it errs by at most about 0.6 % (short north–south arcs
//! near the equator or the poles); on the preset's long-haul pairs typically 0.1–0.4 %.
//!
//! # PoP selection
//!
//! Viewers at a site go to the PoP with the lowest RTT among those that are up, as anycast or
//! latency-based DNS would send them ([`World::nearest_pop`]), or to a fixed PoP with the
//! nearest other as failover ([`World::choose_pop`]). [`World::pops_by_rtt`] gives the whole
//! failover order. Ties go to the PoP listed first.
//!
//! # Configuration
//!
//! [`RawWorld`] is the `[world]` table of a scenario:
//!
//! ```toml
//! [world]
//! preset = "earth"      # or "none" (no built-in sites); default "earth"
//! base_rtt = "2ms"      # default 2ms
//! inflation = 1.5       # default 1.5, must be > 0
//!
//! [[world.site]]
//! name = "eu-dublin"
//! city = "Dublin"       # optional, defaults to the name
//! lat = 53.3498
//! lon = -6.2603
//!
//! [[world.rtt]]         # overrides one pair, both directions
//! a = "eu-west"
//! b = "us-east"
//! rtt = "70ms"
//! ```
//!
//! [`RawWorld::validate`] turns it into a [`World`]; every error names the file, the line
//! and the key (`scenario.toml:9: world.site[0].lat: …`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use cache::config_source::{duration, ConfigError, RawDuration, Source};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The mean Earth radius R₁ in km (IUGG), used for great-circle distances.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// How far light travels in optical fibre per millisecond (refractive index about 1.5).
pub const FIBRE_KM_PER_MS: f64 = 200.0;

/// The RTT of two sites at no distance: access network, switching, host time.
pub const DEFAULT_BASE_RTT: Duration = Duration::from_millis(2);

/// How much longer a real path is than the great circle.
pub const DEFAULT_INFLATION: f64 = 1.5;

/// The sites of the `earth` preset: name, city, latitude, longitude (degrees, WGS84).
/// See the [module docs](self) for where the coordinates come from.
pub const EARTH: [(&str, &str, f64, f64); 23] = [
    // The Americas.
    ("us-east", "Ashburn", 39.0438, -77.4874),
    ("us-east-2", "New York", 40.7128, -74.0060),
    ("us-central", "Dallas", 32.7767, -96.7970),
    ("us-central-2", "Chicago", 41.8781, -87.6298),
    ("us-west", "San Jose", 37.3382, -121.8863),
    ("us-west-2", "Los Angeles", 34.0522, -118.2437),
    ("ca-central", "Toronto", 43.6532, -79.3832),
    ("sa-east", "São Paulo", -23.5505, -46.6333),
    // Europe.
    ("eu-west", "London", 51.5074, -0.1278),
    ("eu-west-2", "Amsterdam", 52.3676, 4.9041),
    ("eu-west-3", "Paris", 48.8566, 2.3522),
    ("eu-central", "Frankfurt", 50.1109, 8.6821),
    ("eu-north", "Stockholm", 59.3293, 18.0686),
    ("eu-south", "Madrid", 40.4168, -3.7038),
    ("eu-east", "Warsaw", 52.2297, 21.0122),
    // The Middle East and Africa.
    ("me-central", "Dubai", 25.2048, 55.2708),
    ("af-south", "Johannesburg", -26.2041, 28.0473),
    // Asia and the Pacific.
    ("ap-south", "Mumbai", 19.0760, 72.8777),
    ("ap-southeast", "Singapore", 1.3521, 103.8198),
    ("ap-east", "Hong Kong", 22.3193, 114.1694),
    ("ap-northeast", "Tokyo", 35.6762, 139.6503),
    ("ap-northeast-2", "Seoul", 37.5665, 126.9780),
    ("ap-southeast-2", "Sydney", -33.8688, 151.2093),
];

/// A named place on the globe where viewers, PoPs or origins can be.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Site {
    /// The short name scenarios use (`eu-central`): 1 to 64 letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The metro, for people (`Frankfurt`).
    pub city: String,
    /// Degrees north, in [-90, 90].
    pub lat: f64,
    /// Degrees east, in [-180, 180].
    pub lon: f64,
}

impl Site {
    pub fn new(name: impl Into<String>, city: impl Into<String>, lat: f64, lon: f64) -> Site {
        Site {
            name: name.into(),
            city: city.into(),
            lat,
            lon,
        }
    }
}

/// The great-circle distance in km between two points given in degrees: the haversine
/// formula (in its `atan2` form, accurate also near antipodes) on a sphere of radius
/// [`EARTH_RADIUS_KM`]. Exactly symmetric, and 0 for a point with itself.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    // Absolute differences make the result bit-for-bit symmetric in its arguments.
    let dp = (p2 - p1).abs();
    let dl = (lon2 - lon1).abs().to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    let h = h.clamp(0.0, 1.0);
    2.0 * EARTH_RADIUS_KM * h.sqrt().atan2((1.0 - h).sqrt())
}

/// Sites, the RTT model's parameters and per-pair RTT overrides.
///
/// Sites are referred to by their index in [`World::sites`]; indices never change (sites are
/// only ever appended). Methods taking indices panic on an index that is not a site's.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    sites: Vec<Site>,
    /// Keyed by `(min(a, b), max(a, b))`.
    overrides: BTreeMap<(usize, usize), Duration>,
    base: Duration,
    inflation: f64,
}

impl World {
    /// The built-in preset: the [`EARTH`] sites, base RTT 2 ms, inflation 1.5, no overrides.
    pub fn earth() -> World {
        let mut w = World::empty();
        w.sites = EARTH
            .iter()
            .map(|&(name, city, lat, lon)| Site::new(name, city, lat, lon))
            .collect();
        w
    }

    /// No sites; base RTT 2 ms, inflation 1.5.
    pub fn empty() -> World {
        World {
            sites: Vec::new(),
            overrides: BTreeMap::new(),
            base: DEFAULT_BASE_RTT,
            inflation: DEFAULT_INFLATION,
        }
    }

    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// The site's short name.
    pub fn name(&self, site: usize) -> &str {
        &self.sites[site].name
    }

    /// The short names, in order, joined by `", "` (for error messages).
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.sites.iter().map(|s| s.name.as_str()).collect();
        names.join(", ")
    }

    /// The index of a site by its exact short name (`eu-central`); failing that, by its city
    /// compared case-insensitively (`frankfurt`), when exactly one site is in that city.
    pub fn site(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.sites.iter().position(|s| s.name == name) {
            return Some(i);
        }
        let lower = name.to_lowercase();
        let mut found = self
            .sites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.city.to_lowercase() == lower)
            .map(|(i, _)| i);
        match (found.next(), found.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    }

    /// Appends a site and returns its index. Refused: a name that is empty, longer than 64
    /// bytes or not made of letters, digits, `-`, `_`, `.`; a name already taken (compared
    /// ignoring ASCII case); a latitude outside [-90, 90] or a longitude outside [-180, 180].
    pub fn add_site(&mut self, site: Site) -> Result<usize, String> {
        check_name(&site.name)?;
        if let Some(other) = self
            .sites
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(&site.name))
        {
            return Err(format!(
                "duplicate site name {:?} (already the site in {})",
                site.name, other.city
            ));
        }
        check_lat(site.lat)?;
        check_lon(site.lon)?;
        self.sites.push(site);
        Ok(self.sites.len() - 1)
    }

    /// Sets the RTT between `a` and `b`, in both directions, replacing the model's value.
    /// `a == b` is allowed and overrides the site's RTT with itself (otherwise `base`).
    pub fn set_rtt(&mut self, a: usize, b: usize, rtt: Duration) {
        assert!(
            a < self.sites.len() && b < self.sites.len(),
            "set_rtt({a}, {b}): the world has {} sites",
            self.sites.len()
        );
        self.overrides.insert((a.min(b), a.max(b)), rtt);
    }

    /// The override set for the pair, if any.
    pub fn rtt_override(&self, a: usize, b: usize) -> Option<Duration> {
        self.overrides.get(&(a.min(b), a.max(b))).copied()
    }

    /// The RTT of two sites at no distance (default 2 ms).
    pub fn base_rtt(&self) -> Duration {
        self.base
    }

    pub fn set_base_rtt(&mut self, base: Duration) {
        self.base = base;
    }

    /// How much longer paths are than the great circle (default 1.5).
    pub fn inflation(&self) -> f64 {
        self.inflation
    }

    /// Refused unless finite and greater than 0.
    pub fn set_inflation(&mut self, inflation: f64) -> Result<(), String> {
        if !(inflation.is_finite() && inflation > 0.0) {
            return Err(format!(
                "inflation {inflation} must be a number greater than 0"
            ));
        }
        self.inflation = inflation;
        Ok(())
    }

    /// The great-circle distance in km between two sites ([`haversine_km`]).
    pub fn great_circle_km(&self, a: usize, b: usize) -> f64 {
        let (p, q) = (&self.sites[a], &self.sites[b]);
        haversine_km(p.lat, p.lon, q.lat, q.lon)
    }

    /// The RTT of the model, ignoring overrides:
    /// `base + 2 × km ÷ 200 km/ms × inflation`, the second term rounded to the nanosecond.
    pub fn model_rtt(&self, a: usize, b: usize) -> Duration {
        let one_way_ms = self.great_circle_km(a, b) / FIBRE_KM_PER_MS * self.inflation;
        // `as u64` saturates, so an absurd inflation cannot wrap around.
        let propagation = Duration::from_nanos((2.0 * one_way_ms * 1e6).round() as u64);
        self.base.saturating_add(propagation)
    }

    /// The RTT between two sites: the override for the pair if set, else [`World::model_rtt`].
    /// Symmetric; `rtt(a, a)` is the base RTT unless overridden.
    pub fn rtt(&self, a: usize, b: usize) -> Duration {
        self.rtt_override(a, b)
            .unwrap_or_else(|| self.model_rtt(a, b))
    }

    /// The index into `pops` (site indices) of the PoP nearest `from` by RTT among those not
    /// down; ties go to the one listed first. `down[i]` says whether `pops[i]` is down; a
    /// missing entry (`down` shorter than `pops`, e.g. `&[]`) means up. `None` if `pops` is
    /// empty or every PoP is down.
    pub fn nearest_pop(&self, from: usize, pops: &[usize], down: &[bool]) -> Option<usize> {
        let mut best: Option<(usize, Duration)> = None;
        for (i, &p) in pops.iter().enumerate() {
            if down.get(i).copied().unwrap_or(false) {
                continue;
            }
            let r = self.rtt(from, p);
            if best.is_none_or(|(_, b)| r < b) {
                best = Some((i, r));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Indices into `pops` (site indices), ordered by RTT from `from`, nearest first: the
    /// failover order. Ties keep the order of `pops`.
    pub fn pops_by_rtt(&self, from: usize, pops: &[usize]) -> Vec<usize> {
        let rtts: Vec<Duration> = pops.iter().map(|&p| self.rtt(from, p)).collect();
        let mut order: Vec<usize> = (0..pops.len()).collect();
        order.sort_by_key(|&i| rtts[i]); // stable
        order
    }

    /// A fixed mapping with failover: `fixed` (an index into `pops`) if given and up, else
    /// [`World::nearest_pop`] among those up. `None` if every PoP is down.
    pub fn choose_pop(
        &self,
        from: usize,
        pops: &[usize],
        down: &[bool],
        fixed: Option<usize>,
    ) -> Option<usize> {
        match fixed {
            Some(i) if i < pops.len() && !down.get(i).copied().unwrap_or(false) => Some(i),
            _ => self.nearest_pop(from, pops, down),
        }
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid site name: use 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

fn check_lat(lat: f64) -> Result<(), String> {
    if (-90.0..=90.0).contains(&lat) {
        Ok(())
    } else {
        Err(format!(
            "latitude {lat} is outside [-90, 90] (degrees north; south is negative)"
        ))
    }
}

fn check_lon(lon: f64) -> Result<(), String> {
    if (-180.0..=180.0).contains(&lon) {
        Ok(())
    } else {
        Err(format!(
            "longitude {lon} is outside [-180, 180] (degrees east; west is negative)"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// The `[world]` table of a scenario as written; see the [module docs](self#configuration).
/// Everything is optional: an absent table is the `earth` preset with the default model.
#[derive(Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawWorld {
    /// `"earth"` (default) or `"none"`.
    pub preset: Option<Spanned<String>>,
    /// Default `"2ms"`.
    pub base_rtt: Option<Spanned<RawDuration>>,
    /// Default 1.5.
    pub inflation: Option<Spanned<f64>>,
    /// `[[world.site]]`: sites added to the preset's.
    pub site: Option<Vec<RawSite>>,
    /// `[[world.rtt]]`: per-pair overrides.
    pub rtt: Option<Vec<RawRtt>>,
}

/// One `[[world.site]]`.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub name: Spanned<String>,
    /// Defaults to the name.
    pub city: Option<Spanned<String>>,
    pub lat: Spanned<f64>,
    pub lon: Spanned<f64>,
}

/// One `[[world.rtt]]`: the RTT between sites `a` and `b` (short names or cities, as
/// [`World::site`] finds them), both directions.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawRtt {
    pub a: Spanned<String>,
    pub b: Spanned<String>,
    pub rtt: Spanned<RawDuration>,
}

/// A duration that may be zero but not negative (parse_duration's own message for `-1ms`
/// would only say that it expected a number).
fn non_negative(
    src: &Source<'_>,
    v: &Spanned<RawDuration>,
    key: &str,
) -> Result<Duration, ConfigError> {
    let text = v.get_ref().0.trim();
    if text.starts_with('-') {
        return Err(src.error(
            Some(v.span()),
            key,
            format!("{text:?} is negative: a round-trip time is 0s or more"),
        ));
    }
    duration(src, &Some(v.clone()), key, Duration::ZERO)
}

impl RawWorld {
    /// The one validation step: the preset, the model's parameters, the added sites, then
    /// the overrides (which may name added sites). Key names in errors are relative to the
    /// table (`site[2].lat`); give `src` the key prefix `"world"` when it is embedded.
    pub fn validate(&self, src: &Source<'_>) -> Result<World, ConfigError> {
        let mut world = match &self.preset {
            None => World::earth(),
            Some(p) => match p.get_ref().as_str() {
                "earth" => World::earth(),
                "none" => World::empty(),
                other => {
                    return Err(src.error(
                        Some(p.span()),
                        "preset",
                        format!(
                            "unknown preset {other:?}: use \"earth\" (the built-in sites) or \"none\" (only the sites listed here)"
                        ),
                    ))
                }
            },
        };
        let preset_sites = world.sites.len();

        if let Some(b) = &self.base_rtt {
            world.set_base_rtt(non_negative(src, b, "base_rtt")?);
        }
        if let Some(f) = &self.inflation {
            world.set_inflation(*f.get_ref()).map_err(|_| {
                src.error(
                    Some(f.span()),
                    "inflation",
                    format!(
                        "{} must be a number greater than 0 (paths are typically 1.5 times the great circle)",
                        f.get_ref()
                    ),
                )
            })?;
        }

        for (i, s) in self.site.as_deref().unwrap_or_default().iter().enumerate() {
            let key = |k: &str| format!("site[{i}].{k}");
            let name = s.name.get_ref();
            let at = |v: Range<usize>, k: &str, m: String| src.error(Some(v), &key(k), m);
            check_name(name).map_err(|m| at(s.name.span(), "name", m))?;
            if let Some(j) = world
                .sites
                .iter()
                .position(|o| o.name.eq_ignore_ascii_case(name))
            {
                let whose = if j < preset_sites {
                    format!(
                        "preset \"earth\" already has it ({}): choose another name, or preset = \"none\"",
                        world.sites[j].city
                    )
                } else {
                    format!("also site[{}]", j - preset_sites)
                };
                return Err(at(
                    s.name.span(),
                    "name",
                    format!("duplicate site name {name:?}: {whose}"),
                ));
            }
            check_lat(*s.lat.get_ref()).map_err(|m| at(s.lat.span(), "lat", m))?;
            check_lon(*s.lon.get_ref()).map_err(|m| at(s.lon.span(), "lon", m))?;
            let city = s.city.as_ref().map_or(name, |c| c.get_ref());
            world
                .add_site(Site::new(
                    name.clone(),
                    city.clone(),
                    *s.lat.get_ref(),
                    *s.lon.get_ref(),
                ))
                .map_err(|m| at(s.name.span(), "name", m))?;
        }

        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for (i, r) in self.rtt.as_deref().unwrap_or_default().iter().enumerate() {
            let key = |k: &str| format!("rtt[{i}].{k}");
            let find = |v: &Spanned<String>, k: &str| {
                world.site(v.get_ref()).ok_or_else(|| {
                    src.error(
                        Some(v.span()),
                        &key(k),
                        format!("no site named {:?} (sites: {})", v.get_ref(), world.names()),
                    )
                })
            };
            let (a, b) = (find(&r.a, "a")?, find(&r.b, "b")?);
            let rtt = non_negative(src, &r.rtt, &key("rtt"))?;
            let pair = (a.min(b), a.max(b));
            if let Some(j) = pairs.iter().position(|&p| p == pair) {
                return Err(src.error(
                    Some(r.b.span()),
                    &key("b"),
                    format!(
                        "the RTT between {} and {} is already set by rtt[{j}]",
                        world.name(a),
                        world.name(b)
                    ),
                ));
            }
            pairs.push(pair);
            world.set_rtt(a, b, rtt);
        }
        Ok(world)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: f64) -> Duration {
        Duration::from_nanos((x * 1e6).round() as u64)
    }

    fn earth_site(w: &World, name: &str) -> usize {
        w.site(name).unwrap_or_else(|| panic!("no site {name}"))
    }

    /// Reference distances: the geodesic on the WGS84 ellipsoid (a = 6378137 m,
    /// f = 1/298.257223563) between the same coordinates as the table, by Vincenty's inverse
    /// formula (T. Vincenty, Survey Review 23(176), 1975), computed separately in Python
    /// double precision to 0.1 km; the implementation reproduces Vincenty's own test line
    /// (Flinders Peak – Buninyong, 54 972.271 m). This is an independent computation on a
    /// different model of the Earth: the sphere's haversine must stay within 1 % of it.
    /// London–New York, 5585 km, is also the commonly published figure.
    const GEODESICS: [(&str, &str, f64); 9] = [
        ("eu-west", "us-east-2", 5585.2),           // London – New York
        ("eu-west", "us-east", 5932.7),             // London – Ashburn
        ("eu-central", "ap-southeast", 10261.3),    // Frankfurt – Singapore
        ("ap-northeast", "ap-southeast-2", 7792.2), // Tokyo – Sydney
        ("us-west", "us-east", 3855.3),             // San Jose – Ashburn
        ("eu-west", "eu-west-3", 343.9),            // London – Paris
        ("sa-east", "af-south", 7441.8),            // São Paulo – Johannesburg
        ("ap-south", "eu-west", 7199.6),            // Mumbai – London
        ("us-east-2", "ap-northeast", 10875.7),     // New York – Tokyo
    ];

    #[test]
    fn distances_of_known_pairs_within_one_percent() {
        let w = World::earth();
        for (a, b, reference) in GEODESICS {
            let (a, b) = (earth_site(&w, a), earth_site(&w, b));
            let d = w.great_circle_km(a, b);
            let err = (d - reference).abs() / reference;
            assert!(
                err < 0.01,
                "{} – {}: {d:.1} km vs {reference} km ({:.3} %)",
                w.sites()[a].city,
                w.sites()[b].city,
                err * 100.0
            );
            assert_eq!(d, w.great_circle_km(b, a));
        }
    }

    /// The same central angle by a second formula, Vincenty's special case for the sphere
    /// (atan2 of the cross and dot products), for every pair of the preset.
    #[test]
    fn haversine_agrees_with_the_spherical_vincenty_formula() {
        let w = World::earth();
        for (i, p) in w.sites().iter().enumerate() {
            for (j, q) in w.sites().iter().enumerate() {
                let (f1, f2) = (p.lat.to_radians(), q.lat.to_radians());
                let dl = (q.lon - p.lon).to_radians();
                let y = ((f2.cos() * dl.sin()).powi(2)
                    + (f1.cos() * f2.sin() - f1.sin() * f2.cos() * dl.cos()).powi(2))
                .sqrt();
                let x = f1.sin() * f2.sin() + f1.cos() * f2.cos() * dl.cos();
                let d = EARTH_RADIUS_KM * y.atan2(x);
                let h = w.great_circle_km(i, j);
                assert!((d - h).abs() < 1e-6, "{} {}: {d} vs {h}", p.name, q.name);
            }
        }
    }

    #[test]
    fn the_earth_table() {
        let w = World::earth();
        assert_eq!(w.sites().len(), EARTH.len());
        let mut names: Vec<&str> = w.sites().iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EARTH.len(), "names are unique");
        for s in w.sites() {
            check_name(&s.name).unwrap();
            check_lat(s.lat).unwrap();
            check_lon(s.lon).unwrap();
        }
        for (name, city) in [
            ("us-east", "Ashburn"),
            ("us-central", "Dallas"),
            ("us-west", "San Jose"),
            ("ca-central", "Toronto"),
            ("sa-east", "São Paulo"),
            ("eu-west", "London"),
            ("eu-central", "Frankfurt"),
            ("eu-west-3", "Paris"),
            ("eu-north", "Stockholm"),
            ("eu-south", "Madrid"),
            ("me-central", "Dubai"),
            ("af-south", "Johannesburg"),
            ("ap-south", "Mumbai"),
            ("ap-southeast", "Singapore"),
            ("ap-east", "Hong Kong"),
            ("ap-northeast", "Tokyo"),
            ("ap-northeast-2", "Seoul"),
            ("ap-southeast-2", "Sydney"),
        ] {
            let i = earth_site(&w, name);
            assert_eq!(w.sites()[i].city, city);
            assert_eq!(w.site(&city.to_uppercase()), Some(i), "by city");
        }
        assert_eq!(w.site("frankfurt"), w.site("eu-central"));
        assert_eq!(w.site("EU-CENTRAL"), None, "short names are exact");
        assert_eq!(w.site("atlantis"), None);
    }

    #[test]
    fn city_lookup_needs_a_unique_city() {
        let mut w = World::earth();
        w.add_site(Site::new("fra-2", "Frankfurt", 50.1, 8.7))
            .unwrap();
        assert_eq!(w.site("frankfurt"), None, "two sites in Frankfurt");
        assert_eq!(w.site("fra-2"), Some(EARTH.len()));
    }

    #[test]
    fn add_site_refusals() {
        let mut w = World::earth();
        let e = w
            .add_site(Site::new("eu-west", "Dublin", 53.3, -6.3))
            .unwrap_err();
        assert!(e.contains("duplicate") && e.contains("London"), "{e}");
        assert!(w.add_site(Site::new("EU-WEST", "x", 0.0, 0.0)).is_err());
        assert!(w.add_site(Site::new("", "x", 0.0, 0.0)).is_err());
        assert!(w.add_site(Site::new("a b", "x", 0.0, 0.0)).is_err());
        assert!(w.add_site(Site::new("x", "x", 90.5, 0.0)).is_err());
        assert!(w.add_site(Site::new("x", "x", 0.0, -180.5)).is_err());
        assert!(w.add_site(Site::new("x", "x", f64::NAN, 0.0)).is_err());
        assert_eq!(w.sites().len(), EARTH.len(), "nothing was added");
        assert_eq!(
            w.add_site(Site::new("x", "x", -90.0, 180.0)),
            Ok(EARTH.len())
        );
    }

    #[test]
    fn rtt_model_numbers() {
        let mut w = World::empty();
        let a = w.add_site(Site::new("a", "A", 0.0, 0.0)).unwrap();
        let b = w.add_site(Site::new("b", "B", 0.0, 90.0)).unwrap();
        let c = w.add_site(Site::new("c", "C", 0.0, 180.0)).unwrap();
        // A quarter of the equator: π/2 × R = 10 007.557… km.
        let quarter = std::f64::consts::FRAC_PI_2 * EARTH_RADIUS_KM;
        assert!((w.great_circle_km(a, b) - quarter).abs() < 1e-9);
        assert!((w.great_circle_km(a, c) - 2.0 * quarter).abs() < 1e-9);
        // 2 ms + 2 × 10 007.5576 km ÷ 200 km/ms × 1.5 = 2 + 150.113358 ms.
        let expect = 2.0 + 2.0 * quarter / 200.0 * 1.5;
        assert_eq!(w.rtt(a, b), ms(expect));
        assert_eq!(w.rtt(a, b), Duration::from_nanos(152_113_358));
        assert_eq!(w.rtt(b, a), w.rtt(a, b));
        assert_eq!(w.rtt(a, a), DEFAULT_BASE_RTT);
        assert_eq!(w.rtt(c, c), Duration::from_millis(2));

        w.set_base_rtt(Duration::from_millis(5));
        w.set_inflation(2.0).unwrap();
        assert_eq!(w.rtt(a, c), ms(5.0 + 2.0 * 2.0 * quarter / 200.0 * 2.0));
        assert_eq!(w.rtt(a, a), Duration::from_millis(5));
        assert!(w.set_inflation(0.0).is_err());
        assert!(w.set_inflation(-1.0).is_err());
        assert!(w.set_inflation(f64::INFINITY).is_err());
        assert_eq!(w.inflation(), 2.0);

        // London – New York on the earth preset: 2 ms + 5570.2 km × 0.015 ms/km ≈ 85.55 ms.
        let e = World::earth();
        let (l, n) = (earth_site(&e, "eu-west"), earth_site(&e, "us-east-2"));
        let km = e.great_circle_km(l, n);
        assert_eq!(e.rtt(l, n), ms(2.0 + 2.0 * km / 200.0 * 1.5));
        let got = e.rtt(l, n).as_secs_f64() * 1e3;
        assert!((got - 85.55).abs() < 0.05, "{got}");
    }

    #[test]
    fn overrides_are_symmetric() {
        let mut w = World::earth();
        let (l, a) = (earth_site(&w, "eu-west"), earth_site(&w, "us-east"));
        let model = w.rtt(l, a);
        w.set_rtt(a, l, Duration::from_millis(70));
        assert_eq!(w.rtt(l, a), Duration::from_millis(70));
        assert_eq!(w.rtt(a, l), Duration::from_millis(70));
        assert_eq!(w.rtt_override(l, a), Some(Duration::from_millis(70)));
        assert_eq!(w.model_rtt(l, a), model);
        w.set_rtt(l, a, Duration::from_millis(75));
        assert_eq!(w.rtt(a, l), Duration::from_millis(75), "the last set wins");
        // Other pairs and the sites with themselves are untouched.
        assert_eq!(w.rtt(l, l), DEFAULT_BASE_RTT);
        let p = earth_site(&w, "eu-west-3");
        assert_eq!(w.rtt(l, p), w.model_rtt(l, p));
        w.set_rtt(p, p, Duration::from_millis(4));
        assert_eq!(w.rtt(p, p), Duration::from_millis(4));
    }

    #[test]
    #[should_panic(expected = "the world has 23 sites")]
    fn set_rtt_of_no_site_panics() {
        World::earth().set_rtt(0, 23, Duration::ZERO);
    }

    #[test]
    fn nearest_pop_and_failover() {
        let w = World::earth();
        let s = |n| earth_site(&w, n);
        let pops = [s("us-east"), s("eu-central"), s("ap-southeast")];
        // From Paris: Frankfurt, then Ashburn, then Singapore.
        let paris = s("eu-west-3");
        assert_eq!(w.nearest_pop(paris, &pops, &[]), Some(1));
        assert_eq!(w.pops_by_rtt(paris, &pops), vec![1, 0, 2]);
        assert_eq!(w.nearest_pop(paris, &pops, &[false, true, false]), Some(0));
        assert_eq!(w.nearest_pop(paris, &pops, &[true, true, false]), Some(2));
        assert_eq!(w.nearest_pop(paris, &pops, &[true, true, true]), None);
        assert_eq!(w.nearest_pop(paris, &[], &[]), None);
        // From Hong Kong: Singapore.
        assert_eq!(w.nearest_pop(s("ap-east"), &pops, &[false; 3]), Some(2));
        // A PoP at the viewers' own site.
        assert_eq!(w.nearest_pop(pops[0], &pops, &[]), Some(0));
        // Fixed mapping with failover.
        assert_eq!(w.choose_pop(paris, &pops, &[], Some(2)), Some(2));
        assert_eq!(
            w.choose_pop(paris, &pops, &[false, false, true], Some(2)),
            Some(1)
        );
        assert_eq!(w.choose_pop(paris, &pops, &[], None), Some(1));
        assert_eq!(w.choose_pop(paris, &pops, &[true; 3], Some(0)), None);
    }

    #[test]
    fn ties_go_to_the_first_listed() {
        let mut w = World::empty();
        let v = w.add_site(Site::new("v", "V", 0.0, 0.0)).unwrap();
        let e = w.add_site(Site::new("e", "E", 0.0, 10.0)).unwrap();
        let west = w.add_site(Site::new("w", "W", 0.0, -10.0)).unwrap();
        let far = w.add_site(Site::new("f", "F", 0.0, 40.0)).unwrap();
        assert_eq!(w.rtt(v, e), w.rtt(v, west));
        assert_eq!(w.nearest_pop(v, &[far, e, west], &[]), Some(1));
        assert_eq!(w.nearest_pop(v, &[far, west, e], &[]), Some(1));
        assert_eq!(w.nearest_pop(v, &[far, west, e], &[false, true]), Some(2));
        assert_eq!(w.pops_by_rtt(v, &[far, west, e]), vec![1, 2, 0]);
        assert_eq!(w.pops_by_rtt(v, &[far, e, west]), vec![1, 2, 0]);
        // The same site twice is a tie too.
        assert_eq!(w.nearest_pop(v, &[e, e], &[]), Some(0));
        // An override decides.
        w.set_rtt(v, west, Duration::from_millis(1));
        assert_eq!(w.nearest_pop(v, &[far, e, west], &[]), Some(2));
        assert_eq!(w.pops_by_rtt(v, &[far, e, west]), vec![2, 1, 0]);
    }
}
