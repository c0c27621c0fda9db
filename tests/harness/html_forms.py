"""The AS's HTML forms as a client reads them: where each ``<form>`` posts, its hidden inputs,
visible inputs, checkboxes and submit buttons (docs/architecture.md, "The consent pages, as the
headless user agent sees them"). The one HTML form parser of the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx2


@dataclass
class Form:
    """One ``<form>``: where it posts, its hidden inputs, scope checkboxes and submit buttons."""

    action: str
    method: str
    hidden: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)  # visible text/password inputs
    checkboxes: list[tuple[str, str, bool]] = field(default_factory=list)  # name, value, checked
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # type, name, value
    input_types: dict[str, str] = field(default_factory=dict)  # every input's name -> its type

    def hidden_value(self, name: str) -> str | None:
        return next((v for n, v in self.hidden if n == name), None)

    def offered(self, name: str = "scope") -> list[str]:
        """The values of the checkboxes called ``name`` (the scopes a consent page offers)."""
        return [value for n, value, _checked in self.checkboxes if n == name]

    def asks_for_password(self) -> bool:
        return any(name == "password" for name, _ in self.inputs)

    def target(self, page: httpx2.Response) -> str:
        """The URL the form posts to: its ``action`` resolved against the page's own URL."""
        return urljoin(str(page.url), self.action) if self.action else str(page.url)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", ""), method=a.get("method", "get")))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input":
            kind = a.get("type", "text").lower()
            form.input_types[a.get("name", "")] = kind
            if kind == "hidden":
                form.hidden.append((a.get("name", ""), a.get("value", "")))
            elif kind == "checkbox":
                form.checkboxes.append((a.get("name", ""), a.get("value", ""), "checked" in a))
            elif kind == "submit":
                form.buttons.append((kind, a.get("name", ""), a.get("value", "")))
            else:
                form.inputs.append((a.get("name", ""), a.get("value", "")))
        elif tag == "button":
            form.buttons.append((a.get("type", ""), a.get("name", ""), a.get("value", "")))


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def only_form(response: httpx2.Response) -> Form:
    """The page's one POST form (a login or consent page has exactly one)."""
    forms = [f for f in parse_forms(response.text) if f.method.lower() == "post"]
    assert len(forms) == 1, f"expected one POST form, got {len(forms)}:\n{response.text[:2000]}"
    return forms[0]


def form_data(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Repeated form fields (``scope=a&scope=b``) as httpx2 wants them: name -> list of values."""
    data: dict[str, list[str]] = {}
    for name, value in pairs:
        data.setdefault(name, []).append(value)
    return data
