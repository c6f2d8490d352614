//! `trainer explain PHOTO`: the top-5 breeds and the explanation PNGs for one photo.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor};
use image::RgbImage;
use image::imageops::FilterType;
use woofcam::explain::{ExplanationData, Request, Target, Upsampling, explain, guided_gradcam, resolve_class};
use woofcam::image::{Colormap, DecodeLimits, Fit, colorize, decode, overlay, side_by_side};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    Gradcam,
    GuidedBackprop,
    GuidedGradcam,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FitArg {
    /// Resize the whole photo to the model's input, ignoring its aspect ratio.
    Squish,
    /// Scale the short side, then cut out the centre.
    Crop,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UpsampleArg {
    Bilinear,
    Smooth,
}

#[derive(clap::Args)]
pub struct Args {
    /// The photo to explain (JPEG, PNG, WebP, GIF, BMP or TIFF).
    photo: PathBuf,
    /// Exported weights (`NAME.bpk`, with `NAME.json` beside it).
    #[arg(long)]
    weights: PathBuf,
    /// Layer for Grad-CAM: a name (`layer3`, `layer4.2`) or a fastai path (`[0,-2]`). See `trainer arch`.
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
    #[arg(long, value_enum, default_value_t = FitArg::Squish)]
    fit: FitArg,
    #[arg(long, value_enum, default_value_t = UpsampleArg::Bilinear)]
    upsample: UpsampleArg,
    /// Folder for the PNGs (created if missing).
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    if !(0.0..=1.0).contains(&args.alpha) {
        bail!("--alpha must be between 0 and 1, got {}", args.alpha);
    }
    let device = Device::flex();
    let (model, meta) = crate::model_file::load(&args.weights, &device)?;
    let layer = model.layer(&args.layer)?;
    let names = meta.class_names();
    let target = match &args.class {
        Some(spec) => Target::Class(resolve_class(spec, &names)?),
        None => Target::Predicted,
    };

    let bytes = std::fs::read(&args.photo).with_context(|| format!("cannot read {}", args.photo.display()))?;
    let photo = decode(&bytes, DecodeLimits::default()).with_context(|| format!("{}", args.photo.display()))?;
    let fit = match args.fit {
        FitArg::Squish => Fit::Squish,
        FitArg::Crop => Fit::CenterCrop,
    };
    let [height, width] = meta.input_size;
    let input = meta.input(&photo.rgb, fit);

    let wants_cam = args.method != Method::GuidedBackprop;
    let wants_guided = matches!(args.method, Method::GuidedBackprop | Method::GuidedGradcam | Method::All);
    let request = Request { layer: layer.cut, target, gradcam: wants_cam, guided_backprop: wants_guided };
    let data = explain(&model, Tensor::from_data(input, &device), request)?.read()?;

    println!("{}", args.photo.display());
    for (rank, (class, p)) in data.top_k(5).into_iter().enumerate() {
        println!("  {}. {:<22} {:>6.2}%", rank + 1, names[class], 100.0 * p);
    }
    println!("explaining `{}` at {layer}", names[data.class]);

    // Maps are drawn over what the model saw: the whole photo, or its centre crop.
    let shown = display_view(&photo.rgb, fit, height, width);
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let stem = args.photo.file_stem().and_then(|s| s.to_str()).unwrap_or("photo");
    let upsampling = match args.upsample {
        UpsampleArg::Bilinear => Upsampling::Bilinear,
        UpsampleArg::Smooth => Upsampling::Smooth,
    };
    for (method, rendering) in renderings(&data, &shown, args.method, args.cmap, upsampling) {
        let merged = overlay(&shown, &rendering, args.alpha)?;
        let side = side_by_side(&[&shown, &rendering, &merged]);
        for (kind, image) in [("overlay", &merged), ("side", &side)] {
            let path = args.out.join(format!("{stem}.{method}.{kind}.png"));
            save(image, &path)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Each requested method's picture at the size of `shown`.
fn renderings(
    data: &ExplanationData,
    shown: &RgbImage,
    method: Method,
    cmap: Colormap,
    upsampling: Upsampling,
) -> Vec<(&'static str, RgbImage)> {
    let (w, h) = shown.dimensions();
    let fit = |image: RgbImage| image::imageops::resize(&image, w, h, FilterType::Triangle);
    let mut out = Vec::new();
    if let Some(cam) = &data.gradcam
        && matches!(method, Method::Gradcam | Method::All)
    {
        out.push(("gradcam", colorize(&cam.heatmap(h as usize, w as usize, upsampling), cmap)));
    }
    if let Some(guided) = &data.guided_backprop {
        if matches!(method, Method::GuidedBackprop | Method::All) {
            out.push(("guided-backprop", fit(guided.to_rgb())));
        }
        if let Some(cam) = &data.gradcam
            && matches!(method, Method::GuidedGradcam | Method::All)
        {
            out.push(("guided-gradcam", fit(guided_gradcam(cam, guided).to_rgb_min_max())));
        }
    }
    out
}

/// The part of the photo the model saw, at most 1024 px on its long side.
fn display_view(photo: &RgbImage, fit: Fit, height: usize, width: usize) -> RgbImage {
    let (pw, ph) = photo.dimensions();
    let view = match fit {
        Fit::Squish => photo.clone(),
        Fit::CenterCrop => {
            // The largest centred region with the model input's aspect ratio.
            let scale = (pw as f64 / width as f64).min(ph as f64 / height as f64);
            let (cw, ch) = ((width as f64 * scale) as u32, (height as f64 * scale) as u32);
            image::imageops::crop_imm(photo, (pw - cw) / 2, (ph - ch) / 2, cw, ch).to_image()
        }
    };
    let (vw, vh) = view.dimensions();
    let long = vw.max(vh);
    if long <= 1024 {
        return view;
    }
    let scale = 1024.0 / long as f64;
    image::imageops::resize(
        &view,
        ((vw as f64 * scale) as u32).max(1),
        ((vh as f64 * scale) as u32).max(1),
        FilterType::Triangle,
    )
}

fn save(image: &RgbImage, path: &Path) -> Result<()> {
    image.save(path).with_context(|| format!("cannot write {}", path.display()))
}
