"""Case images: imported in a zip with the file that names them, checked, kept all or nothing,
and shown to the raters of that case only, under random tokens."""

import io
import json
import zipfile

import pytest
from django.urls import reverse
from PIL import Image
from rest_framework.authtoken.models import Token

from annotation import services
from annotation.core import importing
from annotation.core.importing import ImportRejected
from annotation.models import Assignment, Attachment, Case, Output

pytestmark = pytest.mark.django_db


def image_bytes(fmt: str = "PNG", size=(40, 30), colour=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def zipped(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


CSV = (
    "case_id,input,source,output,images\n"
    'xr1,Pneumothorax?,Model-A,No pneumothorax.,"chest/xr1-front.png; chest/xr1-side.jpg"\n'
    "xr1,Pneumothorax?,Model-B,Small apical pneumothorax.,\n"
    "xr2,Any fracture?,Model-A,No fracture.,chest/xr2.png\n"
    "xr2,Any fracture?,Model-B,Rib fracture.,chest/xr2.png\n"
)


def good_zip(csv_text: str = CSV) -> bytes:
    return zipped(
        {
            "study/cases.csv": csv_text,
            "study/chest/xr1-front.png": image_bytes(),
            "study/chest/xr1-side.jpg": image_bytes("JPEG", (64, 48)),
            "study/chest/xr2.png": image_bytes(size=(20, 50)),
            "__MACOSX/study/._cases.csv": b"resource fork",
        }
    )


def test_a_zip_brings_each_case_its_images_in_order(draft_study):
    summary = services.study_import_file(study=draft_study, filename="xr.zip", content=good_zip())
    assert (summary.cases_created, summary.outputs_created, summary.images_created) == (2, 4, 3)
    assert Case.objects.filter(study=draft_study).count() == 5  # three from the fixture
    first = Case.objects.get(study=draft_study, external_id="xr1")
    stored = list(first.attachments.values_list("position", "name", "content_type", "width"))
    assert stored == [
        (1, "study/chest/xr1-front.png", "image/png", 40),
        (2, "study/chest/xr1-side.jpg", "image/jpeg", 64),
    ]
    assert bytes(first.attachments.get(position=1).data) == image_bytes()
    again = services.study_import_file(study=draft_study, filename="xr.zip", content=good_zip())
    assert (again.cases_created, again.images_created, again.unchanged) == (0, 0, 4)
    assert Attachment.objects.count() == 3


def test_jsonl_names_images_as_a_list(draft_study):
    line = {"case_id": "v1", "input": "Q", "source": "M", "output": "A", "images": ["a.png"]}
    content = zipped({"cases.jsonl": json.dumps(line) + "\n", "a.png": image_bytes()})
    services.study_import_file(study=draft_study, filename="v.zip", content=content)
    assert Attachment.objects.get().name == "a.png"


def _rejected(study, filename: str, content: bytes) -> list[str]:
    """The problems named, after checking that nothing at all was written."""
    before = (Case.objects.count(), Output.objects.count(), Attachment.objects.count())
    with pytest.raises(ImportRejected) as caught:
        services.study_import_file(study=study, filename=filename, content=content)
    assert (Case.objects.count(), Output.objects.count(), Attachment.objects.count()) == before
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"c/cases.csv": CSV, "c/chest/xr1-front.png": image_bytes()},
            [
                "xr.zip/c/cases.csv, row 2, field 'images': 'chest/xr1-side.jpg' is not in the zip",
                "xr.zip/c/cases.csv, row 4, field 'images': 'chest/xr2.png' is not in the zip",
            ],
        ),
        (
            {
                "cases.csv": CSV,
                "chest/xr1-front.png": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                "chest/xr1-side.jpg": image_bytes("JPEG"),
                "chest/xr2.png": image_bytes()[:60],
            },
            [
                "xr.zip/cases.csv, row 2, field 'images': 'chest/xr1-front.png': "
                "not an image we can show (UnidentifiedImageError)",
                "xr.zip/cases.csv, row 4, field 'images': 'chest/xr2.png': a damaged image",
            ],
        ),
        (
            {"a.csv": CSV, "b.jsonl": "{}"},
            ["xr.zip: a zip must hold exactly one .csv or .jsonl file (found: a.csv, b.jsonl)"],
        ),
        ({"notes.txt": "hello"}, ["xr.zip: a zip must hold exactly one .csv or .jsonl file"]),
        (
            {
                "c/cases.csv": CSV.replace("chest/xr2.png", "../../secret.png").replace(
                    "chest/xr1-side.jpg", "/c/chest/xr1-front.png"
                ),
                "c/chest/xr1-front.png": image_bytes(),
                "secret.png": image_bytes(),
            },
            [
                "row 2, field 'images': '/c/chest/xr1-front.png' is not in the zip",
                "row 4, field 'images': '../../secret.png' is not in the zip",
            ],
        ),
    ],
    ids=["missing", "not-an-image-and-damaged", "two-files", "no-file", "outside-the-folder"],
)
def test_a_bad_zip_is_rejected_whole_naming_file_row_and_field(draft_study, files, expected):
    problems = " | ".join(_rejected(draft_study, "xr.zip", zipped(files)))
    for fragment in expected:
        assert fragment in problems


def test_an_image_too_large_or_a_gif_animation_of_the_wrong_type_is_named(draft_study, monkeypatch):
    monkeypatch.setattr(importing, "MAX_IMAGE_BYTES", 100)
    problems = _rejected(draft_study, "xr.zip", good_zip())
    assert any("'chest/xr1-front.png': larger than" in p for p in problems)
    monkeypatch.undo()
    bmp = zipped({"cases.csv": "case_id,input,images\nb1,Q,x.bmp\n", "x.bmp": image_bytes("BMP")})
    assert "a BMP image; use PNG, JPEG, GIF or WebP" in _rejected(draft_study, "b.zip", bmp)[0]


def test_a_phone_cameras_mpo_jpeg_and_windows_paths_are_accepted(draft_study):
    buffer = io.BytesIO()
    frames = [Image.new("RGB", (30, 20), c) for c in ((1, 2, 3), (4, 5, 6))]
    frames[0].save(buffer, format="MPO", save_all=True, append_images=frames[1:])
    content = zipped(
        {
            "cases.csv": "case_id,input,images\np1,Q,photos\\p1.jpg\n",
            "photos/p1.jpg": buffer.getvalue(),
        }
    )
    services.study_import_file(study=draft_study, filename="p.zip", content=content)
    assert Attachment.objects.get().content_type == "image/jpeg"


def test_not_a_zip_and_images_outside_a_zip_are_refused(draft_study):
    assert "not a readable zip" in _rejected(draft_study, "xr.zip", b"PK\x03\x04broken")[0]
    problems = _rejected(draft_study, "cases.csv", CSV.encode())
    assert problems[0] == (
        "cases.csv, row 2, field 'images': images come in a zip with the file that names them; "
        "upload the zip"
    )


def test_rows_of_a_case_must_name_the_same_images(draft_study):
    text = CSV.replace(
        "xr2,Any fracture?,Model-B,Rib fracture.,chest/xr2.png",
        "xr2,Any fracture?,Model-B,Rib fracture.,chest/xr1-front.png",
    )
    problems = _rejected(draft_study, "xr.zip", good_zip(text))
    assert problems == [
        "xr.zip/study/cases.csv, row 5, field 'images': differs from row 4 for the same case_id"
    ]


def test_a_case_already_imported_with_other_images_is_refused(draft_study):
    services.study_import_file(study=draft_study, filename="xr.zip", content=good_zip())
    text = CSV.replace("chest/xr2.png", "chest/xr1-front.png")
    problems = _rejected(draft_study, "xr.zip", good_zip(text))
    assert "differs from the images stored for case 'xr2'" in problems[0]


@pytest.fixture
def image_study(draft_study, raters):
    # The image names carry a source's name: they must never reach a rater.
    text = CSV.replace("xr1-front", "Model-B-front")
    content = zipped(
        {
            "study/cases.csv": text,
            "study/chest/Model-B-front.png": image_bytes(),
            "study/chest/xr1-side.jpg": image_bytes("JPEG", (64, 48)),
            "study/chest/xr2.png": image_bytes(size=(20, 50)),
        }
    )
    services.study_import_file(study=draft_study, filename="xr.zip", content=content)
    services.study_open(study=draft_study)
    return draft_study


def test_raters_see_their_cases_images_by_token_and_nothing_else(client, image_study, raters):
    rater = raters[0]
    client.force_login(rater)
    assignment = Assignment.objects.filter(study=image_study, rater=rater).first()
    case = assignment.item.output.case
    page = client.get(reverse("rater_item", args=[image_study.token, assignment.token]))
    body = page.content.decode()
    images = list(case.attachments.all())
    for image in images:
        url = reverse("rater_image", args=[image_study.token, assignment.token, image.token])
        assert f'src="{url}"' in body
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == image.content_type
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.content == bytes(image.data)
        assert "Model" not in response["Content-Disposition"]
    assert "Model-B-front" not in body
    assert "chest/" not in body

    other_case = Attachment.objects.exclude(case=case).first()
    wrong = reverse("rater_image", args=[image_study.token, assignment.token, other_case.token])
    assert client.get(wrong).status_code == 404
    theirs = Assignment.objects.filter(study=image_study, item=assignment.item).exclude(rater=rater)
    for other in theirs:
        url = reverse("rater_image", args=[image_study.token, other.token, images[0].token])
        assert client.get(url).status_code == 404
    client.logout()
    url = reverse("rater_image", args=[image_study.token, assignment.token, images[0].token])
    assert client.get(url).status_code == 302  # to the log-in page


def test_the_rater_api_gives_each_image_an_address_a_token_fetches(client, image_study, raters):
    rater = raters[0]
    token = Token.objects.create(user=rater).key
    headers = {"Authorization": f"Token {token}"}
    assignment = Assignment.objects.filter(study=image_study, rater=rater).first()
    item_url = f"/api/v1/rate/{image_study.token}/items/{assignment.token}/"
    item = client.get(item_url, headers=headers).json()
    images = list(assignment.item.output.case.attachments.all())
    assert images, "the fixture gives every case an image"
    assert [shown["number"] for shown in item["images"]] == [image.position for image in images]
    for shown, image in zip(item["images"], images, strict=True):
        response = client.get(shown["url"], headers=headers, HTTP_ACCEPT="image/*")
        assert response.status_code == 200
        assert response["Content-Type"] == image.content_type
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.content == bytes(image.data)
        assert "Model" not in response["Content-Disposition"]
    assert "Model-B-front" not in json.dumps(item)

    other_case = Attachment.objects.exclude(case=assignment.item.output.case).first()
    wrong = f"{item_url}images/{other_case.token}/"
    refused = client.get(wrong, headers=headers)
    assert refused.status_code == 404
    assert refused.json() == {"detail": "No such image."}
    theirs = Assignment.objects.filter(study=image_study, item=assignment.item).exclude(rater=rater)
    for other in theirs:
        url = f"/api/v1/rate/{image_study.token}/items/{other.token}/images/{images[0].token}/"
        assert client.get(url, headers=headers).status_code == 404
    assert client.get(item["images"][0]["url"]).status_code == 401
