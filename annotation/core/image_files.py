"""An imported image as the app keeps it (`ImageFile`) and the types browsers are sent
(`IMAGE_TYPES`), as plain data: what serving and storing images needs, without Pillow, which
`images` uses to clean them on import."""

from dataclasses import dataclass

# What browsers show safely as <img>: no SVG, whose scripts would run on our origin.
IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # what many phone cameras write: a JPEG that browsers show as one
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


@dataclass(frozen=True)
class ImageFile:
    """An image from an archive, cleaned: its path in the zip, bytes, type and size."""

    name: str
    data: bytes
    content_type: str
    width: int
    height: int
