//! The browser benchmark's job run natively: the viewer's own `Session` on the CPU backend
//! (Burn's flex, all cores), with the site's model and its 224x224 benchmark photo. Each row
//! is what `www/bench.js` times in the browser (the network for the row's methods, then each
//! method's overlay), under the same JSON keys, so `web/bench.js --native` can divide them.
//!
//!     cargo bench -p woofcam-viewer --bench session -- [SITE_DIR] > native.json
//!
//! SITE_DIR (default: the workspace's `target/site`; cargo runs benches in the crate's folder, so give
//! it as an absolute path) holds `model/model.{bpk,json}` and `bench/samoyed-224.jpg`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use woofcam_testkit::median;

use burn::tensor::Device;
use woofcam::explain::render::{Method, Style};
use woofcam_viewer::Session;

/// (key, methods) as in `www/bench.js`'s rows.
const ROWS: [(&str, &[Method]); 5] = [
    ("predict", &[]),
    ("gradcam", &[Method::GradCam]),
    ("guided_backprop", &[Method::GuidedBackprop]),
    ("guided_gradcam", &[Method::GuidedGradCam]),
    ("all_three", &[Method::GradCam, Method::GuidedBackprop, Method::GuidedGradCam]),
];

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (build the site first: `just site`)", path.display()))
}

fn ms(job: impl FnOnce()) -> f64 {
    let start = Instant::now();
    job();
    start.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let site = std::env::args()
        .nth(1)
        .filter(|a| a != "--bench")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/site"), PathBuf::from);
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let metadata = String::from_utf8(read(&site.join("model/model.json"))).expect("model.json is UTF-8");
    let weights = read(&site.join("model/model.bpk"));

    let mut fields = vec![("runs".to_string(), runs as f64)];
    let mut session = None;
    fields.push((
        "weights_ms".into(),
        ms(|| session = Some(Session::new(weights, &metadata, Device::flex()).expect("the site's model loads"))),
    ));
    let mut session = session.unwrap();
    session.set_photo(&read(&site.join("bench/samoyed-224.jpg"))).expect("the benchmark photo decodes");
    let style = Style::default(); // the page's first colour map, bilinear
    for (key, methods) in ROWS {
        let mut once = || {
            ms(|| {
                session.analyze(None, None, methods).expect("the analysis runs");
                for &method in methods {
                    std::hint::black_box(session.render(method, style, 0.6).expect("the overlay draws"));
                }
            })
        };
        let first = once();
        let warm = median((0..runs).map(|_| once()).collect());
        fields.push((format!("{key}_first_ms"), first));
        fields.push((format!("{key}_ms"), warm));
    }
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\": {:.1}", v)).collect();
    println!("{{\"backend\": \"native-cpu\", {}}}", body.join(", "));
}
