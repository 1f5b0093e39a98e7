"""Every answer a browser may render as a document carries a Content-Security-Policy and frame
protection, Swagger UI's static pages included; a failed precondition (412) carries no body."""

from importlib import resources

import pytest

from mnist_mlp.service.docs import SWAGGER_UI


def static_urls():
    ours = [f"/static/{f.name}" for f in resources.files("mnist_mlp.service").joinpath("static").iterdir()]
    swagger = [f"/docs/swagger-ui/{f.name}" for f in SWAGGER_UI.iterdir() if f.is_file()]
    return ours + swagger


def assert_protected(response, where):
    policy = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, (where, policy)
    assert response.headers.get("X-Frame-Options") == "DENY", where


def test_every_html_or_svg_answer_is_protected(client):
    documents = ["/", "/docs"]
    for url in static_urls():
        response = client.get(url)
        assert response.status_code == 200, url
        if response.mimetype in ("text/html", "image/svg+xml"):
            documents.append(url)
    assert "/docs/swagger-ui/oauth2-redirect.html" in documents and "/static/favicon.svg" in documents
    for url in documents:
        assert_protected(client.get(url), url)


@pytest.mark.parametrize(
    "url", ["/model/units/1/0.png", "/static/app.js", "/docs/swagger-ui/swagger-ui-bundle.js"]
)
def test_a_failed_precondition_has_no_body(client, url):
    whole = client.get(url)
    assert whole.status_code == 200 and len(whole.get_data()) > 1000
    response = client.get(url, headers={"If-Match": '"not-this-one"'})
    assert response.status_code == 412
    assert response.get_data() == b"" and response.headers["Content-Length"] == "0"
    assert "Content-Type" not in response.headers
