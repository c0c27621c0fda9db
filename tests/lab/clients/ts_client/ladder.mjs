// Drive the official TypeScript MCP SDK v1 client (@modelcontextprotocol/sdk 1.32.x) through the
// notes ladder against our real servers, the way an application built on it would:
// Client + StreamableHTTPClientTransport + an OAuthClientProvider whose redirectToAuthorization
// plays the user headlessly on the AS's real login and consent pages (the form structure of
// docs/architecture.md, like demo_client/user_agents.py's HeadlessUserAgent), then hands the code
// to transport.finishAuth(code) - the only thing the SDK takes back from the redirect.
//
// Usage: node ladder.mjs <MCP server URL>
// Environment: MCP_TS_SDK (the installed package's folder), LADDER_CLIENT_NAME,
// LADDER_REFRESH ("1": register the refresh_token grant), LADDER_USERNAME, LADDER_PASSWORD.
// Prints one JSON object: {client_id, authorizations: [{scope, iss}], calls: [{tool, ok, error}]}.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const sdk = process.env.MCP_TS_SDK;
const load = (path) => import(pathToFileURL(join(sdk, 'dist/esm', path)).href);
const { Client } = await load('client/index.js');
const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
const { UnauthorizedError } = await load('client/auth.js');

const serverUrl = new URL(process.argv[2]);
const REDIRECT_URI = 'http://127.0.0.1:47931/callback';
const MAX_PAGES = 10;

// --- the user: login and consent through the AS's HTML forms ---------------------------------

const attributes = (tag) =>
  Object.fromEntries([...tag.matchAll(/([\w-]+)(?:\s*=\s*"([^"]*)")?/g)].slice(1).map((m) => [m[1].toLowerCase(), m[2] ?? '']));

const unescape = (text) =>
  text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function onePostForm(html, url) {
  const forms = [...html.matchAll(/(<form\b[^>]*>)([\s\S]*?)<\/form>/gi)]
    .map((m) => ({ attrs: attributes(m[1]), body: m[2] }))
    .filter((f) => (f.attrs.method || 'get').toLowerCase() === 'post');
  if (forms.length !== 1) throw new Error(`expected one POST form at ${url}, found ${forms.length}`);
  const form = forms[0];
  const inputs = [...form.body.matchAll(/<input\b[^>]*>/gi)].map((m) => attributes(m[0]));
  const buttons = [...form.body.matchAll(/<button\b[^>]*>/gi)].map((m) => attributes(m[0]));
  return { action: new URL(unescape(form.attrs.action || url), url), inputs, buttons };
}

class HeadlessUser {
  constructor(username, password) {
    this.username = username;
    this.password = password;
    this.cookies = new Map();
  }

  async fetch(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      this.cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    return response;
  }

  // Returns the URL the AS redirected back to (not fetched: nothing listens there).
  async authorize(authorizationUrl) {
    let response = await this.fetch(authorizationUrl);
    for (let page = 0; page < MAX_PAGES; page++) {
      if (response.status >= 300 && response.status < 400) {
        const location = new URL(response.headers.get('location'), response.url || authorizationUrl);
        if (location.href.startsWith(REDIRECT_URI)) return location;
        response = await this.fetch(location);
        continue;
      }
      const html = await response.text();
      if (response.status !== 200) throw new Error(`the AS answered ${response.status}: ${html.slice(0, 300)}`);
      const form = onePostForm(html, response.url || authorizationUrl);
      const data = new URLSearchParams();
      for (const input of form.inputs) {
        const type = (input.type || 'text').toLowerCase();
        if (type === 'hidden') data.append(input.name, unescape(input.value));
        else if (type === 'checkbox') data.append(input.name, unescape(input.value)); // grant all
        else if (type === 'password') data.append(input.name, this.password);
        else if (input.name === 'username') data.append(input.name, this.username);
      }
      const approve = form.buttons.find((b) => b.name === 'decision' && b.value === 'approve');
      if (approve) data.append('decision', 'approve');
      response = await this.fetch(form.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: data.toString(),
      });
    }
    throw new Error(`no redirect to ${REDIRECT_URI} after ${MAX_PAGES} pages`);
  }
}

// --- the application's OAuthClientProvider (in memory, like the SDK's example provider) -------

class LadderProvider {
  constructor(user, refresh) {
    this.user = user;
    this.metadata = {
      client_name: process.env.LADDER_CLIENT_NAME || 'ts-sdk ladder',
      redirect_uris: [REDIRECT_URI],
      grant_types: refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
    this.authorizations = [];
    this.pendingCode = undefined;
  }
  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() { return this.metadata; }
  // The SDK sends what state() returns; checking it on the way back is the application's job.
  state() { return (this.expectedState = randomBytes(24).toString('base64url')); }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.stored; }
  saveTokens(tokens) { this.stored = tokens; }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
  async redirectToAuthorization(url) {
    const back = await this.user.authorize(url);
    const params = back.searchParams;
    this.authorizations.push({ scope: url.searchParams.get('scope'), iss: params.get('iss') });
    if (params.get('error')) throw new Error(`authorization refused: ${params.get('error')}`);
    if (params.get('state') !== this.expectedState) throw new Error('state mismatch');
    // A v1 application can hand the SDK only the code: finishAuth(code) has no iss parameter.
    this.pendingCode = params.get('code');
  }
  takeCode() {
    const code = this.pendingCode;
    this.pendingCode = undefined;
    return code;
  }
}

// --- the ladder -------------------------------------------------------------------------------

const user = new HeadlessUser(process.env.LADDER_USERNAME || 'alice', process.env.LADDER_PASSWORD || 'wonderland');
const provider = new LadderProvider(user, process.env.LADDER_REFRESH === '1');

async function connected() {
  // As in the SDK's simpleOAuthClient example: a 401 on connect sends the user to authorize;
  // after finishAuth a new transport connects with the token.
  for (let attempt = 0; attempt < 3; attempt++) {
    const transport = new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });
    const client = new Client({ name: provider.metadata.client_name, version: '1.0.0' });
    try {
      await client.connect(transport);
      return { client, transport };
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || provider.pendingCode === undefined) throw error;
      await transport.finishAuth(provider.takeCode());
    }
  }
  throw new Error('could not connect');
}

const { client, transport } = await connected();
const calls = [];

async function call(tool, args) {
  // A tool call that hits 403 insufficient_scope makes the SDK re-authorize (or refresh); when it
  // sent the user to the AS the call rejects with UnauthorizedError, and after finishAuth the
  // application retries it once.
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const result = await client.callTool({ name: tool, arguments: args });
      calls.push({ tool, ok: !result.isError, error: result.isError ? JSON.stringify(result.content) : null });
      return result;
    } catch (error) {
      if (error instanceof UnauthorizedError && provider.pendingCode !== undefined) {
        await transport.finishAuth(provider.takeCode());
        continue;
      }
      calls.push({ tool, ok: false, error: String(error.message || error) });
      return null;
    }
  }
  calls.push({ tool, ok: false, error: 'still unauthorized after re-authorizing' });
  return null;
}

await call('list_notes', {});
const created = await call('create_note', { title: 'groceries', body: 'milk' });
await call('delete_note', { note_id: created?.structuredContent?.id ?? 1 });
await call('list_notes', {});
await client.close();

process.stdout.write(
  JSON.stringify({
    client_id: provider.client?.client_id,
    has_refresh_token: Boolean(provider.stored?.refresh_token),
    authorizations: provider.authorizations,
    calls,
  }) + '\n',
);
