//! Detecting a cut-short JPEG, which the decoder itself does not report.
//!
//! `image` runs zune-jpeg in its lenient mode, which fills whatever the file
//! lacks with grey and reports success: half a download would be classified
//! as a dog with a grey lower half. PIL refuses such files ("image file is
//! truncated"), even when only the final end-of-image marker is missing, and
//! so does this check.
//!
//! It walks the marker structure of the primary image instead of looking for
//! `FF D9` anywhere: an EXIF thumbnail carries its own end marker inside an
//! APP1 segment, and phones append further images (MPF) or trailers after the
//! primary one.

/// Whether the JPEG's primary image reaches its end-of-image marker.
pub(super) fn is_complete(bytes: &[u8]) -> bool {
    let mut i = 0;
    loop {
        // Next marker: 0xFF, optional 0xFF fill bytes, then the code.
        let Some(ff) = find_ff(bytes, i) else {
            return false;
        };
        i = ff + 1;
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&code) = bytes.get(i) else {
            return false;
        };
        i += 1;
        match code {
            0xD9 => return true,
            // Markers without a length: start of image, TEM, restarts; and a
            // stray 0x00 (lenient decoders skip junk between segments too).
            0x00 | 0x01 | 0xD0..=0xD8 => {}
            _ => {
                let Some(len) = bytes.get(i..i + 2) else {
                    return false;
                };
                i += usize::from(u16::from_be_bytes([len[0], len[1]]));
                if code == 0xDA {
                    // Start of scan: entropy-coded data follows the header.
                    match skip_entropy_data(bytes, i) {
                        Some(next_marker) => i = next_marker,
                        None => return false,
                    }
                }
            }
        }
    }
}

/// Position of the first 0xFF at or after `from`.
fn find_ff(bytes: &[u8], from: usize) -> Option<usize> {
    bytes.get(from..)?.iter().position(|&b| b == 0xFF).map(|p| from + p)
}

/// Skips entropy-coded data, where 0xFF appears only stuffed (`FF 00`), as a
/// restart marker (`FF D0`..`FF D7`) or as fill before the next marker;
/// returns the position of the 0xFF that starts the next real marker.
fn skip_entropy_data(bytes: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let ff = find_ff(bytes, i)?;
        match *bytes.get(ff + 1)? {
            0x00 | 0xD0..=0xD7 => i = ff + 2,
            0xFF => i = ff + 1,
            _ => return Some(ff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, an APP1 whose payload holds a complete mini "thumbnail"
    /// (FF D8 ... FF D9), a scan header and entropy data with stuffing and a
    /// restart marker, then optionally EOI and a trailer.
    fn synthetic(with_eoi: bool) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x08, 0xFF, 0xD8, 0x12, 0x34, 0xFF, 0xD9]);
        v.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02]);
        v.extend_from_slice(&[0x11, 0xFF, 0x00, 0x22, 0xFF, 0xD0, 0x33, 0xFF, 0xFF]);
        if with_eoi {
            v.extend_from_slice(&[0xD9, 0xAB, 0xCD]);
        }
        v
    }

    #[test]
    fn complete_file_with_trailer_is_complete() {
        assert!(is_complete(&synthetic(true)));
    }

    #[test]
    fn thumbnail_end_marker_does_not_count() {
        assert!(!is_complete(&synthetic(false)));
    }

    #[test]
    fn every_cut_of_a_real_progressive_jpeg_is_caught() {
        let bytes = include_bytes!("testdata/progressive.jpg");
        assert!(is_complete(bytes));
        for cut in [2, 100, bytes.len() / 2, bytes.len() - 2, bytes.len() - 1] {
            assert!(!is_complete(&bytes[..cut]), "cut at {cut}");
        }
    }

    #[test]
    fn fixtures_are_complete() {
        assert!(is_complete(include_bytes!("testdata/orient6.jpg")));
        assert!(is_complete(include_bytes!("testdata/cmyk.jpg")));
        assert!(is_complete(include_bytes!("testdata/ycck.jpg")));
    }

    #[test]
    fn garbage_is_not_complete() {
        assert!(!is_complete(&[]));
        assert!(!is_complete(&[0xFF]));
        assert!(!is_complete(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF]));
    }
}
