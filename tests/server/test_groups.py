"""The server's grouping of markers is the page's (map/static/markers.js), pixel for pixel."""

import pytest

from server.groups import APART_X, FIT_MAX_ZOOM, Place, fit, group, project


def test_places_project_to_the_pixels_leaflet_gives():
    # L.CRS.EPSG3857.latLngToPoint in the vendored Leaflet 1.9.4, run under Node
    assert project(43.65, -79.38, 10) == pytest.approx((73269.248, 95673.98810074713))
    assert project(-33.8688, 151.2093, 12.5) == pytest.approx(
        (1364315.8768672924, 889883.0408750274)
    )


def test_grouping_is_greedy_in_the_order_given():
    zoom = 12
    per_px = 360 / (256 * 2**zoom)  # degrees of longitude a pixel
    first = Place(1, 43.65, -79.38, 5)
    near = Place(2, 43.65, -79.38 + (APART_X - 1) * per_px, None)  # overlaps the first
    beyond = Place(3, 43.65, -79.38 + (APART_X + 1) * per_px, 2)  # overlaps the second only
    [one, two] = group([first, near, beyond], zoom)
    assert one.places == [first, near] and (one.free, one.unknown) == (5, 1)
    assert two.places == [beyond]
    # in another order, another grouping: the page's, which takes the list's order
    [three] = group([near, first, beyond], zoom)
    assert three.places == [near, first, beyond]
    assert [len(g.places) for g in group([first, near, beyond], 16)] == [1, 1, 1]  # streets


def test_the_fit_is_in_half_steps_and_never_closer_than_the_first_view_allows():
    city = [Place(1, 43.58, -79.64, None), Place(2, 43.85, -79.12, None)]
    zoom = fit(city, 390, 600)
    assert zoom % 0.5 == 0
    # the span fits at that zoom, with 32 px each side, and not half a step closer
    for at, fits in ((zoom, True), (zoom + 0.5, False)):
        width = project(43.58, -79.12, at)[0] - project(43.58, -79.64, at)[0]
        assert (width <= 390 - 64) is fits
    assert fit(city[:1], 390, 600) == FIT_MAX_ZOOM  # one place: as close as the page goes
