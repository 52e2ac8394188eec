"""Who may use the dashboard, each rule a test: local Host only without a token; with a token,
401 everywhere until it is shown (header or cookie); POST only, same origin only; output shown
as text; no route can create a job."""

import pytest

TOKEN = "s3cret-token-for-tests"
EVERY_GET = ["/", "/jobs", "/dlq", "/workers", "/queues", "/schedules", "/jobs/ok",
             "/live/overview", "/api/status", "/api/jobs", "/api/jobs/ok", "/api/jobs/ok/logs",
             "/api/workers", "/api/queues", "/api/schedules", "/api/events", "/metrics",
             "/static/app.css"]


@pytest.fixture
def db(sqlite_db):
    """The rules do not depend on the backend: SQLite only."""
    return sqlite_db


def test_without_a_token_only_local_host_names_are_served(seed, client):
    seed.standard()
    http = client()
    for host in ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost"]:
        assert http.get("/api/status", headers={"host": host}).status_code == 200, host
    for host in ["evil.example", "evil.example:8765", "192.168.1.5:8765"]:
        response = http.get("/api/status", headers={"host": host})
        assert response.status_code == 421, host  # a DNS-rebound page gets nothing


@pytest.mark.parametrize("path", EVERY_GET)
def test_with_a_token_every_request_without_it_is_401(seed, client, path):
    seed.standard()
    http = client(token=TOKEN, base="http://dash.example:8765")
    assert http.get(path).status_code == 401
    assert http.get(path, headers={"authorization": "Bearer wrong-token-x"}).status_code == 401
    assert http.get(path, headers={"cookie": "token=wrong"}).status_code == 401
    if path != "/api/events":  # a stream never ends: the browser test reads it
        assert http.get(path, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_posts_without_the_token_are_401_and_change_nothing(seed, client):
    seed.standard()
    http = client(token=TOKEN)
    assert http.post("/api/jobs/bad/retry").status_code == 401
    assert http.post("/api/dlq/retry").status_code == 401
    assert http.post("/api/queues/default/pause").status_code == 401
    assert (seed.state_of("bad"), seed.state_of("later")) == ("dead", "pending")
    assert seed.run(lambda store: store.queue_settings()) == []


def test_the_token_in_the_url_sets_a_strict_cookie_and_leaves_the_url(seed, client):
    seed.standard()
    http = client(token=TOKEN, base="http://dash.example:8765")
    response = http.get(f"/jobs?state=dead&token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/jobs?state=dead"
    cookie = response.headers["set-cookie"]
    assert f"token={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert http.get("/jobs?state=dead").status_code == 200  # the client kept the cookie
    assert http.get("/api/status").status_code == 200


def test_a_wrong_token_in_the_url_is_401_with_the_login_form(seed, client):
    http = client(token=TOKEN)
    response = http.get("/?token=nope", follow_redirects=False)
    assert response.status_code == 401 and "set-cookie" not in response.headers
    assert 'name="token"' in response.text and "wrong token" in response.text


def test_actions_refuse_a_foreign_origin(seed, client):
    seed.standard()
    http = client()
    for headers in [{"origin": "http://evil.example"}, {"origin": "http://127.0.0.1:9999"},
                    {"origin": "null"}, {"sec-fetch-site": "cross-site"}]:
        response = http.post("/api/jobs/bad/retry", headers=headers)
        assert response.status_code == 403, headers
        assert http.post("/api/dlq/retry", headers=headers).status_code == 403
        assert http.post("/api/queues/default/pause", headers=headers).status_code == 403
        assert http.post("/api/jobs/later/cancel", headers=headers).status_code == 403
    assert (seed.state_of("bad"), seed.state_of("later")) == ("dead", "pending")
    assert seed.run(lambda store: store.queue_settings()) == []
    same = http.post("/api/jobs/bad/retry", headers={"origin": "http://127.0.0.1:8765",
                                                     "sec-fetch-site": "same-origin"})
    assert same.status_code == 200 and seed.state_of("bad") == "pending"


def test_actions_are_post_only(seed, client):
    seed.standard()
    http = client()
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        assert http.request(method, "/api/jobs/bad/retry").status_code in (404, 405), method
        assert http.request(method, "/api/jobs/later/cancel").status_code in (404, 405), method
        assert http.request(method, "/api/dlq/retry").status_code == 405, method
        for verb in ("pause", "resume"):
            assert http.request(method, f"/api/queues/default/{verb}").status_code == 405
    assert seed.state_of("bad") == "dead"
    assert seed.run(lambda store: store.queue_settings()) == []


def test_no_route_creates_a_job(seed, client):
    seed.standard()
    http = client()
    app = http.app
    document = {"id": "new", "command": "touch /tmp/pwned"}
    paths = {getattr(r, "path", "/") for r in app.routes} | {"/api/jobs", "/api/enqueue", "/jobs"}
    for path in sorted(paths):
        concrete = path.replace("{id:path}", "ok").replace("{name}", "default")
        for method in ("POST", "PUT", "PATCH"):
            http.request(method, concrete, json=document)
            http.request(method, concrete, data={"command": "touch /tmp/pwned"})
    assert http.get("/api/jobs/new").status_code == 404
    assert seed.total() == 3


def test_output_and_commands_are_text_not_markup(seed, client):
    seed.standard()
    http = client()
    page = http.get("/jobs/ok").text
    assert "<script>window.__xss" not in page and "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in http.get("/jobs").text


def test_every_response_forbids_inline_scripts_and_framing(client):
    http = client()
    for path in ["/", "/api/status", "/nope"]:
        headers = http.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"  # a ?token= never leaks in Referer
