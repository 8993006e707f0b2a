"""/docs, the API reference, works offline: Swagger UI comes from the server, as Leaflet does."""


def test_api_docs_load_every_asset_from_the_server_itself(demo, browser):
    context = browser.new_context()
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        page.goto(demo.http + "/docs")
        page.locator(".swagger-ui .info .title").wait_for()
        assert page.locator(".swagger-ui .info .title").inner_text().startswith("Shelter Signal")
        page.locator(".opblock").first.wait_for()  # the operations, read from /openapi.json
    finally:
        context.close()
    assert f"{demo.http}/static/vendor/swagger-ui/swagger-ui-bundle.js" in requested
    assert [url for url in requested if not url.startswith(demo.http + "/")] == []
