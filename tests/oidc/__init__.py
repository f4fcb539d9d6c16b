"""A real OpenID provider for the sign-in tests: node-oidc-provider (npm ``oidc-provider``) on loopback.

``LocalProvider`` starts ``tests/oidc/provider.mjs`` with the clients and people a test gives, and
``sign_in_at`` plays the person at the provider's own login page, as a browser would, until the
provider sends them back to the application with a code. Nothing of the protocol is mocked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "pathways", "pathways-test-secret-0123456789"
OTHER_ID, OTHER_SECRET = "another-app", "another-app-secret-0123456789"
APP_URL = "http://127.0.0.1:5000"


def client(client_id: str, secret: str, app_url: str) -> dict[str, Any]:
    return {"client_id": client_id, "client_secret": secret, "grant_types": ["authorization_code"],
            "response_types": ["code"], "redirect_uris": [f"{app_url}/sso/callback"],
            "post_logout_redirect_uris": [f"{app_url}/login?signed_out=1"],
            "token_endpoint_auth_method": "client_secret_basic"}  # fmt: skip


class LocalProvider:
    def __init__(self, people: dict[str, dict[str, Any]], app_url: str = APP_URL) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="oidc-"))
        self.accounts = self.dir / "accounts.json"
        self.set_people(people)
        ready = self.dir / "ready.json"
        config = {
            "port": 0,
            "accounts": str(self.accounts),
            "ready": str(ready),
            "clients": [client(CLIENT_ID, CLIENT_SECRET, app_url), client(OTHER_ID, OTHER_SECRET, app_url)],
        }
        (self.dir / "config.json").write_text(json.dumps(config))
        node = shutil.which("node") or "node"
        self.log = open(self.dir / "provider.log", "w")  # noqa: SIM115 - closed in stop()
        script = ROOT / "tests" / "oidc" / "provider.mjs"
        self.process = subprocess.Popen([node, str(script), str(self.dir / "config.json")], cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT)  # fmt: skip
        for _ in range(600):  # start-up only: the provider says when it listens (or the test fails here)
            if ready.exists() and ready.read_text():
                break
            if self.process.poll() is not None:
                raise RuntimeError("the OpenID provider stopped: " + (self.dir / "provider.log").read_text())
            time.sleep(0.1)
        else:
            raise RuntimeError("the OpenID provider did not start")
        self.issuer = json.loads(ready.read_text())["issuer"]
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"

    def set_people(self, people: dict[str, dict[str, Any]]) -> None:
        """Each person: login -> {"sub": ..., "claims": {...}}; read at every sign-in."""
        self.accounts.write_text(json.dumps(people))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def sign_in_at(authorize_url: str, login: str, back_to: str, browser: requests.Session | None = None) -> str:
    """Follow the provider's pages as ``login`` (its login form, any password) until it redirects to
    ``back_to``; return that address (with the code and state)."""
    browser = browser or requests.Session()
    response = browser.get(authorize_url, allow_redirects=False, timeout=30)
    for _ in range(20):
        if response.status_code in (301, 302, 303, 307):
            target = urljoin(response.url, response.headers["Location"])
            if target.startswith(back_to):
                return target
            response = browser.get(target, allow_redirects=False, timeout=30)
            continue
        form = _FORM.search(response.text)
        if response.status_code != 200 or form is None:
            raise AssertionError(f"the provider answered {response.status_code}: {response.text[:500]}")
        fields = {name: unescape(value) for name, value in _HIDDEN.findall(form.group(2))}
        if 'name="login"' in form.group(2):
            fields.update(login=login, password="any password")
        response = browser.post(urljoin(response.url, unescape(form.group(1))), data=fields, allow_redirects=False,
                                timeout=30)  # fmt: skip
    raise AssertionError("the provider never sent the browser back")


def token_for(provider: LocalProvider, login: str, client_id: str, secret: str, nonce: str,
              app_url: str = APP_URL) -> str:  # fmt: skip
    """An ID token the provider issues to ``client_id`` for ``login`` (the whole code flow, with PKCE)."""
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    metadata = requests.get(provider.discovery_url, timeout=30).json()
    session = OAuth2Session(client_id, secret, redirect_uri=f"{app_url}/sso/callback", scope="openid profile email",
                            code_challenge_method="S256")  # fmt: skip
    verifier = generate_token(64)
    url, _state = session.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce,
                                                   code_verifier=verifier)  # fmt: skip
    back = sign_in_at(url, login, f"{app_url}/sso/callback")
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=back, code_verifier=verifier)
    return str(token["id_token"])
