"""Images from an import, decoded and written again so that only their pixels are kept. Plain
data, no Django.

Files straight from a hospital's system or a camera carry text beside the pixels: EXIF (the
device, the date, sometimes a place), XMP, PNG text chunks and comments, where a patient's name
and record number or a model's name are often found. Raters see these images and vision models
are sent them, so none of it is kept: each image is decoded and encoded afresh in its own
format from its pixels alone.

- Orientation: the EXIF orientation is applied to the pixels before EXIF goes, so a photo taken
  sideways is shown as its viewer saw it.
- Colour: an embedded ICC profile is applied, converting the pixels to sRGB, and then dropped:
  browsers read untagged images as sRGB, so colours stay right and the profile's own text
  (device and vendor names) goes too. A profile that cannot be read is dropped unapplied.
- Animation: GIF and WebP animations keep every frame and its timing; a multi-picture JPEG
  (MPO, as phone cameras write) keeps its first picture, the one browsers show.
- Lossy formats are written at quality 95, which changes no detail a reader can see; PNG and
  GIF are lossless.
- Size: an image with more pixels than the limit (every frame counted) is refused before its
  pixels are decoded, as is anything Pillow itself takes for a decompression bomb.
"""

import io
import warnings

from PIL import Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError

from annotation.core.image_files import IMAGE_TYPES, ImageFile

SAVED_AS = {"MPO": "JPEG"}
LOSSY_QUALITY = 95
# Keys of Image.info that describe pixels rather than carry text: kept for the writer.
PIXEL_INFO = ("transparency", "duration")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def clean_image(name: str, data: bytes, *, max_pixels: int) -> tuple[ImageFile | None, str]:
    """The image re-encoded from its pixels alone, or None and why it is refused."""
    limit = f"the limit of {max_pixels:,} (IMPORT_MAX_IMAGE_PIXELS)"
    try:
        with warnings.catch_warnings():
            # Pillow warns, rather than refuses, between its limit and twice it.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                if kind not in IMAGE_TYPES:
                    return None, f"a {kind} image; use PNG, JPEG, GIF or WebP"
                frames = _frame_count(image, kind)
                width, height = image.size
                if width * height * frames > max_pixels:
                    pixels = f"{width}x{height} pixels" + (
                        f" in {frames} frames" if frames > 1 else ""
                    )
                    return None, f"{pixels}, more than {limit}"
                cleaned, (width, height) = _reencode(image, kind, frames)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None, f"more pixels than {limit} (a decompression bomb?)"
    except UnidentifiedImageError as exc:
        return None, f"not an image we can show ({exc.__class__.__name__})"
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        return None, f"a damaged image ({exc})"
    return ImageFile(name, cleaned, IMAGE_TYPES[kind], width, height), ""


def _frame_count(image: Image.Image, kind: str) -> int:
    if kind == "MPO":
        return 1  # only the first picture is kept
    return getattr(image, "n_frames", 1)


def _reencode(image: Image.Image, kind: str, frames: int) -> tuple[bytes, tuple[int, int]]:
    """The image's bytes written afresh, and its size as shown (turned upright)."""
    out = io.BytesIO()
    fmt = SAVED_AS.get(kind, kind)
    options = {"quality": LOSSY_QUALITY} if fmt in ("JPEG", "WEBP") else {}
    if frames == 1:
        if kind == "MPO":
            image.seek(0)
        still = _pixels_only(_upright(image))
        still.save(out, format=fmt, **options)
        return out.getvalue(), still.size
    loop = image.info.get("loop", 0)
    sequence = [_pixels_only(frame) for frame in ImageSequence.Iterator(image)]
    durations = [frame.info.get("duration", 100) for frame in sequence]
    sequence[0].save(
        out,
        format=fmt,
        save_all=True,
        append_images=sequence[1:],
        duration=durations,
        loop=loop,
        **options,
    )
    return out.getvalue(), image.size


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except (SyntaxError, ValueError, OSError, KeyError, TypeError):
        # EXIF a camera or a tool wrote wrongly: the pixels as stored, the EXIF dropped anyway.
        return image


def _pixels_only(image: Image.Image) -> Image.Image:
    """A copy holding pixels and nothing the writers would carry over (EXIF, XMP, text,
    comments, the ICC profile), in sRGB where a profile said otherwise."""
    icc = image.info.get("icc_profile")
    kept = {key: image.info[key] for key in PIXEL_INFO if key in image.info}
    copy = image.copy()
    if icc and copy.mode in ("RGB", "RGBA", "CMYK", "L"):
        copy = _to_srgb(copy, icc)
    copy.info = kept
    return copy


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    mode = "RGBA" if image.mode == "RGBA" else "RGB"
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        # An unreadable profile: the pixels as stored, which is what most viewers show.
        return image
