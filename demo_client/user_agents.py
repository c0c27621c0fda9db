"""User agents: who takes the authorization URL to the AS and brings the redirect back.

- `HeadlessUserAgent` plays the demo user. It fills in the AS's *real* login and consent
  forms (parsed with `html.parser`; hidden inputs such as the CSRF token are copied as they
  are), ticks the scopes the user chooses, and stops at the first `Location` that starts with
  the redirect URI, without fetching it, so nothing has to listen there. It never bypasses the
  pages: the AS sees exactly what a browser would send. Against an AS that approves
  automatically (`--auto-approve`, the conformance suite's mock) the first answer is already
  that redirect.
- `BrowserUserAgent` opens the system browser and listens on 127.0.0.1 for the callback
  (RFC 8252 §7.3 loopback redirect, OAuth 2.1 §8.4.2), with a timeout.

The form structure relied on is written down in docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import httpx2

from demo_client import settings as defaults
from demo_client.authorization_response import redirect_matches
from demo_client.errors import AuthorizationRequestRefusedError, UserAgentError

MAX_PAGES = 10
# Elements whose text is not what a page says to its reader (CSS, scripts, the tab title, the
# site banner): left out of the text an error message quotes.
NOT_PAGE_TEXT = frozenset({"head", "style", "script", "title", "header", "template"})


class UserAgent(Protocol):
    async def authorize(self, url: str, redirect_uri: str) -> str:
        """Take the user through `url`; return the full URL the AS redirected back to."""
        ...


@dataclass
class ConsentChoice:
    """What the user grants on the consent page: everything, a subset, or nothing.

    Parsed from `--consent all|deny|SCOPE[,SCOPE...]` (spaces also separate scopes).
    """

    mode: str = "all"  # all | deny | some
    scopes: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> ConsentChoice:
        value = text.strip()
        if value in ("all", "deny"):
            return cls(mode=value)
        scopes = [s for s in value.replace(",", " ").split(" ") if s]
        if not scopes:
            raise ValueError("--consent must be 'all', 'deny' or a list of scopes")
        return cls(mode="some", scopes=scopes)

    def ticks(self, scope: str) -> bool:
        return self.mode == "all" or (self.mode == "some" and scope in self.scopes)


@dataclass
class HtmlForm:
    action: str | None
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # hidden and text inputs
    password_fields: list[str] = field(default_factory=list)
    text_fields: list[str] = field(default_factory=list)
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)  # name, value, checked
    buttons: list[tuple[str, str]] = field(default_factory=list)  # name, value


class FormParser(HTMLParser):
    """Collect every <form> with its inputs and submit buttons (WHATWG HTML §4.10)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._current: HtmlForm | None = None
        self.text: list[str] = []
        self._hidden_depth = 0  # inside <style>, <script>, ...: text not collected

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in NOT_PAGE_TEXT:
            self._hidden_depth += 1
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._current = HtmlForm(action=a.get("action"), method=a.get("method", "get").lower())
            self.forms.append(self._current)
            return
        form = self._current
        if form is None or "name" not in a:
            return
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "hidden":
                form.fields.append((a["name"], a.get("value", "")))
            elif kind == "password":
                form.password_fields.append(a["name"])
            elif kind == "checkbox":
                form.checkboxes.append((a["name"], a.get("value", "on"), "checked" in a))
            elif kind == "submit":
                form.buttons.append((a["name"], a.get("value", "")))
            elif kind in ("text", "email", "username"):
                form.text_fields.append(a["name"])
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            form.buttons.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag in NOT_PAGE_TEXT and self._hidden_depth:
            self._hidden_depth -= 1
        if tag == "form":
            self._current = None

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._hidden_depth:
            self.text.append(" ".join(data.split()))


def parse_forms(html: str) -> tuple[list[HtmlForm], str]:
    """The page's forms and the text a reader sees (no CSS, scripts, title or banner)."""
    parser = FormParser()
    parser.feed(html)
    return parser.forms, " ".join(parser.text)


def page_text(response: httpx2.Response, limit: int = 400) -> str:
    """What an error answer says, shortened: an HTML page's visible text, or the body as is."""
    if "html" in response.headers.get("content-type", ""):
        _, text = parse_forms(response.text)
    else:
        text = " ".join(response.text.split())
    text = text or "(empty body)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def login_form_data(form: HtmlForm, username: str, password: str) -> list[tuple[str, str]]:
    """Hidden inputs copied verbatim, then the credentials."""
    data = list(form.fields)
    data.append(("username", username))
    data.extend((name, password) for name in form.password_fields)
    return data


def consent_form_data(form: HtmlForm, choice: ConsentChoice) -> list[tuple[str, str]]:
    """Hidden inputs, the ticked scopes, and the approve or deny button."""
    data = list(form.fields)
    if choice.mode != "deny":
        data.extend((name, value) for name, value, _ in form.checkboxes if choice.ticks(value))
    decision = "deny" if choice.mode == "deny" else "approve"
    buttons = [b for b in form.buttons if b[1] == decision]
    if not buttons:
        raise UserAgentError(f"the consent page has no {decision!r} button")
    data.append(buttons[0])
    return data


class HeadlessUserAgent:
    """Acts as the demo user through the AS's real pages; keeps cookies between rounds."""

    def __init__(
        self,
        *,
        username: str = defaults.DEFAULT_USERNAME,
        password: str = defaults.DEFAULT_PASSWORD,
        consent: ConsentChoice | None = None,
        http: httpx2.AsyncClient | None = None,
    ) -> None:
        self.username = username
        self.password = password
        self.consent = consent or ConsentChoice()
        self._http = http or httpx2.AsyncClient(timeout=15.0)
        self.pages_seen: list[str] = []

    async def aclose(self) -> None:
        await self._http.aclose()

    async def authorize(self, url: str, redirect_uri: str) -> str:
        response = await self._http.get(url, follow_redirects=False)
        if not response.is_redirect and response.status_code != 200:
            # Refused before any page: the request itself (client_id, redirect_uri) is wrong.
            raise AuthorizationRequestRefusedError(response.status_code, page_text(response))
        for _ in range(MAX_PAGES):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if redirect_matches(location, redirect_uri):
                    # Stop here: the redirect URI is ours; fetching it is not needed.
                    return location
                if urlsplit(location).scheme not in ("http", "https"):
                    raise UserAgentError(f"refusing to follow a redirect to {location!r}")
                response = await self._http.get(location, follow_redirects=False)
                continue
            if response.status_code != 200:
                raise UserAgentError(
                    f"the authorization server answered HTTP {response.status_code}: "
                    f"{page_text(response)}"
                )
            response = await self._submit_page(response)
        raise UserAgentError(f"no redirect to {redirect_uri} after {MAX_PAGES} pages")

    async def _submit_page(self, page: httpx2.Response) -> httpx2.Response:
        forms, text = parse_forms(page.text)
        posts = [f for f in forms if f.method == "post"]
        if len(posts) != 1:
            raise UserAgentError(
                f"expected one POST form on {page.url}, found {len(posts)}: {text[:300]}"
            )
        form = posts[0]
        if form.password_fields:
            self.pages_seen.append("login")
            data = login_form_data(form, self.username, self.password)
        elif form.buttons:
            self.pages_seen.append("consent")
            data = consent_form_data(form, self.consent)
        else:
            raise UserAgentError(f"unrecognised page at {page.url}: {text[:300]}")
        target = urljoin(str(page.url), form.action or str(page.url))
        return await self._http.post(
            target,
            content=urlencode(data).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )


def url_is_safe_to_open(url: str) -> bool:
    """MCP security best practices, OAuth Authorization URL Validation: only http(s)."""
    return urlsplit(url).scheme in ("http", "https")


class BrowserUserAgent:
    """Opens the system browser; a one-shot HTTP listener on 127.0.0.1 catches the callback."""

    def __init__(
        self,
        *,
        timeout: float = defaults.DEFAULT_BROWSER_TIMEOUT,
        announce: Callable[[str], object] = print,
        opener: Callable[[str], object] = webbrowser.open,
    ) -> None:
        self.timeout = timeout
        self.announce = announce
        # MCP security best practices: never open URLs through a shell; `webbrowser` does not.
        self.opener = opener

    async def authorize(self, url: str, redirect_uri: str) -> str:
        if not url_is_safe_to_open(url):
            raise UserAgentError(f"refusing to open {url!r}: only http and https are opened")
        target = urlsplit(redirect_uri)
        arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request_line = (await reader.readline()).decode("latin-1").split(" ")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = request_line[1] if len(request_line) > 1 else "/"
            ok = urlsplit(path).path == target.path and not arrived.done()
            body = (
                "<p>Authorization finished. You can close this tab.</p>"
                if ok
                else "<p>Not found.</p>"
            )
            status = "200 OK" if ok else "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n{body}".encode()
            )
            await writer.drain()
            writer.close()
            if ok:
                arrived.set_result(f"{target.scheme}://{target.netloc}{path}")

        # Loopback only (OAuth 2.1 §8.4.2), open just for this one authorization.
        try:
            server = await asyncio.start_server(handle, "127.0.0.1", target.port)
        except OSError as exc:
            raise UserAgentError(
                f"cannot listen on 127.0.0.1:{target.port} for the callback ({exc.strerror}); "
                "choose another --callback-port"
            ) from exc
        try:
            self.announce(f"Opening your browser at {url}")
            # Some launchers (a `BROWSER` command, lynx) block until the browser exits; run the
            # opener in a thread so the callback listener on this event loop keeps serving.
            await asyncio.to_thread(self.opener, url)
            return await asyncio.wait_for(arrived, self.timeout)
        except TimeoutError as exc:
            raise UserAgentError(
                f"no callback on {redirect_uri} within {self.timeout:.0f} s"
            ) from exc
        finally:
            server.close()
            await server.wait_closed()
