"""The Django and FastAPI examples inside the real frameworks, against a real server: a Django view
using PresenceMixin served through Django's test client (real auth, sessions, an in-memory SQLite
database), and the FastAPI messenger app through FastAPI's TestClient (its startup and shutdown
hooks, a WebSocket connection per user tab, the status endpoint). Debian's python3-django,
python3-fastapi and python3-httpx (scripts/ensure-system-deps.sh)."""

import importlib
import sys
import time
from pathlib import Path

import django
from django.conf import settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path[:0] = [str(EXAMPLES / "django_presence"), str(EXAMPLES / "fastapi_messenger")]

settings.configure(
    DEBUG=True,
    SECRET_KEY="presence-example-tests",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
    MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402
from django.views import View  # noqa: E402

import presence_mixin  # noqa: E402


def until(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class DocumentView(presence_mixin.PresenceMixin, View):
    """A document page: GET tracks the visitor's tab (one per session and document), DELETE untracks it."""

    presence_key = "{doc_id}"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.doc_id = kwargs["doc_id"]
        if request.session.session_key is None:
            request.session.save()
        self._presence_conn = f"tab-{request.session.session_key}"

    def get(self, request, doc_id):
        self.track_presence(meta={"name": request.user.username})
        return JsonResponse({"count": self.presence_count(), "names": sorted(p["name"] for p in self.list_presences())})

    def delete(self, request, doc_id):
        self.untrack_presence()
        return JsonResponse({"count": self.presence_count()})


urlpatterns = [path("docs/<path:doc_id>", DocumentView.as_view())]


def test_django_view_with_the_mixin_in_django(server, room):
    call_command("migrate", verbosity=0, interactive=False)
    presence_mixin.configure(server.target, server.secret)
    try:
        ana, bob = Client(), Client()
        ana.force_login(User.objects.create_user("ana"))
        bob.force_login(User.objects.create_user("bob"))
        doc = f"{room.lstrip('/')}/spec"  # the view's presence key: the document's path
        url = f"/docs/{doc}"
        assert ana.get(url).json() == {"count": 1, "names": ["ana"]}
        assert bob.get(url).json() == {"count": 2, "names": ["ana", "bob"]}
        assert bob.get(url).json() == {"count": 2, "names": ["ana", "bob"]}  # the same tab again: tracked once
        with server.client(server.service_token()) as svc:
            members = {m.user_id: m for m in svc.list(doc)}
            assert set(members) == {str(User.objects.get(username="ana").pk), str(User.objects.get(username="bob").pk)}
        assert bob.delete(url).json() == {"count": 1}
        assert ana.delete(url).json() == {"count": 0}
    finally:
        presence_mixin.shutdown()


def test_fastapi_messenger_app_in_fastapi(server, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("PRESENCE_TARGET", server.target)
    monkeypatch.setenv("PRESENCE_JWT_SECRET", server.secret)
    sys.modules.pop("app", None)
    app = importlib.import_module("app").app
    with TestClient(app) as client:  # runs the app's startup (the manager's stream) and shutdown
        status = lambda *ids: client.get("/status", params={"ids": ",".join(ids)}).json()  # noqa: E731
        assert status("amir", "bea") == {"amir": {"state": "offline", "last_seen": None}, "bea": {"state": "offline", "last_seen": None}}
        with client.websocket_connect("/ws/amir?zone=10") as tab1:
            until(lambda: status("amir")["amir"]["state"] == "online")
            with client.websocket_connect("/ws/amir?zone=10"), client.websocket_connect("/ws/bea"):
                until(lambda: status("bea")["bea"]["state"] == "online")
            # bea's only tab closed, amir's second one too: amir still has tab1.
            until(lambda: status("bea")["bea"]["state"] == "offline")
            assert status("amir")["amir"]["state"] == "online"
            tab1.send_text("hello")
        until(lambda: status("amir")["amir"]["state"] == "offline")
        assert status("amir")["amir"]["last_seen"] is not None
