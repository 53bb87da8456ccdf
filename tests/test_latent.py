"""The latent explorer's pieces: map geometry, decoding points, the decoded grid, interpolation."""

import numpy as np
import pytest
import torch

from tiedae import TiedAutoencoder, UntiedAutoencoder
from tiedae.latent import DIGIT_COLORS, LatentMap, decode_codes, decoded_grid, encode_digit, interpolation, mark, strip


@pytest.fixture
def latent_map():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500).astype(np.uint8)
    codes = (rng.normal(size=(500, 2)) + labels[:, None] * [1.0, -0.5]).astype(np.float32)
    return LatentMap(codes, labels, size=200)


@pytest.fixture
def model_2d():
    torch.manual_seed(0)
    return TiedAutoencoder(sizes=[784, 16, 2]).eval()


def test_pixels_and_codes_are_inverse_and_y_grows_upwards(latent_map):
    for column, row in [(0, 0), (57, 120), (199, 199)]:
        x, y = latent_map.to_code(column, row)
        assert np.allclose(latent_map.to_pixel(np.array([x, y])), (column + 0.5, row + 0.5))
    top, bottom = latent_map.to_code(100, 0), latent_map.to_code(100, 199)
    assert top[1] > bottom[1] and top[0] == bottom[0]
    # the same scale on both axes, and nearly every code on the map
    inside = ((latent_map.to_pixel(latent_map.codes) >= 0) & (latent_map.to_pixel(latent_map.codes) < 200)).all(axis=1)
    assert inside.mean() > 0.98


def test_the_picture_shows_each_code_in_its_digits_colour(latent_map):
    picture = latent_map.picture()
    assert picture.shape == (200, 200, 3) and picture.dtype == np.uint8
    column, row = np.round(latent_map.to_pixel(latent_map.codes[0])).astype(int)
    colours = {tuple(c) for c in picture[row : row + 2, column : column + 2].reshape(-1, 3)}
    assert colours & {tuple(int(v) for v in c) for c in DIGIT_COLORS}  # a digit's colour is painted there
    assert (picture == 255).all(axis=2).mean() > 0.5  # mostly white: dots, not blobs


def test_marks_are_rings_at_the_code(latent_map):
    picture = latent_map.picture()
    code = latent_map.centre
    marked = mark(picture, latent_map, [(code, (255, 0, 255))])
    column, row = latent_map.to_pixel(code)
    assert tuple(marked[int(row), int(column + 7)]) == (255, 0, 255)  # on the ring
    assert (marked[int(row), int(column)] == picture[int(row), int(column)]).all()  # the centre stays visible
    assert (picture == latent_map.picture()).all()  # the cached picture is not drawn on


def test_rings_at_the_same_code_both_show(latent_map):
    # a drawing and its noisy version can encode to one point, or both be pinned to the same edge
    picture = latent_map.picture()
    for code in (latent_map.centre, latent_map.centre + 1e6):
        marked = mark(picture, latent_map, [(code, (255, 0, 255)), (code, (0, 0, 0))])
        for colour in ((255, 0, 255), (0, 0, 0)):
            painted = (marked == colour).all(axis=2) & ~(picture == colour).all(axis=2)
            assert painted.sum() > 10, (code, colour)  # a corner shows a quarter of each ring


@pytest.mark.parametrize(
    "x, y, message",
    [
        (float("nan"), 0, "finite"),
        (0, float("inf"), "finite"),
        ("left", 0, "numbers"),
        (None, 1, "numbers"),
        (1e6, 0, "far outside"),
    ],
)
def test_points_that_cannot_be_decoded_are_refused_with_a_reason(latent_map, x, y, message):
    with pytest.raises(ValueError, match=message):
        latent_map.check_point(x, y)


def test_a_point_just_off_the_map_is_still_decoded(latent_map):
    x, y = latent_map.low[0] - 0.3 * latent_map.span, latent_map.centre[1]
    assert latent_map.check_point(x, y) == (x, y)


def test_decoded_grid_tiles_are_the_decoder_at_grid_points(model_2d, latent_map):
    grid = decoded_grid(model_2d, latent_map, steps=5)
    assert grid.shape == (140, 140) and grid.dtype == np.uint8
    step = latent_map.span / 5
    top_left = latent_map.low + [0.5 * step, latent_map.span - 0.5 * step]  # the top row is the largest y
    np.testing.assert_array_equal(grid[:28, :28], decode_codes(model_2d, top_left[None])[0])
    bottom_right = latent_map.low + [latent_map.span - 0.5 * step, 0.5 * step]
    np.testing.assert_array_equal(grid[-28:, -28:], decode_codes(model_2d, bottom_right[None])[0])


def test_interpolation_runs_from_one_reconstruction_to_the_other():
    torch.manual_seed(1)
    model = UntiedAutoencoder(sizes=[784, 32, 8]).eval()
    a, b = np.zeros((28, 28), np.float32), np.zeros((28, 28), np.float32)
    a[5:23, 12:16] = 1  # a 1
    b[8:20, 6:22] = 1  # a block
    frames = interpolation(model, a, b, np.linspace(0, 1, 9))
    assert frames.shape == (9, 28, 28)
    with torch.no_grad():
        for frame, digit in ((frames[0], a), (frames[-1], b)):
            expected = (model(torch.from_numpy(digit).reshape(1, 784)) * 255).round().to(torch.uint8).reshape(28, 28)
            np.testing.assert_array_equal(frame, expected.numpy())
    z_mid = (encode_digit(model, a) + encode_digit(model, b)) / 2  # t = 0.5 is the midpoint of the codes
    np.testing.assert_array_equal(frames[4], decode_codes(model, z_mid[None])[0])


def test_strip_frames_the_highlighted_image():
    frames = np.zeros((4, 28, 28), np.uint8)
    plain, framed = strip(frames), strip(frames, highlight=2)
    assert plain.shape == framed.shape == (32, 4 * 30 + 2, 3)
    assert (framed != plain).any() and framed[0, 2 + 2 * 30].tolist() == [255, 255, 255]


def test_a_damaged_latent_map_file_is_named(tmp_path):
    path = tmp_path / "latent_map.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"latent_map\.npz"):
        LatentMap.load(path)
    np.savez(path, codes=np.zeros((3, 5)), labels=np.zeros(3))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        LatentMap.load(path)


def test_the_map_has_round_ticks_along_two_edges_and_they_sit_at_their_values(latent_map):
    for axis in (0, 1):
        ticks = latent_map.ticks(axis)
        assert 3 <= len(ticks) <= 8 and all(float(f"{t:g}") == t for t in ticks)
        assert all(latent_map.low[axis] <= t <= latent_map.low[axis] + latent_map.span for t in ticks)
        steps = np.diff(ticks)
        assert np.allclose(steps, steps[0])  # evenly spaced, 1, 2 or 5 times a power of ten
        assert round(steps[0] / 10 ** np.floor(np.log10(steps[0])), 6) in (1, 2, 5)
    picture = latent_map.picture()
    size = latent_map.size
    drawn = 0
    for t in latent_map.ticks(0):
        column = latent_map.to_pixel(np.array([t, 0.0]))[0]
        if 14 <= column <= size - 14:  # an x tick: a grey mark at the bottom edge, at its value
            assert (picture[size - 3, round(column) - 1 : round(column) + 1] < 200).all(axis=-1).any()
            drawn += 1
    assert drawn >= 2


def test_a_clicked_point_is_marked_with_a_cross(latent_map):
    from tiedae.latent import mark_point

    picture = latent_map.picture()
    marked = mark_point(picture, latent_map, latent_map.centre, (0, 150, 0))
    column, row = (int(v) for v in latent_map.to_pixel(latent_map.centre))
    assert (marked[row, column - 9 : column + 10] == (0, 150, 0)).all() and (
        marked[row - 9 : row + 10, column] == (0, 150, 0)
    ).all()
    assert (picture == latent_map.picture()).all()  # a copy: the shared picture is not drawn on
