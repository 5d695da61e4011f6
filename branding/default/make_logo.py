"""Draw the default brand's logo: a lifebuoy on a blue rounded tile.

Run ``python -m branding.default.make_logo`` to write ``branding/default/logo.png`` again;
the output is the same byte for byte on every run.
"""

from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

SIZE = 512
SCALE = 4  # drawn four times larger, then reduced: smooth edges without an antialiasing API
TILE_TOP = (47, 123, 255)
TILE_BOTTOM = (11, 95, 255)  # the default primary colour, #0B5FFF
RING = (255, 255, 255)
BANDS = (229, 38, 42)  # the default accent colour, #E5262A
OUTPUT = Path(__file__).resolve().parent / "logo.png"


def draw_logo(size: int = SIZE) -> Image.Image:
    """Return the default logo as an RGBA image of ``size`` × ``size`` pixels."""
    big = size * SCALE
    tile = _gradient(big, TILE_TOP, TILE_BOTTOM)
    tile_mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(tile_mask).rounded_rectangle((0, 0, big - 1, big - 1), radius=round(big * 0.22), fill=255)

    centre, outer, inner = big / 2, big * 0.36, big * 0.19
    ring_mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(ring_mask)
    draw.ellipse(_circle(centre, outer), fill=255)
    draw.ellipse(_circle(centre, inner), fill=0)

    ring = Image.new("RGB", (big, big), RING)
    bands = ImageDraw.Draw(ring)
    for middle in (45, 135, 225, 315):
        bands.pieslice(_circle(centre, outer + SCALE), middle - 19, middle + 19, fill=BANDS)

    shadow = ring_mask.transform(ring_mask.size, Image.Transform.AFFINE, (1, 0, 0, 0, 1, -big * 0.015))
    tile.paste((6, 60, 170), mask=ImageChops.multiply(shadow, Image.new("L", shadow.size, 90)))
    tile.paste(ring, mask=ring_mask)
    logo = tile.convert("RGBA")
    logo.putalpha(tile_mask)
    return logo.resize((size, size), Image.Resampling.LANCZOS)


def _gradient(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    column = Image.linear_gradient("L").resize((1, size))
    channels = [column.point(lambda v, a=a, b=b: round(a + (b - a) * v / 255)) for a, b in zip(top, bottom)]
    return Image.merge("RGB", channels).resize((size, size))


def _circle(centre: float, radius: float) -> tuple[float, float, float, float]:
    return centre - radius, centre - radius, centre + radius, centre + radius


def main() -> None:
    draw_logo().save(OUTPUT, optimize=True)


if __name__ == "__main__":
    main()
