//! Colour maps turning a [0, 1] heat map into colours.
//!
//! Magma and viridis come from `colorous` (the matplotlib tables as published
//! by d3-scale-chromatic): perceptually uniform, so equal steps in attention
//! look like equal steps in colour, and readable by colour-blind users. Jet
//! is here because the Grad-CAM paper and most tutorials use it, so users
//! can compare; it is matplotlib's piecewise-linear `_jet_data`, evaluated
//! continuously (matplotlib's 256-entry table differs by up to two levels).

use std::str::FromStr;

use ::image::{Rgb, RgbImage};

use super::ImageError;
use super::map::Map;
use crate::names::names;

/// A colour map for heat maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Colormap {
    /// Black through purple and orange to pale yellow; the default because
    /// the hot regions read as light on a dark background.
    #[default]
    Magma,
    /// Dark blue through green to yellow.
    Viridis,
    /// Blue through cyan, yellow to red: the classic Grad-CAM look.
    Jet,
    /// Black to white.
    Grey,
}

names!(Colormap { Magma => "magma", Viridis => "viridis", Jet => "jet", Grey => "grey" });

impl Colormap {
    /// The colour for `t` in [0, 1]; values outside are clamped and NaN is
    /// treated as 0, so an overshooting bicubic map still renders.
    pub fn rgb(&self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        match self {
            Colormap::Magma => from_colorous(colorous::MAGMA, t),
            Colormap::Viridis => from_colorous(colorous::VIRIDIS, t),
            Colormap::Jet => jet(t),
            Colormap::Grey => [to_byte(t); 3],
        }
    }
}

impl FromStr for Colormap {
    type Err = ImageError;

    /// Accepts the [`name`](Colormap::name)s in any case, and "gray" for grey.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        let wanted = if wanted == "gray" { "grey" } else { &wanted };
        Colormap::from_name(wanted).ok_or_else(|| ImageError::UnknownColormap { name: s.to_owned() })
    }
}

/// Colours every value of `map` (expected in [0, 1], e.g. from
/// [`Map::min_max_scaled`]); the image has the map's size.
pub fn colorize(map: &Map, cmap: Colormap) -> RgbImage {
    RgbImage::from_fn(map.width as u32, map.height as u32, |x, y| {
        Rgb(cmap.rgb(map.value_at(y as usize, x as usize).unwrap_or(0.0)))
    })
}

fn from_colorous(gradient: colorous::Gradient, t: f32) -> [u8; 3] {
    let c = gradient.eval_continuous(f64::from(t));
    [c.r, c.g, c.b]
}

/// matplotlib's `_jet_data`: per channel, (x, value) breakpoints joined by
/// straight lines.
fn jet(t: f32) -> [u8; 3] {
    const RED: &[(f32, f32)] = &[(0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)];
    const GREEN: &[(f32, f32)] = &[(0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)];
    const BLUE: &[(f32, f32)] = &[(0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)];
    [RED, GREEN, BLUE].map(|points| to_byte(piecewise_linear(points, t)))
}

/// Linear interpolation between sorted breakpoints; `t` is already in [0, 1]
/// and the tables span exactly [0, 1].
fn piecewise_linear(points: &[(f32, f32)], t: f32) -> f32 {
    points.windows(2).find(|pair| t <= pair[1].0).map_or(0.0, |pair| {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        y0 + (y1 - y0) * (t - x0) / (x1 - x0)
    })
}

/// [0, 1] to a byte, rounding to nearest (colour maps and the Guided Backprop picture).
pub(super) fn to_byte(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Colormap::ALL {
            assert_eq!(c.to_string().parse::<Colormap>(), Ok(c));
        }
        assert_eq!("Gray".parse::<Colormap>(), Ok(Colormap::Grey));
        assert_eq!(" JET ".parse::<Colormap>(), Ok(Colormap::Jet));
        assert_eq!(Colormap::default(), Colormap::Magma);
    }

    #[test]
    fn unknown_name_lists_the_choices() {
        let err = "rainbow".parse::<Colormap>().unwrap_err();
        assert_eq!(err.to_string(), "unknown colour map \"rainbow\"; choose one of magma, viridis, jet, grey");
    }

    #[test]
    fn magma_and_viridis_ends_match_matplotlib() {
        // First and last entries of matplotlib's tables (#000004, #fcfdbf; #440154, #fde725).
        assert_eq!(Colormap::Magma.rgb(0.0), [0x00, 0x00, 0x04]);
        assert_eq!(Colormap::Magma.rgb(1.0), [0xfc, 0xfd, 0xbf]);
        assert_eq!(Colormap::Viridis.rgb(0.0), [0x44, 0x01, 0x54]);
        assert_eq!(Colormap::Viridis.rgb(1.0), [0xfd, 0xe7, 0x25]);
        // Middle of viridis is the teal #21918c (matplotlib entry 128 of 256).
        let [r, g, b] = Colormap::Viridis.rgb(0.5);
        assert!(r.abs_diff(0x21) <= 1 && g.abs_diff(0x91) <= 1 && b.abs_diff(0x8c) <= 1, "{r} {g} {b}");
    }

    #[test]
    fn jet_follows_matplotlib_breakpoints() {
        assert_eq!(Colormap::Jet.rgb(0.0), [0, 0, 128]); // blue starts at 0.5
        assert_eq!(Colormap::Jet.rgb(0.11), [0, 0, 255]); // blue breakpoint
        // green halfway up its 0.125..0.375 ramp
        assert_eq!(Colormap::Jet.rgb(0.25), [0, 128, 255]);
        // red and blue both 0.15/0.31 = 0.4839 along their ramps (matplotlib's
        // table gives [125, 255, 121] from the nearest entry, x = 128/255)
        assert_eq!(Colormap::Jet.rgb(0.5), [123, 255, 123]);
        assert_eq!(Colormap::Jet.rgb(1.0), [128, 0, 0]); // red ends at 0.5
    }

    #[test]
    fn grey_is_linear() {
        assert_eq!(Colormap::Grey.rgb(0.0), [0; 3]);
        assert_eq!(Colormap::Grey.rgb(0.5), [128; 3]);
        assert_eq!(Colormap::Grey.rgb(1.0), [255; 3]);
    }

    #[test]
    fn out_of_range_and_nan_are_safe() {
        for c in Colormap::ALL {
            assert_eq!(c.rgb(-3.0), c.rgb(0.0), "{c}");
            assert_eq!(c.rgb(7.0), c.rgb(1.0), "{c}");
            assert_eq!(c.rgb(f32::NAN), c.rgb(0.0), "{c}");
        }
    }

    #[test]
    fn colorize_maps_every_pixel() {
        let map = Map::new(2, 3, vec![0.0, 0.5, 1.0, 1.0, 0.5, 0.0]).unwrap();
        let img = colorize(&map, Colormap::Grey);
        assert_eq!(img.dimensions(), (3, 2));
        assert_eq!(img.get_pixel(2, 0).0, [255; 3]);
        assert_eq!(img.get_pixel(1, 1).0, [128; 3]);
        assert_eq!(img.get_pixel(2, 1).0, [0; 3]);
        assert_eq!(colorize(&map, Colormap::Magma).get_pixel(0, 0).0, [0, 0, 4]);
    }
}
