"""The OAuth client core put together: discovery, registration, one authorization round trip,
refresh. Teaching code, hand-written on purpose; each step delegates to the module that owns
its rule (discovery, registration, pkce, authorization_response, tokens, scopes).

`Authorizer` knows nothing about MCP or step-up policy; `step_up.StepUpAuth` decides *when* to
call it and with *which* scopes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from demo_client import settings as defaults
from demo_client.authorization_response import PendingAuthorization, accept_authorization_response
from demo_client.discovery import (
    AuthorizationServerMetadata,
    ProtectedResourceMetadata,
    discover_authorization_server,
    discover_protected_resource,
)
from demo_client.errors import AuthorizationRequestRefusedError, DiscoveryError, TokenError
from demo_client.events import Event, EventKind, Observer, fingerprint, ignore
from demo_client.pkce import PkcePair, new_state
from demo_client.registration import (
    ClientRegistration,
    choose_token_endpoint_auth_method,
    cimd_registration,
    loopback_redirect_uri,
    register_dynamically,
)
from demo_client.scopes import with_offline_access
from demo_client.tokens import TokenSet, authorization_url, exchange_code, refresh_tokens
from demo_client.user_agents import UserAgent


@dataclass(frozen=True)
class ClientIdentity:
    """How this client identifies itself; the first applicable one wins (MCP authorization,
    Client Registration Approaches): pre-registered, then CIMD if the AS supports it, then DCR."""

    callback_port: int = defaults.DEFAULT_CALLBACK_PORT
    client_id: str | None = None
    client_secret: str | None = None
    client_metadata_url: str | None = None

    @property
    def redirect_uri(self) -> str:
        return loopback_redirect_uri(self.callback_port)


class Authorizer:
    def __init__(
        self,
        server_url: str,
        *,
        http: httpx2.AsyncClient,
        user_agent: UserAgent,
        identity: ClientIdentity | None = None,
        registration: ClientRegistration | None = None,
        on_registration: Callable[[ClientRegistration], None] | None = None,
        registration_lookup: Callable[[str], ClientRegistration | None] | None = None,
        observer: Observer = ignore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.server_url = server_url
        self.http = http
        self.user_agent = user_agent
        self.identity = identity or ClientIdentity()
        self.registration = registration
        self.on_registration = on_registration
        self.registration_lookup = registration_lookup
        self.observer = observer
        self.clock = clock
        self.prm: ProtectedResourceMetadata | None = None
        self.as_metadata: AuthorizationServerMetadata | None = None
        # True while the registration in use came from `registration_lookup` (an earlier run)
        # and this AS has not yet accepted it in this run.
        self.registration_from_store = False

    @property
    def resource(self) -> str:
        """RFC 8707 `resource`: the PRM `resource`, validated against the server URL."""
        return self.prm.resource if self.prm else self.server_url

    async def discover(self, resource_metadata: str | None = None) -> None:
        """Run discovery, unless it already ran for the same `resource_metadata` (RFC 9728
        §5.2: a client re-fetches when the challenge names different metadata)."""
        if self.prm is not None and self.as_metadata is not None:
            if resource_metadata is None or resource_metadata == self.prm.url:
                return
        prm = await discover_protected_resource(self.http, self.server_url, resource_metadata)
        # RFC 9728 §7.6 leaves the choice among several servers to the client: take the first.
        issuer = prm.authorization_servers[0]
        metadata = await discover_authorization_server(self.http, issuer)
        self.prm, self.as_metadata = prm, metadata
        self.observer(
            Event(
                EventKind.DISCOVERY,
                {
                    "resource_metadata": prm.url,
                    "resource": prm.resource,
                    "issuer": metadata.issuer,
                    "iss_parameter_supported": metadata.iss_parameter_supported,
                    "scopes_supported": metadata.scopes_supported or [],
                },
            )
        )
        if self.registration is not None and self.registration.issuer != metadata.issuer:
            # SEP-2352: credentials are bound to the issuer that issued them.
            self.registration = None
        if self.registration is None and self.registration_lookup is not None:
            self.registration = self.registration_lookup(metadata.issuer)
            self.registration_from_store = self.registration is not None

    async def ensure_registration(self) -> ClientRegistration:
        """Register once per authorization server and reuse it for every later round."""
        metadata = self._metadata()
        if self.registration is not None:
            return self.registration
        identity = self.identity
        if identity.client_id:
            registration = ClientRegistration(
                client_id=identity.client_id,
                issuer=metadata.issuer,
                redirect_uris=[identity.redirect_uri],
                client_secret=identity.client_secret,
                token_endpoint_auth_method=choose_token_endpoint_auth_method(
                    metadata.token_endpoint_auth_methods_supported, bool(identity.client_secret)
                ),
                kind="pre-registered",
            )
        elif identity.client_metadata_url and metadata.client_id_metadata_document_supported:
            registration = cimd_registration(
                identity.client_metadata_url, metadata.issuer, identity.redirect_uri
            )
        else:
            registration = await register_dynamically(self.http, metadata, identity.redirect_uri)
        self.registration = registration
        self.registration_from_store = False
        if self.on_registration is not None:
            self.on_registration(registration)
        self.observer(
            Event(
                EventKind.REGISTRATION,
                {"client_id": registration.client_id, "reused": False, "kind": registration.kind},
            )
        )
        return registration

    def forget_rejected_registration(self, reason: str) -> bool:
        """Drop a stored registration the AS no longer accepts, so the next step registers
        again. Only a dynamically registered client_id from an earlier run is dropped (its AS
        may have lost its database): a pre-registered or CIMD client_id cannot be replaced by
        registering, and one registered in this run was just accepted."""
        registration = self.registration
        if registration is None or not self.registration_from_store or registration.kind != "dcr":
            return False
        self.registration = None
        self.registration_from_store = False
        self.observer(
            Event(
                EventKind.REGISTRATION_REJECTED,
                {"client_id": registration.client_id, "reason": reason},
            )
        )
        return True

    def _metadata(self) -> AuthorizationServerMetadata:
        if self.as_metadata is None:
            raise DiscoveryError("discovery has not run yet")
        return self.as_metadata

    def scopes_to_request(self, scopes: list[str]) -> list[str]:
        """The resource's scopes, plus `offline_access` where SEP-2207 allows it."""
        registration = self.registration
        return with_offline_access(
            scopes,
            as_scopes_supported=self._metadata().scopes_supported,
            registered_grant_types=registration.grant_types if registration else [],
        )

    async def authorize(self, scopes: list[str]) -> TokenSet:
        """One full authorization-code round trip with PKCE, `state`, `resource` and the
        RFC 9207 check, through the user agent; returns the tokens. If the authorization
        endpoint refuses a stored registration outright (OAuth 2.1 §4.1.2.1 error page, e.g.
        "Unknown client" after the AS's database was reset), register again once and retry."""
        try:
            return await self._authorize_once(scopes)
        except AuthorizationRequestRefusedError as exc:
            if not self.forget_rejected_registration(exc.message):
                raise
        return await self._authorize_once(scopes)

    async def _authorize_once(self, scopes: list[str]) -> TokenSet:
        metadata = self._metadata()
        registration = await self.ensure_registration()
        requested = self.scopes_to_request(scopes)
        pkce = PkcePair.generate()
        redirect_uri = registration.redirect_uris[0]
        if self.identity.redirect_uri in registration.redirect_uris:
            redirect_uri = self.identity.redirect_uri
        pending = PendingAuthorization(
            state=new_state(),
            code_verifier=pkce.verifier,
            expected_issuer=metadata.issuer,
            iss_parameter_supported=metadata.iss_parameter_supported,
            redirect_uri=redirect_uri,
            requested_scope=requested,
            resource=self.resource,
        )
        added = [scope for scope in requested if scope not in scopes]
        self.observer(
            Event(EventKind.AUTHORIZATION_REQUEST, {"requested": requested, "added": added})
        )
        url = authorization_url(
            metadata.authorization_endpoint, registration, pending, pkce.challenge
        )
        callback = await self.user_agent.authorize(url, redirect_uri)
        code = accept_authorization_response(callback, pending)
        tokens = await exchange_code(
            self.http, metadata.token_endpoint, registration, pending, code, now=self.clock()
        )
        self.registration_from_store = False  # the AS accepted it
        self.observer(
            Event(
                EventKind.TOKENS,
                {
                    "how": "authorization_code",
                    "requested": requested,
                    "granted": tokens.scope,
                    "expires_at": tokens.expires_at,
                    "refresh_token": fingerprint(tokens.refresh_token),
                },
            )
        )
        return tokens

    async def refresh(self, tokens: TokenSet, reason: str) -> TokenSet:
        """OAuth 2.1 §4.3 with `resource`; the rotated refresh token replaces the old one.
        `invalid_client` for a stored registration (RFC 6749 §5.2: the AS does not know the
        client) drops that registration, so the authorization that follows registers again."""
        metadata = self._metadata()
        registration = await self.ensure_registration()
        try:
            fresh = await refresh_tokens(
                self.http,
                metadata.token_endpoint,
                registration,
                tokens,
                self.resource,
                now=self.clock(),
            )
        except TokenError as exc:
            if exc.error == "invalid_client":
                self.forget_rejected_registration(f"{exc.error}: {exc.description or ''}".strip())
            raise
        self.registration_from_store = False
        self.observer(
            Event(
                EventKind.TOKENS,
                {
                    "how": "refresh_token",
                    "reason": reason,
                    "requested": fresh.requested_scope,
                    "granted": fresh.scope,
                    "expires_at": fresh.expires_at,
                    "old_refresh_token": fingerprint(tokens.refresh_token),
                    "refresh_token": fingerprint(fresh.refresh_token),
                    "rotated": fresh.refresh_token != tokens.refresh_token,
                },
            )
        )
        return fresh
