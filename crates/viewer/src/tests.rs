//! The session natively, on a small untrained network and a real photo.

use burn::tensor::Device;
use woofcam::explain::render::{Method, Style};
use woofcam::metadata::ModelMetadata;
use woofcam::weights::{Precision, to_burnpack};

use super::*;

fn session() -> Session {
    let mut meta = ModelMetadata::imagewoof(64);
    meta.architecture = "resnet18".into();
    let model = meta.config().unwrap().init(&Device::flex());
    Session::new(to_burnpack(&model, Precision::F32).unwrap(), &meta.to_json(), Device::flex()).unwrap()
}

fn photo() -> Vec<u8> {
    std::fs::read(woofcam_testkit::samoyed()).unwrap()
}

#[test]
fn explains_a_real_photo_with_every_method() {
    let mut session = session();
    let info = session.set_photo(&photo()).unwrap();
    assert_eq!((info.view_width, info.view_height), (info.width, info.height));
    let report = session.analyze(Some("[0,-2]"), Some(8), &Method::ALL).unwrap();
    assert_eq!((report.class, report.class_name.as_str(), report.layer.as_str()), (8, "Samoyed", "layer3"));
    assert_eq!((report.top.len(), report.logits.len()), (5, 10));
    let total: f32 = report.top.iter().map(|t| t.probability).sum();
    assert!(total > 0.0 && total <= 1.0 + 1e-5);
    let raw = report.gradcam_raw.unwrap();
    assert_eq!((raw.height, raw.width), (4, 4)); // layer3 of a 64 px input

    for method in Method::ALL {
        let picture = session.render(method, Style::default(), 0.5).unwrap();
        assert_eq!(picture.dimensions(), (info.view_width, info.view_height), "{method}");
        let strength = session.strength(method, Style::default()).unwrap();
        assert_eq!((strength.width as u32, strength.height as u32), picture.dimensions(), "{method}");
        assert!(strength.values.iter().all(|v| (0.0..=1.0).contains(v)), "{method}");
    }
}

#[test]
fn opacity_zero_is_the_photo_and_one_is_the_map() {
    let mut session = session();
    session.set_photo(&photo()).unwrap();
    session.analyze(None, None, &[Method::GradCam]).unwrap();
    let photo = session.render(Method::GradCam, Style::default(), 0.0).unwrap();
    let map = session.render(Method::GradCam, Style::default(), 1.0).unwrap();
    assert_ne!(photo, map);
    let half = session.render(Method::GradCam, Style::default(), 0.5).unwrap();
    let (p, m, h) = (photo.get_pixel(10, 10).0, map.get_pixel(10, 10).0, half.get_pixel(10, 10).0);
    for c in 0..3 {
        let mid = (f32::from(p[c]) + f32::from(m[c])) / 2.0;
        assert!((f32::from(h[c]) - mid).abs() <= 1.0, "{p:?} {m:?} {h:?}");
    }
}

#[test]
fn methods_not_computed_are_refused_with_a_reason() {
    let mut session = session();
    session.set_photo(&photo()).unwrap();
    session.analyze(None, None, &[Method::GradCam]).unwrap();
    let err = session.render(Method::GuidedBackprop, Style::default(), 0.5).unwrap_err();
    assert!(err.to_string().contains("guided-backprop was not computed"), "{err}");
}

#[test]
fn bad_input_is_an_error_and_keeps_the_last_photo() {
    let mut session = session();
    assert!(matches!(session.analyze(None, None, &[Method::GradCam]), Err(ViewerError::NoPhoto)));
    session.set_photo(&photo()).unwrap();
    assert!(session.set_photo(b"").unwrap_err().to_string().contains("empty"));
    assert!(session.set_photo(b"hello, I am text").unwrap_err().to_string().contains("not an image"));
    let err = session.analyze(Some("layer9"), None, &[Method::GradCam]).unwrap_err();
    assert!(err.to_string().contains("unknown layer"));
    let err = session.analyze(None, Some(10), &[Method::GradCam]).unwrap_err();
    assert!(err.to_string().contains("out of range"));
    assert!(session.analyze(None, None, &[Method::GradCam]).is_ok());
}

#[test]
fn downloads_carry_shape_and_values() {
    let mut session = session();
    session.set_photo(&photo()).unwrap();
    session.analyze(None, Some(3), &Method::ALL).unwrap();
    let (data, layer) = session.analysis().unwrap();
    let cam = RawMap::new(data, session.meta(), layer, Method::GradCam).unwrap();
    assert_eq!(cam.shape, [2, 2]);
    let json: serde_json::Value = serde_json::from_slice(&cam.to_json()).unwrap();
    assert_eq!(json["class"], 3);
    assert_eq!(json["values"].as_array().unwrap().len(), 4);
    let guided = RawMap::new(data, session.meta(), layer, Method::GuidedGradCam).unwrap();
    assert_eq!(guided.shape, [3, 64, 64]);
    assert_eq!(guided.to_npy().len() % 4, 0);
}

#[test]
fn style_names_are_checked() {
    assert!(style("viridis", "smooth").is_ok());
    assert!(style("rainbow", "bilinear").unwrap_err().to_string().contains("rainbow"));
    assert!(style("magma", "nearest").unwrap_err().to_string().contains("nearest"));
    assert!(parse_method("saliency").is_err());
}
