//! The viewer's wasm API: load exported weights, then classify and explain photos, all
//! inside the browser (in a Web Worker). Photos never leave the device.
//!
//! The page's worker calls, in order: [`load`], [`Viewer::set_photo`], [`Viewer::analyze`],
//! then any number of [`Viewer::render`] / [`Viewer::strength`] / [`Viewer::export`] as
//! the controls change. Every picture is drawn by the core crate (colour maps, overlays,
//! upsampling) and handed over as an `ImageData`, so the page only puts pixels on a canvas.

mod backend;
mod error;
mod panic;
mod report;
mod session;

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use wasm_bindgen::prelude::*;
use woofcam::explain::render::{Method, Style};
use woofcam::image::Colormap;

pub use error::ViewerError;
pub use panic::last_panic;
pub use report::{LayerRow, RawMap};
pub use session::{PhotoInfo, Session};
/// `initThreadPool(n)` in JavaScript: the threaded build's page starts its rayon pool of `n`
/// Web Workers with it, before [`load`].
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;
pub use woofcam::explain::Report;

/// A loaded model on its device. Cheap to clone in Rust: the session is shared, so an
/// analysis can await the device without borrowing the `Viewer` across the wait.
#[wasm_bindgen]
pub struct Viewer {
    session: Rc<RefCell<Session>>,
    backend: &'static str,
    fallback: Option<String>,
}

/// Loads `.bpk` weights described by their metadata JSON. `backend` is `"webgpu"` (falls
/// back to the CPU when WebGPU is missing or broken) or `"cpu"`.
#[wasm_bindgen]
pub async fn load(weights: Vec<u8>, metadata_json: String, backend: String) -> Result<Viewer, JsError> {
    panic::remember_panics();
    let choice = backend::choose(&backend).await;
    let session = Session::new(weights, &metadata_json, choice.device)?;
    Ok(Viewer { session: Rc::new(RefCell::new(session)), backend: choice.name, fallback: choice.fallback })
}

/// What the page builds its controls from.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    backend: &'static str,
    fallback: Option<String>,
    input_size: [usize; 2],
    class_names: Vec<String>,
    layers: Vec<LayerRow>,
    default_layer: String,
    methods: Vec<&'static str>,
    colormaps: Vec<&'static str>,
}

#[wasm_bindgen]
impl Viewer {
    /// Backend, classes, layers (with output shapes), methods and colour maps.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let session = self.session.borrow();
        let (meta, model) = (session.meta(), session.model());
        let [height, width] = meta.input_size;
        let info = Info {
            backend: self.backend,
            fallback: self.fallback.clone(),
            input_size: meta.input_size,
            class_names: meta.class_names(),
            layers: model.summary(height, width).into_iter().map(Into::into).collect(),
            default_layer: model.default_layer().name,
            methods: Method::ALL.map(Method::name).to_vec(),
            colormaps: Colormap::ALL.map(Colormap::name).to_vec(),
        };
        Ok(serde_wasm_bindgen::to_value(&info)?)
    }

    /// Decodes a photo (file bytes; the format is sniffed, never taken from the name).
    #[wasm_bindgen(js_name = setPhoto)]
    pub fn set_photo(&self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let info = self.session.borrow_mut().set_photo(bytes)?;
        Ok(serde_wasm_bindgen::to_value(&info)?)
    }

    /// Runs the network on the current photo for `methods` (names from `info().methods`),
    /// explaining `class` (default: the predicted one) at `layer` (default: the last).
    /// Resolves to the top-5, all logits and Grad-CAM's raw map.
    pub fn analyze(&self, layer: Option<String>, class: Option<usize>, methods: Vec<String>) -> js_sys::Promise {
        let session = Rc::clone(&self.session);
        wasm_bindgen_futures::future_to_promise(async move {
            let methods = methods.iter().map(|m| parse_method(m)).collect::<Result<Vec<_>, _>>().map_err(js_error)?;
            let pending = session.borrow().start(layer.as_deref(), class, &methods).map_err(js_error)?;
            let data = pending.explanation.read_async().await.map_err(|e| js_error(e.into()))?;
            let report = session.borrow_mut().finish(data, pending.layer);
            Ok(serde_wasm_bindgen::to_value(&report)?)
        })
    }

    /// `method`'s picture over the photo at opacity `alpha` (0: photo, 1: map alone), at the
    /// photo's view size, with colour map `cmap` and `upsampling` (`bilinear` or `smooth`).
    pub fn render(
        &self,
        method: &str,
        cmap: &str,
        upsampling: &str,
        alpha: f32,
    ) -> Result<web_sys::ImageData, JsError> {
        let style = style(cmap, upsampling)?;
        let image = self.session.borrow().render(parse_method(method)?, style, alpha)?;
        let (width, height) = image.dimensions();
        let rgba: Vec<u8> = image.pixels().flat_map(|p| [p.0[0], p.0[1], p.0[2], 255]).collect();
        // Copied out of wasm memory: an ImageData made straight from a slice would alias
        // (and could not be handed to the page's thread).
        let pixels = js_sys::Uint8ClampedArray::new_with_length(rgba.len() as u32);
        pixels.copy_from(&rgba);
        web_sys::ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, width, height)
            .map_err(|e| JsError::new(&format!("cannot make an ImageData: {e:?}")))
    }

    /// `method`'s map values in [0, 1] at the view size, row-major (for hover read-outs).
    pub fn strength(&self, method: &str, upsampling: &str) -> Result<Vec<f32>, JsError> {
        let style = Style { cmap: Colormap::default(), upsampling: upsampling.parse().map_err(ViewerError::Option)? };
        Ok(self.session.borrow().strength(parse_method(method)?, style)?.values)
    }

    /// `method`'s raw numbers as a download: `format` is `json` or `npy`.
    pub fn export(&self, method: &str, format: &str) -> Result<Vec<u8>, JsError> {
        let method = parse_method(method)?;
        let session = self.session.borrow();
        let (data, layer) = session.analysis().ok_or(ViewerError::NotAnalysed)?;
        let raw = RawMap::new(data, session.meta(), layer, method).ok_or(ViewerError::NotComputed(method))?;
        match format {
            "json" => Ok(raw.to_json()),
            "npy" => Ok(raw.to_npy()),
            other => Err(ViewerError::Option(format!("unknown download format `{other}` (json or npy)")).into()),
        }
    }
}

fn parse_method(name: &str) -> Result<Method, ViewerError> {
    name.parse().map_err(ViewerError::Option)
}

fn style(cmap: &str, upsampling: &str) -> Result<Style, ViewerError> {
    let cmap = cmap.parse::<Colormap>().map_err(|e| ViewerError::Option(e.to_string()))?;
    Ok(Style { cmap, upsampling: upsampling.parse().map_err(ViewerError::Option)? })
}

fn js_error(error: ViewerError) -> JsValue {
    JsError::new(&error.to_string()).into()
}

#[cfg(test)]
mod tests;
