//! `woofcam explain PHOTO`: the top-5 breeds and the explanation PNGs for one photo.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Tensor;
use image::RgbImage;
use woofcam::explain::render::{self, Style};
use woofcam::explain::{ExplanationData, Report, Request, Target, Upsampling, explain, resolve_class};
use woofcam::image::{Colormap, DecodeLimits, Fit, decode, overlay, side_by_side};
use woofcam::metadata::ModelMetadata;

use crate::device::Backend;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    Gradcam,
    GuidedBackprop,
    GuidedGradcam,
    All,
}

impl Method {
    fn shown(self) -> Vec<render::Method> {
        match self {
            Method::Gradcam => vec![render::Method::GradCam],
            Method::GuidedBackprop => vec![render::Method::GuidedBackprop],
            Method::GuidedGradcam => vec![render::Method::GuidedGradCam],
            Method::All => render::Method::ALL.to_vec(),
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The photo to explain (JPEG, PNG, WebP, GIF, BMP or TIFF).
    photo: PathBuf,
    /// Exported weights (`NAME.bpk`, with `NAME.json` beside it).
    #[arg(long)]
    weights: PathBuf,
    /// Layer for Grad-CAM: a name (`layer3`, `layer4.2`) or a fastai path (`[0,-2]`). See `woofcam arch`.
    #[arg(long, default_value = "layer4")]
    layer: String,
    /// Class to explain, by index or name (default: the predicted one).
    #[arg(long)]
    class: Option<String>,
    #[arg(long, value_enum, default_value_t = Method::All)]
    method: Method,
    /// Colour map: magma, viridis, jet or grey.
    #[arg(long, default_value = "magma")]
    cmap: Colormap,
    /// Opacity of the map over the photo, 0 to 1.
    #[arg(long, default_value_t = 0.6)]
    alpha: f32,
    /// How the photo becomes the model's input: `squish` (the whole photo stretched, as the
    /// viewer does) or `crop` (its centre; the borders are not explained).
    #[arg(long, default_value_t = Fit::Squish)]
    fit: Fit,
    /// How the coarse Grad-CAM map is brought to the photo's size: `bilinear` or `smooth`.
    #[arg(long, default_value_t = Upsampling::Bilinear)]
    upsample: Upsampling,
    /// Folder for the PNGs (created if missing).
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Also write the numbers as JSON, as the page receives them: the top five, logits, the
    /// explained class and layer, Grad-CAM's raw (pre-ReLU) map at the layer's resolution
    /// and, when that map is blank, why.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    if !(0.0..=1.0).contains(&args.alpha) {
        bail!("--alpha must be between 0 and 1, got {}", args.alpha);
    }
    let device = Backend::Cpu.device()?;
    let (model, meta) = crate::model_file::load(&args.weights, &device)?;
    let layer = model.layer(&args.layer)?;
    let names = meta.class_names();
    let target = match &args.class {
        Some(spec) => Target::Class(resolve_class(spec, &names)?),
        None => Target::Predicted,
    };

    let bytes = std::fs::read(&args.photo).with_context(|| format!("cannot read {}", args.photo.display()))?;
    let photo = decode(&bytes, DecodeLimits::default()).with_context(|| format!("{}", args.photo.display()))?;
    let fit = args.fit;
    let [height, width] = meta.input_size;
    let input = meta.input(&photo.rgb, fit);

    let shown = args.method.shown();
    let wants_cam = shown.iter().any(|m| m.needs().0);
    let wants_guided = shown.iter().any(|m| m.needs().1);
    let request = Request { layer: layer.cut, target, gradcam: wants_cam, guided_backprop: wants_guided };
    let data = explain(&model, Tensor::from_data(input, &device), request)?.read()?;

    println!("{}", args.photo.display());
    for (rank, (class, p)) in data.top_k(5).into_iter().enumerate() {
        println!("  {}. {:<22} {:>6.2}%", rank + 1, names[class], 100.0 * p);
    }
    println!("explaining `{}` at {layer}", names[data.class]);
    if let Some(note) = data.gradcam.as_ref().and_then(|cam| cam.blank_note(&names[data.class], &layer.name)) {
        println!("note: {note}");
    }

    if let Some(path) = &args.json {
        write_json(&data, &meta, &layer.name, path)?;
    }

    // Maps are drawn over what the model saw: the whole photo, or its centre crop.
    let view = render::display_view(&photo.rgb, fit, height, width, 1024);
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = args.photo.file_stem().and_then(|s| s.to_str()).unwrap_or("photo");
    let style = Style { cmap: args.cmap, upsampling: args.upsample };
    for method in shown {
        let rendering = render::picture(&data, method, view.width(), view.height(), style)
            .expect("the request computed what each shown method needs");
        let merged = overlay(&view, &rendering, args.alpha)?;
        let side = side_by_side(&[&view, &rendering, &merged]);
        for (kind, image) in [("overlay", &merged), ("side", &side)] {
            let path = args.out.join(format!("{stem}.{method}.{kind}.png"));
            save(image, &path)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// The numbers behind the pictures, for other tools (the browser tests compare against it).
fn write_json(data: &ExplanationData, meta: &ModelMetadata, layer: &str, path: &Path) -> Result<()> {
    let report = Report::new(data, meta, layer);
    // Its folder is made as `--out`'s is.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn save(image: &RgbImage, path: &Path) -> Result<()> {
    image.save(path).with_context(|| format!("cannot write {}", path.display()))
}
