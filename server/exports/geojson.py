"""GeoJSON (RFC 7946) of sites with their current availability.

Sites without coordinates are left out (a Feature needs a geometry to be useful on a
map); confidential sites never reach here because the public query excludes them.
"""

from server.shapes import SitePublic


def feature_collection(sites: list[SitePublic]) -> dict:
    features = []
    for site in sites:
        if site.lat is None or site.lon is None:
            continue
        properties = site.model_dump(mode="json", exclude={"lat", "lon"})
        features.append(
            {
                "type": "Feature",
                "id": site.id,
                # RFC 7946 section 3.1.1: longitude first, WGS 84, at most 6 decimals needed
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(site.lon, 6), round(site.lat, 6)],
                },
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}
