"""preprocess() gives bit-identical 28x28 inputs to the ones it gave before its speed-ups (issue 25).

`cases()` builds 90 images deterministically with Pillow: digits drawn as polylines with thin
and thick strokes, small and large, off-centre, dark on light and light on dark, as L, RGB, RGBA with
transparency, palette, PNG and JPEG, with and without an EXIF orientation, WebP, GIF and BMP, an
orientation given by XMP, plus the page's sample PNG and an image preprocess refuses. DIGESTS holds,
for each, the SHA-256 of the float32 input preprocess gave at ecac3c2 (before any speed-up), or the
code of the PreprocessError it raised.

The digests depend on Pillow's encoders and resampling (Pillow 13.0 when recorded): after a Pillow
upgrade that changes them, check the new inputs some other way (eval_rendered, the page's browser
test) before recording them again with
    python -m tests.unit.test_preprocess_equivalence
"""

import hashlib
import io
from importlib import resources

import numpy as np
import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from mnist_mlp.data.imaging.preprocess import PreprocessError, preprocess

# Each digit as polylines in a unit square (x right, y down).
DIGITS = {
    0: [
        [
            (0.5, 0.1),
            (0.75, 0.25),
            (0.8, 0.5),
            (0.75, 0.75),
            (0.5, 0.9),
            (0.25, 0.75),
            (0.2, 0.5),
            (0.25, 0.25),
            (0.5, 0.1),
        ]
    ],
    1: [[(0.4, 0.25), (0.55, 0.1), (0.55, 0.9)]],
    2: [[(0.25, 0.3), (0.4, 0.12), (0.65, 0.12), (0.75, 0.3), (0.7, 0.5), (0.25, 0.88), (0.8, 0.88)]],
    3: [[(0.25, 0.15), (0.7, 0.15), (0.45, 0.45), (0.7, 0.6), (0.7, 0.8), (0.5, 0.9), (0.25, 0.82)]],
    4: [[(0.6, 0.9), (0.6, 0.1), (0.2, 0.65), (0.8, 0.65)]],
    5: [
        [
            (0.75, 0.12),
            (0.3, 0.12),
            (0.27, 0.45),
            (0.6, 0.42),
            (0.75, 0.6),
            (0.7, 0.82),
            (0.45, 0.9),
            (0.25, 0.82),
        ]
    ],
    6: [
        [
            (0.7, 0.12),
            (0.4, 0.3),
            (0.27, 0.6),
            (0.35, 0.85),
            (0.6, 0.88),
            (0.72, 0.7),
            (0.6, 0.52),
            (0.3, 0.58),
        ]
    ],
    7: [[(0.2, 0.12), (0.8, 0.12), (0.45, 0.9)]],
    8: [
        [
            (0.5, 0.5),
            (0.3, 0.3),
            (0.5, 0.1),
            (0.7, 0.3),
            (0.5, 0.5),
            (0.25, 0.7),
            (0.5, 0.9),
            (0.75, 0.7),
            (0.5, 0.5),
        ]
    ],
    9: [[(0.7, 0.45), (0.45, 0.52), (0.3, 0.35), (0.45, 0.12), (0.7, 0.2), (0.7, 0.45), (0.6, 0.9)]],
}
EXIF_ORIENTATION = 0x0112


def drawn(digit, side, stroke, box=None, canvas=None, ink=0, paper=255):
    """uint8 "L" image of `digit`: drawn in `box` (left, top, size; the whole canvas by default)."""
    width, height = canvas or (side, side)
    left, top, size = box or (0, 0, side)
    image = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(image)
    for line in DIGITS[digit]:
        draw.line([(left + x * size, top + y * size) for x, y in line], fill=ink, width=stroke, joint="curve")
    return image


def encode(image, fmt="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def with_orientation(orientation):
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    return exif


def cases():
    """[(name, encoded image bytes)], the same on every run."""
    out = []
    for d in range(10):
        # thin pen on a mid-sized page, dark on light, grayscale PNG
        out.append((f"{d}-thin-L-png", encode(drawn(d, 112, 4, box=(16, 16, 80)))))
        # a marker on a dark page, RGB PNG
        thick = drawn(d, 140, 22, box=(20, 20, 100), ink=255, paper=0).convert("RGB")
        out.append((f"{d}-thick-inverted-rgb-png", encode(thick)))
        # small and off-centre on a large page
        out.append((f"{d}-small-offcentre-png", encode(drawn(d, 0, 2, box=(150, 20, 24), canvas=(220, 180)))))
        # black strokes on a transparent page, as a canvas exports them
        mask = drawn(d, 96, 8, box=(8, 8, 80), ink=255, paper=0)
        rgba = Image.new("RGBA", mask.size, (0, 0, 0, 0))
        rgba.putalpha(mask)
        out.append((f"{d}-rgba-transparent-png", encode(rgba)))
        # JPEG, every other one turned by its EXIF orientation
        photo = drawn(d, 160, 10, box=(30, 25, 110)).convert("RGB")
        if d % 2:
            out.append(
                (
                    f"{d}-jpeg-exif6",
                    encode(photo.rotate(90, expand=True), "JPEG", quality=80, exif=with_orientation(6)),
                )
            )
        else:
            out.append((f"{d}-jpeg", encode(photo, "JPEG", quality=80)))
        # palette PNG with a transparent index, and a PNG with an EXIF orientation chunk
        palette = drawn(d, 64, 6, box=(6, 6, 52)).convert("P")
        if d % 3 == 0:
            out.append((f"{d}-palette-transparency-png", encode(palette, transparency=255)))
        elif d % 3 == 1:
            out.append((f"{d}-png-exif3", encode(palette.rotate(180), exif=with_orientation(3))))
        else:
            out.append((f"{d}-palette-png", encode(palette)))
        # a large photo-like JPEG: bold strokes, light on dark, low quality
        big = drawn(d, 420, 45, box=(60, 40, 300), ink=230, paper=30).convert("RGB")
        out.append((f"{d}-large-bold-jpeg", encode(big, "JPEG", quality=60)))
        # the page's export size: 56x56 RGB PNG, anti-aliased by drawing large and reducing
        page = drawn(d, 224, 16, box=(20, 20, 184)).resize((56, 56), Image.Resampling.BOX).convert("RGB")
        out.append((f"{d}-page56-rgb-png", encode(page)))
    sample = resources.files("mnist_mlp.scripts").joinpath("samples", "page-digit.png").read_bytes()
    out.append(("page-digit-sample-png", sample))
    out.append(("blank-png", encode(Image.new("L", (64, 64), 255))))
    dot = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(dot).ellipse((28, 28, 36, 36), fill=0)
    out.append(("dot-png", encode(dot)))
    out.append(("gray-la-png", encode(drawn(3, 80, 7, box=(10, 10, 60)).convert("LA"))))
    # the other accepted formats, and an orientation given by XMP instead of EXIF
    four = drawn(4, 90, 8, box=(10, 10, 70))
    out.append(
        (
            "4-webp-exif6",
            encode(four.rotate(90, expand=True), "WEBP", lossless=True, exif=with_orientation(6)),
        )
    )
    out.append(("4-webp-xmp3", encode(four.rotate(180), "WEBP", quality=80, xmp=xmp(3))))
    out.append(
        ("4-jpeg-xmp6", encode(four.rotate(90, expand=True).convert("RGB"), "JPEG", quality=85, xmp=xmp(6)))
    )
    png_xmp = PngImagePlugin.PngInfo()
    png_xmp.add_itxt("XML:com.adobe.xmp", xmp(8).decode())
    out.append(("4-png-xmp8", encode(four.rotate(-90, expand=True), pnginfo=png_xmp)))
    out.append(("4-gif", encode(four.convert("P"), "GIF")))
    out.append(("4-bmp", encode(four, "BMP")))
    return out


def xmp(orientation):
    return f'<x:xmpmeta><rdf:Description tiff:Orientation="{orientation}"/></x:xmpmeta>'.encode()


def digest(image_bytes):
    """SHA-256 of the float32 input, or "error:<code>" for a refused image."""
    try:
        x = preprocess(image_bytes)
    except PreprocessError as exc:
        return f"error:{exc.code}"
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.float32).tobytes()).hexdigest()


DIGESTS = {
    "0-thin-L-png": "461f2139636c5c114887312f0728e483c3ee630e3268d6cb62c5e326d2c6a7d5",
    "0-thick-inverted-rgb-png": "797c1d47400ae98690a07c3631f040478c58d45b65bfed7e040c71dd8342f654",
    "0-small-offcentre-png": "4b613eb26e7317a1ded0e282af4b9679e5412de2e09e226d1280a794dbb435ad",
    "0-rgba-transparent-png": "e3ab8a7fe6a8af019e1b48bb0bf82d15caacf47a0dfc2b7271b3ac06ea7872cf",
    "0-jpeg": "4a316b9e0cc4791ffde093077bbe571b50e76098eec579f2e91a00116e722343",
    "0-palette-transparency-png": "ae3419a72d62fc5afb5375bb320b9fbc00521f1b4e01d4594edf1cbe1834aa85",
    "0-large-bold-jpeg": "ca6a7d7ff397875dca2dfda3fbd39940124145100a3c45ec2331dfcbb4599b88",
    "0-page56-rgb-png": "9abaab3ddf63329ad9e3f371b432493486a250c077109594a72ae75421a1a570",
    "1-thin-L-png": "334648fa756876a3785f7238672e4094b389cbe78543f0448340e478c86a214b",
    "1-thick-inverted-rgb-png": "15a47caedb65a886c9c214314cdbaeedc42f239fe0376db09ac242035a0ab603",
    "1-small-offcentre-png": "24b61b612b3a8f40b97f65880764a536b9a4f9a1fdb9dd6c45a5b37b9faf27c7",
    "1-rgba-transparent-png": "ba72259fa09fec3a263620efb9c2426ebad464ad4126dfba4b1cc6fb9370ccc1",
    "1-jpeg-exif6": "38d94f567f77410f666d1cf639dddb954198952e6bc54e5a1e6fae11fbf26b2e",
    "1-png-exif3": "ebddb9fc15a5b33f50bd27e433a3b96c7fad9f0bdcdf55f6caf521371c9f8324",
    "1-large-bold-jpeg": "68e036e74d2f140a2b28426ce35f192617bffb28cdbc73dbe9bdf795e808963c",
    "1-page56-rgb-png": "55b8e287d8e17f123b9cea39629c715e296f0e700b83f77326860f61c1af9296",
    "2-thin-L-png": "dc8398ce5414418184b5ce5da369b89531352b8a8d587f634e775f932e05d49d",
    "2-thick-inverted-rgb-png": "f4d289672d4ddb0d9ce66e906a7eedbd338cc4dde125fb871322367b6d90dcd9",
    "2-small-offcentre-png": "b8199eb9fe824f6336a1ce5bc72d087bf7b62da0052d2f2e25d46bf548d2914d",
    "2-rgba-transparent-png": "fa5beb0214529b4f91fb8cace0ba15a9c856240da1bbcb5c49ccd40237e81c72",
    "2-jpeg": "1607fd279dba98ca1ff059ce5b09a6072a02caf9c8e68af15c86583d1fe4968a",
    "2-palette-png": "8161890f4701f31078cba655beca31decfdc9cf689699c0cb41be6390e0cc803",
    "2-large-bold-jpeg": "5c6b8f2d9744f24920d1bf71e4821131f0484e72eadb16cb840ed049743a9050",
    "2-page56-rgb-png": "2e95ecf575195c3d13aae5b42a15a5cb46f952a02620cba2e5571768095c54e3",
    "3-thin-L-png": "3c1398ccdac04abd24a22e6eae2bcf48f702591dac292e4bf6eedd939adfb31f",
    "3-thick-inverted-rgb-png": "3721e573414da8f2cb2281d2c4a124f6fdf0800b4fcf383e0d3c2f1fb2dc2d0c",
    "3-small-offcentre-png": "74e15c45235f6bb0c226b238c39dae9c91a7303c73bb5d63e679b901756ebd59",
    "3-rgba-transparent-png": "716ccc2ee5900e073a339ba64acb517f962c7e53065b46fc9600737c426c905f",
    "3-jpeg-exif6": "33f02aae7c6be1d6cbcbf6be630bbe5de70f8a5713d99a960e4b5e4528554041",
    "3-palette-transparency-png": "db20d687de192e7f05f341f5da9c047c4a8769cbdc67ac6467ba6b999947db27",
    "3-large-bold-jpeg": "f78ad2700a24e5bbc740eb1b2f3464d16ac582fa32655aa04ece13d4d9cef52e",
    "3-page56-rgb-png": "73a18ac41188c3e67e3e1357f2ef8420d4b79149a139783f3e858a86e6895186",
    "4-thin-L-png": "407f156e74b28a1924b0d7f6bb8ebad9756ecb354dea4f87d377e2cbfa24fa41",
    "4-thick-inverted-rgb-png": "08d6583c962e1e2940cfda3f47594add70b073057d923ae9084fed5f302c3899",
    "4-small-offcentre-png": "1cc83813539ba8b75f6ee4d9bee444509e4bc0b3dfa74a8d19a3c211c9dcbe55",
    "4-rgba-transparent-png": "59bde81a87aec95afc548d758fcc39d3b7146f72fa8849ca8f0057bd351c5be2",
    "4-jpeg": "3707a39264717a1eaefa731e0292d33fcf5078d5343115d4e3254b25e7789c63",
    "4-png-exif3": "6d9c8b42a64648bb2e28f9746e103aa544b036a77bd902f2821c91cafdf20b87",
    "4-large-bold-jpeg": "3deb5b47c4b618e55ebf37747be93d0c7df3f0c25ee4f8d450880e80b578e2fd",
    "4-page56-rgb-png": "6bb7bb0102c49d72c4eb858cdac76aa4495f35573a6a356a012756419837bc75",
    "5-thin-L-png": "ddd836dfd32e61a754252f7a4736f669ca8c888dfd8b60704814403956e351de",
    "5-thick-inverted-rgb-png": "4500236e22ec1b3440d67e463e6321e09c2abc712153c9694151745feb4b4301",
    "5-small-offcentre-png": "73afb4625c5f2f45d3b743909e2a700eb88c006304143726c6ab1cc388481620",
    "5-rgba-transparent-png": "a950f85aca7120035ec45afbdbe8522cc21e9d0c76bbe854d148d023a956e5a5",
    "5-jpeg-exif6": "9fe1850c61441d8252254f61c659dc4f3257325a4ef9c91bc0affc910208de7e",
    "5-palette-png": "fde397008475ded8735675f19ace2624585facccd4df6bfee15c7f341063ca68",
    "5-large-bold-jpeg": "bf9e7c51cde2888d8d2a3776118695170035f9d61a0373dc5908d4dcd46b7d60",
    "5-page56-rgb-png": "82184af424b9edcfe2127469301453db45803433942c56a65d88bbcc274abac7",
    "6-thin-L-png": "b21a91afdd49e5dc24db895ae0503c4ffdb35903d6874522044e960dd601802e",
    "6-thick-inverted-rgb-png": "00e49cf0acf68573c5e08efda25c2fcba8ca853e78db7f8accb96f7dd7401d56",
    "6-small-offcentre-png": "8b4e8505e9fbc6f0e2aac54722fc5398d0f4c227ea1a96a07bbff242a98ca977",
    "6-rgba-transparent-png": "684152594c124a49e59cff3714fe837e27d9d559e1fec17b3cf990d683922b39",
    "6-jpeg": "fcbd5743270e1b4faf86c44ec6a5c9c1ac561af3d9a499f8687f1480fc95cf95",
    "6-palette-transparency-png": "243f0b70f015039997e894576935cf689f202c88670cf8ee32d0e627581b9a6f",
    "6-large-bold-jpeg": "e85155ec8f25dd95fed174c4bef7c2e3000b11259df47fa814240c403dcde107",
    "6-page56-rgb-png": "fa81ab1f2c6d6231c4bc1ecf3c9e5a215546d6a5a464646af722d1a2db58800a",
    "7-thin-L-png": "98ec39a9d6f0effa43b1db803539f446d07949f56569a37f173d8e403ba12f2e",
    "7-thick-inverted-rgb-png": "ef839f9d27638c02247e58467400149192ab05df247a869e75cdc9f27df0f49c",
    "7-small-offcentre-png": "6542b9d38b6efa06af13e06a1f39c56f091213c549249d1920835e195e8d41b0",
    "7-rgba-transparent-png": "a1dfeea4451eafa539b4fadeed76bc2e98b4fcac8fda8839dec8a7a44f82f476",
    "7-jpeg-exif6": "abc08e160d773604e22549f9afaee94c58f9f82e41f8ee351605ef1c0c66ef15",
    "7-png-exif3": "8eb508f9d37a7c1688e80eb2a5e5068bf445fc5a9b837859cb560215c415e6ef",
    "7-large-bold-jpeg": "b3dac5723f5c08c58b9e90bde456ae8d53e9e54db4f9f597175aa5671b8632ec",
    "7-page56-rgb-png": "ec4faaecd2763b76af31d4daa01f93373c43c86246474944f92d4eaa8f0e8e56",
    "8-thin-L-png": "3a762314283990437c3482c1e283acc92fae7f3b6c4cd232eaefe4f91802857e",
    "8-thick-inverted-rgb-png": "04112cd036e190b76fc4130f6e8d3f925446c83ee933bd4eadec353f4c06de7d",
    "8-small-offcentre-png": "6beb6f2bc9486c44c6fadc966b4d23ae7deae39f6bab434d85c7deac3f40288a",
    "8-rgba-transparent-png": "40bba91cd7e4a0f23444ee76843acba17c510a2812dd7ff279f3934d293c443b",
    "8-jpeg": "35ec8b615173844ffa330eba81e5538e40ece6cb43f1aa9b8a680bd5fedd38d5",
    "8-palette-png": "4adc561d09e744088d2439d60990f8325789d0c63a2355c7b4eaca98c32f7723",
    "8-large-bold-jpeg": "52907ccbfec54b7885a5fe8acb377bef9cade1e962d1bf059bcb559eea8c3032",
    "8-page56-rgb-png": "8dc994b08279ed21deb99e64860310cefec80b538488c4e00f0847db647e098d",
    "9-thin-L-png": "ca48f02dd24b31d1154387c993e290c108ebf6c73737dca430649f5206d7ebc4",
    "9-thick-inverted-rgb-png": "0d19ad362958798d26b57a75409b54b5b5f70dbe92a3c45bb159783fbd4b758b",
    "9-small-offcentre-png": "4f312e8783f36f983743158045c1dc295a1279f26356bd189001d5e06dd7cfaa",
    "9-rgba-transparent-png": "a16d055644bdcfc3a8caf5be88b55e82bdc534edc34c39c4aa578c967b18f04d",
    "9-jpeg-exif6": "a43638aca7f2634b6e02ebeb597f09493a98148de18d685b7b8d6faf76e3a05a",
    "9-palette-transparency-png": "df3af7958951eb2577d790ac33ff6d51de69e43390fee59423816ea4af7a1418",
    "9-large-bold-jpeg": "6b8d9848312d014ddc9b15e3e72988471ee21e9dce977c8d7a848bab75e24fac",
    "9-page56-rgb-png": "db58a6ae3c0297db160f726efe0372e99e66990994e3b44479fcc263ba969949",
    "page-digit-sample-png": "ba995d57bc1409963c93f4dee3dcf5511cab3203227c6ce1fb2005a833651ceb",
    "blank-png": "error:no_digit_found",
    "dot-png": "1726759fbc2e5c097406b6674ecc235633201fc1cc743d040bf40da790ee2745",
    "gray-la-png": "22e7a80bfb0c2b376ace8f6f5f2a9510aac9906601c5b8ba30900460b9da490c",
    "4-webp-exif6": "8f4ede2413054b4c7fe3dcb390ddd99f0b3a8435e6023860ae99aacb6c600ce9",
    "4-webp-xmp3": "1fb49dd2ba347e4fdbc941ba2edb1f8d76ad90d191a176124faa9b2fdc706267",
    "4-jpeg-xmp6": "6ea0cccd799b3fac02ee6faddd321e8cf04db090ef6d5736b4ab5c7a015427d5",
    "4-png-xmp8": "8f4ede2413054b4c7fe3dcb390ddd99f0b3a8435e6023860ae99aacb6c600ce9",
    "4-gif": "8f4ede2413054b4c7fe3dcb390ddd99f0b3a8435e6023860ae99aacb6c600ce9",
    "4-bmp": "8f4ede2413054b4c7fe3dcb390ddd99f0b3a8435e6023860ae99aacb6c600ce9",
}


def test_the_cases_are_many_and_named_once():
    names = [name for name, _ in cases()]
    assert len(names) >= 90 and len(set(names)) == len(names)
    assert set(names) == set(DIGESTS)


@pytest.mark.parametrize(("name", "image_bytes"), cases(), ids=[name for name, _ in cases()])
def test_preprocess_gives_the_recorded_input(name, image_bytes):
    assert digest(image_bytes) == DIGESTS[name]


if __name__ == "__main__":
    for name, image_bytes in cases():
        print(f'    "{name}": "{digest(image_bytes)}",')
