"""Images carry text beside their pixels (a patient's name and record number in a PNG text
chunk, a camera's EXIF, an XMP packet, a GIF comment). An admin imports them as a hospital's
system wrote them; raters and vision models must get the pixels alone. An image built to take
a worker's memory when decoded (a decompression bomb) is refused by name."""

import io
import struct
import zipfile
import zlib

import pytest
from django.urls import reverse
from PIL import Image, ImageCms, ImageSequence
from PIL.PngImagePlugin import PngInfo

from annotation import services
from annotation.core.importing import ImportRejected
from annotation.models import Assignment, Attachment

pytestmark = pytest.mark.django_db

PATIENT = "Patient: Jane Doe MRN 123"
# What each kind of metadata looks like in a file, besides the patient's name itself.
MARKERS = (b"Jane Doe", b"MRN 123", b"tEXt", b"iTXt", b"zTXt", b"Exif", b"ns.adobe.com/xap")


def png_with_text() -> bytes:
    info = PngInfo()
    info.add_text("Comment", PATIENT)
    info.add_itxt("Description", PATIENT)
    info.add_text("Author", PATIENT, zip=True)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_with_exif_and_xmp(*, size=(40, 20), orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = PATIENT  # ImageDescription
    exif[0x013B] = PATIENT  # Artist
    exif[0x0112] = orientation
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/" xmlns:ns="http://ns.adobe.com/xap/1.0/">{PATIENT}'
    image = Image.new("RGB", size, (30, 30, 200))
    # The left half red: after turning the image upright the red half is on top.
    image.paste((200, 30, 30), (0, 0, size[0] // 2, size[1]))
    buffer = io.BytesIO()
    image.save(
        buffer, format="JPEG", exif=exif, xmp=(xmp + "</x:xmpmeta>").encode(), comment=PATIENT
    )
    return buffer.getvalue()


def animated_gif_with_comment() -> bytes:
    colours = ((200, 0, 0), (0, 200, 0), (0, 0, 200))
    frames = [Image.new("RGB", (20, 20), colour) for colour in colours]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300],
        loop=0,
        comment=PATIENT,
    )
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels: a few bytes that would take gigabytes
    to decode."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def zipped(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def study_zip(images: dict[str, bytes]) -> bytes:
    names = "; ".join(images)
    rows = "case_id,input,source,output,images\n"
    rows += f'scan1,Any finding?,Model-A,No finding.,"{names}"\n'
    rows += "scan1,Any finding?,Model-B,A finding.,\n"
    return zipped({"cases.csv": rows, **images})


def upload(client, study, content: bytes, name: str = "scans.zip"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(name, content, content_type="application/zip")
    return client.post(reverse("study_import", args=[study.token]), {"file": file}, follow=True)


def rater_fetches_images(client, study, rater) -> list[bytes]:
    client.force_login(rater)
    assignment = Assignment.objects.filter(study=study, rater=rater).first()
    images = assignment.item.output.case.attachments.order_by("position")
    urls = [reverse("rater_image", args=[study.token, assignment.token, i.token]) for i in images]
    return [client.get(url).content for url in urls]


def test_a_patients_name_in_an_images_metadata_never_reaches_a_rater(
    client, draft_study, study_admin, raters
):
    originals = {
        "front.png": png_with_text(),
        "side.jpg": jpeg_with_exif_and_xmp(),
        "cine.gif": animated_gif_with_comment(),
    }
    for data in originals.values():
        assert b"Jane Doe" in data  # the attack's files do carry the name
    client.force_login(study_admin)
    upload(client, draft_study, study_zip(originals))
    services.study_open(study=draft_study)

    served = rater_fetches_images(client, draft_study, raters[0])
    assert len(served) == 3
    for data in served:
        for marker in MARKERS:
            assert marker not in data
    png, jpeg, gif = (Image.open(io.BytesIO(data)) for data in served)
    assert (png.format, png.size, png.getpixel((5, 5))) == ("PNG", (40, 30), (200, 30, 30))
    assert png.text == {}
    assert (jpeg.format, jpeg.size) == ("JPEG", (40, 20))
    assert not jpeg.getexif()
    assert "xmp" not in jpeg.info
    assert "comment" not in jpeg.info
    # The animation keeps its frames and their timing; only the comment is gone.
    assert gif.format == "GIF"
    assert "comment" not in gif.info
    durations = [frame.info["duration"] for frame in ImageSequence.Iterator(gif)]
    assert durations == [100, 200, 300]
    stored = Attachment.objects.order_by("position")
    assert [a.content_type for a in stored] == ["image/png", "image/jpeg", "image/gif"]


def test_an_image_taken_sideways_is_stored_upright_without_its_exif(draft_study):
    sideways = jpeg_with_exif_and_xmp(size=(40, 20), orientation=6)  # turn 90 degrees clockwise
    services.study_import_file(
        study=draft_study, filename="s.zip", content=study_zip({"side.jpg": sideways})
    )
    image = Attachment.objects.get()
    assert (image.width, image.height) == (20, 40)
    shown = Image.open(io.BytesIO(bytes(image.data)))
    assert shown.size == (20, 40)
    assert not shown.getexif()  # no orientation left to apply twice
    red, blue = shown.getpixel((10, 5)), shown.getpixel((10, 35))
    # The left (red) half is on top.
    assert red[0] > 150 > red[2]
    assert blue[2] > 150 > blue[0]


def test_an_icc_profile_is_applied_and_dropped(draft_study):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), (10, 120, 240)).save(buffer, format="PNG", icc_profile=profile)
    services.study_import_file(
        study=draft_study, filename="s.zip", content=study_zip({"p.png": buffer.getvalue()})
    )
    shown = Image.open(io.BytesIO(bytes(Attachment.objects.get().data)))
    assert "icc_profile" not in shown.info
    assert all(abs(a - b) <= 2 for a, b in zip(shown.getpixel((0, 0)), (10, 120, 240), strict=True))


def _refusal(study, content: bytes) -> str:
    with pytest.raises(ImportRejected) as caught:
        services.study_import_file(study=study, filename="s.zip", content=content)
    assert Attachment.objects.count() == 0
    return " | ".join(str(p) for p in caught.value.problems)


def test_a_decompression_bomb_is_refused_by_name(draft_study):
    bomb = png_bomb(100_000, 100_000)
    assert len(bomb) < 200
    problems = _refusal(draft_study, study_zip({"scans/bomb.png": bomb}))
    assert "s.zip/cases.csv, row 2, field 'images': 'scans/bomb.png': more pixels than" in problems
    assert "IMPORT_MAX_IMAGE_PIXELS" in problems


def test_an_image_over_the_pixel_limit_is_refused_by_name(draft_study, settings):
    settings.IMPORT_MAX_IMAGE_PIXELS = 1000
    problems = _refusal(draft_study, study_zip({"front.png": png_with_text()}))
    assert "'front.png': 40x30 pixels, more than the limit of 1,000 (IMPORT_MAX_IMAGE_PIXELS)" in (
        problems
    )
    settings.IMPORT_MAX_IMAGE_PIXELS = 1000
    problems = _refusal(draft_study, study_zip({"cine.gif": animated_gif_with_comment()}))
    assert "'cine.gif': 20x20 pixels in 3 frames, more than the limit of 1,000" in problems
