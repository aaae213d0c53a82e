"""A study's zip: one CSV or JSONL file (at any depth) and the images its rows name, by paths
relative to it. Plain data, no Django.

A zip is a small upload that can unpack to a great deal: each member is read in chunks and
stopped at its limit (IMPORT_MAX_DATA_BYTES for the data file, MAX_IMAGE_BYTES for an image),
whatever size its header claims, so it never takes more memory than the limit. Images are
re-encoded without their metadata (annotation.core.images).
"""

import io
import posixpath
import zipfile
import zlib
from pathlib import PurePath
from typing import BinaryIO

from annotation.core import importing
from annotation.core.image_files import ImageFile
from annotation.core.importing import (
    DEFAULT_LIMITS,
    MAX_PROBLEMS,
    ImportLimits,
    ImportRejected,
    ImportRow,
    Problem,
    data_too_large,
    parse_study_file,
)

MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024  # uncompressed, all members together
READ_CHUNK = 1024 * 1024


def parse_study_archive(
    filename: str, content: bytes | BinaryIO, *, limits: ImportLimits = DEFAULT_LIMITS
) -> tuple[list[ImportRow], dict[str, ImageFile]]:
    """A zip of one CSV or JSONL file and the images its rows name: the rows, and each named
    image checked, keyed by the name the rows use. ImportRejected names every problem.
    `content` is the zip's bytes, or a seekable file holding them (read member by member)."""
    name = PurePath(filename).name
    archive, members, data_member = _open(name, content, limits)
    inner = f"{name}/{data_member.filename}"
    data = _read(archive, data_member, inner, limits.data_bytes)
    if data is None:
        raise ImportRejected([Problem(inner, None, None, data_too_large(limits.data_bytes))])
    rows = parse_study_file(data_member.filename, data, shown_as=inner, limits=limits)
    folder = posixpath.dirname(data_member.filename)
    by_path = {m.filename.replace("\\", "/"): m for m in members}
    images, problems = {}, []
    for row in rows:
        for image in row.images:
            if image in images:
                continue
            path = posixpath.normpath(posixpath.join(folder, image))
            member = by_path.get(path)
            if member is None or image.startswith("/") or path.startswith("../"):
                problems.append(Problem(inner, row.row, "images", f"{image!r} is not in the zip"))
                continue
            checked, problem = _check_image(archive, member, limits.image_pixels)
            if problem:
                problems.append(Problem(inner, row.row, "images", f"{image!r}: {problem}"))
                continue
            images[image] = checked
    if problems:
        raise ImportRejected(problems[:MAX_PROBLEMS])
    return rows, images


DATA_SUFFIXES = (".csv", ".jsonl", ".ndjson")


def check_study_archive(
    filename: str, file: BinaryIO, *, limits: ImportLimits = DEFAULT_LIMITS
) -> None:
    """What a zip's directory alone tells, checked before the zip is stored for a worker: one
    data file, and sizes within the limits (a bomb is refused here, unread). ImportRejected
    says what is wrong. The file is left at its start."""
    try:
        _open(PurePath(filename).name, file, limits)
    finally:
        file.seek(0)


def _open(
    name: str, content: bytes | BinaryIO, limits: ImportLimits
) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo], zipfile.ZipInfo]:
    """The zip, its members (clutter left out) and its data file, if its directory is within
    the limits. Nothing is unpacked here."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content) if isinstance(content, bytes) else content)
        members = [m for m in archive.infolist() if not m.is_dir() and not _is_clutter(m.filename)]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRejected([Problem(name, None, None, f"not a readable zip ({exc})")]) from None
    data_files = [m for m in members if PurePath(m.filename).suffix.lower() in DATA_SUFFIXES]
    if len(data_files) != 1:
        found = ", ".join(m.filename for m in data_files) or "none"
        message = f"a zip must hold exactly one .csv or .jsonl file (found: {found})"
        raise ImportRejected([Problem(name, None, None, message)])
    if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
        limit = MAX_ARCHIVE_BYTES // 1024**2
        raise ImportRejected([Problem(name, None, None, f"unpacks to more than {limit} MB")])
    data_member = data_files[0]
    if data_member.file_size > limits.data_bytes:
        # As its header says; reading it is held to that (a forged header fails its CRC).
        inner = f"{name}/{data_member.filename}"
        raise ImportRejected([Problem(inner, None, None, data_too_large(limits.data_bytes))])
    return archive, members, data_member


def unpacked_size(file: BinaryIO) -> int:
    """How many bytes a zip's members unpack to, as its directory says (reading a member stops
    there: zipfile holds each to the size its header gives), or 0 if it is not a readable zip.
    Reads only the directory at the end of the file; the file is left at its start."""
    try:
        with zipfile.ZipFile(file) as archive:
            return sum(m.file_size for m in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError):
        return 0
    finally:
        file.seek(0)


def _is_clutter(path: str) -> bool:
    # What archivers add on their own: macOS resource forks and hidden files.
    parts = PurePath(path).parts
    return any(part == "__MACOSX" or part.startswith(".") for part in parts)


def _read(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, shown: str, limit: int
) -> bytes | None:
    """A member's bytes, or None if it unpacks to more than `limit` bytes: read in chunks and
    stopped there, whatever size its header claims, so a small zip of a huge file (a zip bomb)
    never takes more than the limit of memory."""
    try:
        return _read_bounded(archive, member, limit)
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, zlib.error) as exc:
        raise ImportRejected([Problem(shown, None, None, f"cannot be read ({exc})")]) from None


def _read_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytes | None:
    if member.file_size > limit:
        return None
    data = bytearray()
    with archive.open(member) as stream:
        while chunk := stream.read(min(READ_CHUNK, limit + 1 - len(data))):
            data += chunk
            if len(data) > limit:
                return None
    return bytes(data)


def _check_image(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_pixels: int
) -> tuple[ImageFile, str]:
    too_large = f"larger than {importing.MAX_IMAGE_BYTES // 1024**2} MB"
    try:
        data = _read_bounded(archive, member, importing.MAX_IMAGE_BYTES)
    except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, zlib.error) as exc:
        return None, f"cannot be read from the zip ({exc})"
    if data is None:
        return None, too_large
    # Imported here: Pillow loads when an archive's images are cleaned, not in every web process
    # that imports the import service (issue 22).
    from annotation.core.images import clean_image

    return clean_image(member.filename, data, max_pixels=max_pixels)
