//! What an upload is, from its bytes: the media type is sniffed (a
//! client's `Content-Type` and file name are not believed), and an image
//! is measured and gets a small preview.
//!
//! Decoding is bounded: at most [`MAX_PREVIEW_PIXELS`] pixels and
//! [`MAX_DECODE_BYTES`] of decoder memory per image, and at most
//! [`CONCURRENT_DECODES`] images at once on the blocking pool, so the
//! memory of uploads does not grow with the size of files or the number
//! of uploaders (docs/benchmarks.md, "Attachments").

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chat_core::model::ImageInfo;
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, Rgb, RgbImage};
use tokio::sync::Semaphore;

/// The media types shown inline as images, measured and previewed.
pub const INLINE_IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The longer edge of a preview, in pixels (it keeps the image's shape).
pub const PREVIEW_EDGE: u32 = 320;

/// Images with more pixels than this are measured but get no preview.
pub const MAX_PREVIEW_PIXELS: u64 = 40_000_000;

/// The most memory one image's decoder may take.
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// Images decoded at once.
pub const CONCURRENT_DECODES: usize = 2;

/// The media type of a preview.
pub const PREVIEW_TYPE: &str = "image/jpeg";

/// What an upload's bytes say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// Its media type.
    pub content_type: String,
    /// An image's size (in pixels, as shown: after its own orientation).
    pub image: Option<ImageInfo>,
    /// An image's preview, JPEG.
    pub preview: Option<Vec<u8>>,
}

/// The media type of a file that starts with `head`: a known signature's
/// type, else `text/plain; charset=utf-8` for UTF-8 text without NUL,
/// else `application/octet-stream`.
pub fn content_type(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    if !head.is_empty() && is_text(head) {
        return "text/plain; charset=utf-8".to_owned();
    }
    "application/octet-stream".to_owned()
}

/// Whether `head` reads as UTF-8 text (its last character may be cut).
fn is_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

/// Inspects the spooled file at `path`, which starts with `head`. An
/// image that cannot be decoded keeps its sniffed type but is not
/// measured (clients show it as a file).
pub async fn inspect(path: PathBuf, head: Vec<u8>) -> Inspected {
    let content_type = content_type(&head);
    if !INLINE_IMAGE_TYPES.contains(&content_type.as_str()) {
        return Inspected {
            content_type,
            image: None,
            preview: None,
        };
    }
    let decodes = DECODES.get_or_init(|| Semaphore::new(CONCURRENT_DECODES));
    // Never closed: acquiring fails only on a closed semaphore.
    let _permit = decodes.acquire().await.ok();
    let measured = tokio::task::spawn_blocking(move || measure(&path)).await;
    match measured {
        Ok(Ok((image, preview))) => Inspected {
            content_type,
            image: Some(image),
            preview,
        },
        Ok(Err(e)) => {
            tracing::debug!(error = %e, %content_type, "an upload sniffed as an image does not decode");
            Inspected {
                content_type,
                image: None,
                preview: None,
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "measuring an image failed");
            Inspected {
                content_type,
                image: None,
                preview: None,
            }
        }
    }
}

static DECODES: OnceLock<Semaphore> = OnceLock::new();

/// An image's size as shown and, unless it is too large, its preview.
fn measure(path: &Path) -> image::ImageResult<(ImageInfo, Option<Vec<u8>>)> {
    let mut reader = ImageReader::new(BufReader::new(File::open(path)?)).with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(image::ImageError::Limits(
            image::error::LimitError::from_kind(image::error::LimitErrorKind::DimensionError),
        ));
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let turned = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (width, height) = if turned {
        (height, width)
    } else {
        (width, height)
    };
    let preview = if u64::from(width) * u64::from(height) <= MAX_PREVIEW_PIXELS {
        let mut image = DynamicImage::from_decoder(decoder)?;
        image.apply_orientation(orientation);
        Some(preview_of(&image)?)
    } else {
        None
    };
    let info = ImageInfo {
        width,
        height,
        has_preview: preview.is_some(),
    };
    Ok((info, preview))
}

/// A JPEG at most [`PREVIEW_EDGE`] on its longer side; transparency
/// shows as white.
fn preview_of(image: &DynamicImage) -> image::ImageResult<Vec<u8>> {
    let small = image.thumbnail(PREVIEW_EDGE, PREVIEW_EDGE).to_rgba8();
    let flat = RgbImage::from_fn(small.width(), small.height(), |x, y| {
        let [r, g, b, a] = small.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let (c, a) = (u16::from(c), u16::from(a));
            u8::try_from((c * a + 255 * (255 - a)) / 255).unwrap_or(u8::MAX)
        };
        Rgb([over_white(r), over_white(g), over_white(b)])
    });
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, 80).encode_image(&flat)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgba, RgbaImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbaImage::from_pixel(width, height, Rgba([200, 10, 10, 128]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    fn spooled(bytes: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), bytes).expect("write");
        file
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(content_type(&png(2, 2)), "image/png");
        assert_eq!(content_type(b"%PDF-1.7\n..."), "application/pdf");
        assert_eq!(
            content_type("héllo\n".as_bytes()),
            "text/plain; charset=utf-8"
        );
        // Cut inside a character: still text.
        assert_eq!(
            content_type(&"é".as_bytes()[..1]),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type(b"a\0b"), "application/octet-stream");
        assert_eq!(
            content_type(&[0xff, 0xfe, 0x00]),
            "application/octet-stream"
        );
        assert_eq!(content_type(b""), "application/octet-stream");
    }

    #[tokio::test]
    async fn an_image_is_measured_and_previewed_within_the_edge() {
        let bytes = png(800, 200);
        let file = spooled(&bytes);
        let seen = inspect(file.path().to_owned(), bytes).await;
        assert_eq!(seen.content_type, "image/png");
        assert_eq!(
            seen.image,
            Some(ImageInfo {
                width: 800,
                height: 200,
                has_preview: true
            })
        );
        let preview = seen.preview.expect("a preview");
        assert_eq!(content_type(&preview), PREVIEW_TYPE);
        let small = image::load_from_memory(&preview).expect("decodes");
        assert_eq!((small.width(), small.height()), (320, 80));
    }

    /// CRC-32 (ISO-HDLC), as PNG chunks carry it.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = u32::MAX;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[tokio::test]
    async fn a_huge_image_is_measured_but_never_decoded() {
        // A small file whose header claims 100,000 x 100,000 pixels: 40 GB
        // decoded. Only the header is read.
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&100_000_u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000_u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let file = spooled(&bytes);
        let seen = inspect(file.path().to_owned(), bytes).await;
        assert_eq!(
            seen.image,
            Some(ImageInfo {
                width: 100_000,
                height: 100_000,
                has_preview: false
            })
        );
        assert_eq!(seen.preview, None);
    }

    #[tokio::test]
    async fn a_broken_image_is_kept_as_a_file() {
        let mut bytes = png(50, 50);
        bytes.truncate(40);
        let file = spooled(&bytes);
        let seen = inspect(file.path().to_owned(), bytes).await;
        assert_eq!(seen.content_type, "image/png");
        assert_eq!(seen.image, None);
        assert_eq!(seen.preview, None);
    }
}
