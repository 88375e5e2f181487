//! The `[world]` table through a scenario-like wrapper: values, defaults, and errors that name
//! the file, line and key; and properties of distances on random coordinates.

use std::time::Duration;

use cache::config_source::{ConfigError, Source};
use proptest::prelude::*;
use serde::Deserialize;
use sim::geo::{haversine_km, RawWorld, Site, World, EARTH, EARTH_RADIUS_KM};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[serde(default)]
    world: RawWorld,
}

fn load(text: &str) -> Result<World, ConfigError> {
    let src = Source::new("scenario.toml", text).with_key_prefix("world");
    let sc: Scenario = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    sc.world.validate(&src)
}

fn error(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

const FULL: &str = r#"
[world]
preset = "earth"
base_rtt = "1ms"
inflation = 2

[[world.site]]
name = "eu-dublin"
city = "Dublin"
lat = 53.3498
lon = -6.2603

[[world.site]]
name = "pole"
lat = -90
lon = 0

[[world.rtt]]
a = "eu-west"
b = "us-east"
rtt = "70ms"

[[world.rtt]]
a = "Dublin"
b = "london"
rtt = "0s"
"#;

#[test]
fn a_full_table() {
    let w = load(FULL).unwrap();
    assert_eq!(w.sites().len(), EARTH.len() + 2);
    assert_eq!(w.base_rtt(), Duration::from_millis(1));
    assert_eq!(w.inflation(), 2.0);
    let dublin = w.site("eu-dublin").unwrap();
    assert_eq!(
        w.sites()[dublin],
        Site::new("eu-dublin", "Dublin", 53.3498, -6.2603)
    );
    let pole = w.site("pole").unwrap();
    assert_eq!(
        w.sites()[pole].city,
        "pole",
        "the city defaults to the name"
    );
    assert_eq!(
        w.sites()[pole].lat,
        -90.0,
        "an integer is a number of degrees"
    );
    let (l, a) = (w.site("eu-west").unwrap(), w.site("us-east").unwrap());
    assert_eq!(w.rtt(a, l), Duration::from_millis(70));
    assert_eq!(w.rtt(l, dublin), Duration::ZERO);
    assert_eq!(w.rtt(a, a), Duration::from_millis(1));
    // The model with base 1 ms and inflation 2 elsewhere.
    let t = w.site("ap-northeast").unwrap();
    let km = w.great_circle_km(a, t);
    let expect = 1e6 + (2.0 * km / 200.0 * 2.0 * 1e6).round();
    assert_eq!(w.rtt(t, a), Duration::from_nanos(expect as u64));
}

#[test]
fn defaults() {
    let w = load("").unwrap();
    assert_eq!(w, World::earth());
    assert_eq!(w.base_rtt(), Duration::from_millis(2));
    assert_eq!(w.inflation(), 1.5);
    assert_eq!(load("[world]\n").unwrap(), World::earth());
    let w = load("[world]\npreset = \"none\"\n").unwrap();
    assert!(w.sites().is_empty());
    let w =
        load("[world]\npreset = \"none\"\n[[world.site]]\nname = \"a\"\nlat = 1.5\nlon = 2.5\n")
            .unwrap();
    assert_eq!(w.sites(), &[Site::new("a", "a", 1.5, 2.5)]);
    assert_eq!(w.site("us-east"), None);
}

#[test]
fn unknown_preset() {
    assert_eq!(
        error("[world]\npreset = \"mars\"\n"),
        "scenario.toml:2: world.preset: unknown preset \"mars\": use \"earth\" (the built-in sites) or \"none\" (only the sites listed here)"
    );
}

#[test]
fn coordinates_out_of_range() {
    let sites = |lat: &str, lon: &str| {
        format!(
            "[world]\n[[world.site]]\nname = \"a\"\nlat = 1\nlon = 1\n\
             [[world.site]]\nname = \"b\"\nlat = 2\nlon = 2\n\
             [[world.site]]\nname = \"c\"\nlat = {lat}\nlon = {lon}\n"
        )
    };
    assert_eq!(
        error(&sites("90.5", "0")),
        "scenario.toml:12: world.site[2].lat: latitude 90.5 is outside [-90, 90] (degrees north; south is negative)"
    );
    assert_eq!(
        error(&sites("-91", "0")),
        "scenario.toml:12: world.site[2].lat: latitude -91 is outside [-90, 90] (degrees north; south is negative)"
    );
    assert_eq!(
        error(&sites("0", "-180.25")),
        "scenario.toml:13: world.site[2].lon: longitude -180.25 is outside [-180, 180] (degrees east; west is negative)"
    );
    assert!(
        error(&sites("nan", "0")).starts_with("scenario.toml:12: world.site[2].lat: latitude NaN"),
        "{}",
        error(&sites("nan", "0"))
    );
    assert!(load(&sites("-90", "180")).is_ok());
}

#[test]
fn duplicate_and_bad_site_names() {
    let text = "[world]\n[[world.site]]\nname = \"eu-west\"\nlat = 53\nlon = -6\n";
    assert_eq!(
        error(text),
        "scenario.toml:3: world.site[0].name: duplicate site name \"eu-west\": preset \"earth\" already has it (London): choose another name, or preset = \"none\""
    );
    // With no preset the name is free.
    assert!(load(&text.replace("[world]\n", "[world]\npreset = \"none\"\n")).is_ok());
    let text = "[world]\npreset = \"none\"\n\
                [[world.site]]\nname = \"x\"\nlat = 1\nlon = 1\n\
                [[world.site]]\nname = \"y\"\nlat = 1\nlon = 1\n\
                [[world.site]]\nname = \"X\"\nlat = 2\nlon = 2\n";
    assert_eq!(
        error(text),
        "scenario.toml:12: world.site[2].name: duplicate site name \"X\": also site[0]"
    );
    let text = "[world]\n[[world.site]]\nname = \"my site\"\nlat = 1\nlon = 1\n";
    assert_eq!(
        error(text),
        "scenario.toml:3: world.site[0].name: \"my site\" is not a valid site name: use 1 to 64 letters, digits, '-', '_' or '.'"
    );
}

#[test]
fn rtt_overrides() {
    let rtt = |a: &str, b: &str, rtt: &str| {
        format!(
            "[world]\n\n[[world.rtt]]\na = \"eu-west\"\nb = \"us-east\"\nrtt = \"70ms\"\n\n\
             [[world.rtt]]\na = \"{a}\"\nb = \"{b}\"\nrtt = \"{rtt}\"\n"
        )
    };
    let e = error(&rtt("eu-west", "atlantis", "5ms"));
    assert!(
        e.starts_with(
            "scenario.toml:10: world.rtt[1].b: no site named \"atlantis\" (sites: us-east, us-east-2, "
        ),
        "{e}"
    );
    let e = error(&rtt("atlantis", "eu-west", "5ms"));
    assert!(
        e.starts_with("scenario.toml:9: world.rtt[1].a: no site named \"atlantis\""),
        "{e}"
    );
    assert_eq!(
        error(&rtt("us-east", "eu-central", "-5ms")),
        "scenario.toml:11: world.rtt[1].rtt: \"-5ms\" is negative: a round-trip time is 0s or more"
    );
    let e = error(&rtt("us-east", "eu-central", "5 parsecs"));
    assert!(
        e.starts_with("scenario.toml:11: world.rtt[1].rtt: bad duration \"5 parsecs\""),
        "{e}"
    );
    assert_eq!(
        error(&rtt("us-east", "London", "5ms")),
        "scenario.toml:10: world.rtt[1].b: the RTT between us-east and eu-west is already set by rtt[0]"
    );
    let w = load(&rtt("ap-east", "Tokyo", "30ms")).unwrap();
    let (h, t) = (w.site("ap-east").unwrap(), w.site("ap-northeast").unwrap());
    assert_eq!(w.rtt(t, h), Duration::from_millis(30));
    // An override may name a site added in the same table.
    let text = "[world]\n[[world.site]]\nname = \"dub\"\nlat = 53\nlon = -6\n\
                [[world.rtt]]\na = \"dub\"\nb = \"eu-west\"\nrtt = \"9ms\"\n";
    let w = load(text).unwrap();
    assert_eq!(
        w.rtt(w.site("dub").unwrap(), w.site("eu-west").unwrap()),
        Duration::from_millis(9)
    );
}

#[test]
fn model_parameters() {
    assert_eq!(
        error("[world]\n\ninflation = 0\n"),
        "scenario.toml:3: world.inflation: 0 must be a number greater than 0 (paths are typically 1.5 times the great circle)"
    );
    assert!(error("[world]\ninflation = -1.5\n")
        .starts_with("scenario.toml:2: world.inflation: -1.5 must be"));
    assert!(error("[world]\ninflation = inf\n")
        .starts_with("scenario.toml:2: world.inflation: inf must be"));
    assert_eq!(
        error("[world]\nbase_rtt = \"-2ms\"\n"),
        "scenario.toml:2: world.base_rtt: \"-2ms\" is negative: a round-trip time is 0s or more"
    );
    let e = error("[world]\nbase_rtt = 2\n");
    assert!(
        e.starts_with("scenario.toml:2: world.base_rtt: invalid type: integer `2`, expected a duration string"),
        "{e}"
    );
    let w = load("[world]\nbase_rtt = \"0s\"\ninflation = 1\n").unwrap();
    assert_eq!(w.rtt(0, 0), Duration::ZERO);
}

#[test]
fn unknown_and_missing_keys() {
    let e = error("[world]\npreset = \"earth\"\nbase = \"2ms\"\n");
    assert!(
        e.starts_with("scenario.toml:3: world.base: unknown key, expected one of"),
        "{e}"
    );
    let e = error("[world]\n[[world.site]]\nname = \"a\"\nlat = 1\nlong = 2\n");
    assert!(
        e.starts_with("scenario.toml:5: world.site[0].long: unknown key"),
        "{e}"
    );
    let e = error("[world]\n[[world.site]]\nname = \"a\"\nlat = 1\n");
    assert!(
        e.starts_with("scenario.toml:2: world.site[0].lon: required key is missing"),
        "{e}"
    );
}

fn coord() -> impl Strategy<Value = (f64, f64)> {
    (-90.0f64..=90.0, -180.0f64..=180.0)
}

proptest! {
    #[test]
    fn distances_are_a_metric_on_the_sphere(p in coord(), q in coord(), r in coord()) {
        let mut w = World::empty();
        let a = w.add_site(Site::new("a", "A", p.0, p.1)).unwrap();
        let b = w.add_site(Site::new("b", "B", q.0, q.1)).unwrap();
        let c = w.add_site(Site::new("c", "C", r.0, r.1)).unwrap();
        let (ab, bc, ac) = (w.great_circle_km(a, b), w.great_circle_km(b, c), w.great_circle_km(a, c));
        prop_assert_eq!(w.great_circle_km(a, a), 0.0);
        prop_assert_eq!(ab, w.great_circle_km(b, a));
        prop_assert_eq!(w.rtt(a, b), w.rtt(b, a));
        prop_assert_eq!(w.rtt(a, a), w.base_rtt());
        prop_assert!(ac <= ab + bc + 1e-6, "{} > {} + {}", ac, ab, bc);
        prop_assert!(ab <= ac + bc + 1e-6);
        prop_assert!((0.0..=std::f64::consts::PI * EARTH_RADIUS_KM + 1e-6).contains(&ab));
        prop_assert!(w.rtt(a, b) >= w.base_rtt());
    }

    #[test]
    fn longitude_wraps(lat1 in -90.0f64..=90.0, lat2 in -90.0f64..=90.0, lon in -180.0f64..=180.0) {
        // The antimeridian: ±180° are the same meridian, and 360° apart is no distance.
        prop_assert!((haversine_km(lat1, -180.0, lat2, 180.0) - haversine_km(lat1, 0.0, lat2, 0.0)).abs() < 1e-6);
        prop_assert!(haversine_km(lat1, lon, lat1, lon + 360.0) < 1e-6);
    }
}
