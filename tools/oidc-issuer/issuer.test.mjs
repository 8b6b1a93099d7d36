// The issuer's contract with its callers (`node --test tools/oidc-issuer/`): Swagger UI's
// client-credentials tokens without `resource`, and the console's operator sign-in
// (authorization code + PKCE, one token per audience). The verifier's side of the contract
// (token shapes, key rotation) is crates/test-support/tests/oidc_issuer.rs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';

const CONSOLE = 'http://127.0.0.1:8080';
const CALLBACK = `${CONSOLE}/ops/callback`;
const CONSOLE_AUTH = `Basic ${Buffer.from('console:console-dev-secret').toString('base64')}`;
const DEV_AUTH = `Basic ${Buffer.from('platform-dev:platform-dev-secret').toString('base64')}`;

let issuer;
let child;

before(async () => {
  child = spawn(process.execPath, ['issuer.mjs', '--port', '0', '--exit-with-stdin'], {
    cwd: new URL('.', import.meta.url),
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  issuer = JSON.parse(line).issuer;
});

after(() => child.kill());

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

async function token(form, authorization) {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: await response.json() };
}

// A browser in miniature: its cookies, and redirects followed by hand until they leave the
// issuer (the console's callback is never called; its URL is the answer).
class Browser {
  cookies = new Map();

  async go(url, form) {
    const response = await fetch(new URL(url, issuer), {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      body: form && new URLSearchParams(form),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const at = pair.indexOf('=');
      this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const location = response.headers.get('location');
    if (location && !location.startsWith(CONSOLE)) return this.go(location);
    return { status: response.status, location, html: await response.text() };
  }
}

// Starts the console's authorization request and signs in on the issuer's page; returns
// the callback URL the browser is sent to, and the PKCE verifier.
async function signIn(username, password) {
  const verifier = randomBytes(32).toString('base64url');
  const query = new URLSearchParams({
    client_id: 'console',
    response_type: 'code',
    redirect_uri: CALLBACK,
    scope: 'openid profile groups sales:read sales:write integrations:read integrations:write users:admin',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'state-1',
    nonce: 'nonce-1',
  });
  for (const resource of ['api://users', 'api://sales', 'api://integrations']) {
    query.append('resource', resource);
  }
  const browser = new Browser();
  const page = await browser.go(`/auth?${query}`);
  assert.equal(page.status, 200);
  assert.match(page.html, /<label for="password">Password<\/label>/);
  const uid = page.html.match(/action="\/interaction\/([^/]+)\/login"/)[1];
  const done = await browser.go(`/interaction/${uid}/login`, { username, password });
  return { done, verifier, uid, browser };
}

describe('client credentials', () => {
  it('pick the audience from the scopes when `resource` is absent', async () => {
    const { status, body } = await token(
      { grant_type: 'client_credentials', scope: 'sales:read sales:write' },
      DEV_AUTH,
    );
    assert.equal(status, 200);
    const jwt = claims(body.access_token);
    assert.equal(jwt.aud, 'api://sales');
    assert.equal(jwt.scope, 'sales:read sales:write');
  });

  it('refuse scopes of several APIs without `resource`, naming the fix', async () => {
    const { status, body } = await token(
      { grant_type: 'client_credentials', scope: 'sales:read integrations:read' },
      DEV_AUTH,
    );
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_target');
    assert.match(body.error_description, /pass resource/);
  });

  it('are allowed from a service\'s Swagger UI on a loopback origin', async () => {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: DEV_AUTH,
        origin: 'http://127.0.0.1:8082',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'sales:read' }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8082');
  });
});

describe('operator sign-in (authorization code + PKCE)', () => {
  it('gives an operator one token per audience, each with that API\'s scopes only', async () => {
    const { done, verifier } = await signIn('operator', 'operator-password-1');
    const callback = new URL(done.location);
    assert.equal(callback.origin + callback.pathname, CALLBACK);
    assert.equal(callback.searchParams.get('state'), 'state-1');
    const code = callback.searchParams.get('code');

    const first = await token({
      grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier, resource: 'api://users',
    }, CONSOLE_AUTH);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const id = claims(first.body.id_token);
    assert.equal(id.sub, 'operator');
    assert.equal(id.nonce, 'nonce-1');
    assert.deepEqual(id.groups, ['platform-operators']);
    const users = claims(first.body.access_token);
    assert.deepEqual([users.aud, users.scope, users.sub, users.client_id], ['api://users', 'users:admin', 'operator', 'console']);

    for (const [resource, scope] of [['api://sales', 'sales:read sales:write'], ['api://integrations', 'integrations:read integrations:write']]) {
      const next = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token, resource }, CONSOLE_AUTH);
      assert.equal(next.status, 200, JSON.stringify(next.body));
      const jwt = claims(next.body.access_token);
      assert.deepEqual([jwt.aud, jwt.scope, jwt.sub], [resource, scope, 'operator']);
    }
  });

  it('refuses a code redeemed without its PKCE verifier', async () => {
    const { done } = await signIn('operator', 'operator-password-1');
    const code = new URL(done.location).searchParams.get('code');
    const { status, body } = await token({
      grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: randomBytes(32).toString('base64url'), resource: 'api://users',
    }, CONSOLE_AUTH);
    assert.equal(status, 400);
    assert.equal(body.error, 'invalid_grant');
  });

  it('shows the form again after a wrong password, keeping the username', async () => {
    const { done } = await signIn('operator', 'not-the-password');
    assert.equal(done.status, 401);
    assert.match(done.html, /role="alert"[^>]*>Wrong username or password\./);
    assert.match(done.html, /name="username"[^>]*value="operator"/);
  });

  it('sends a person outside the operator group back with access_denied', async () => {
    const { done } = await signIn('viewer', 'viewer-password-1');
    const callback = new URL(done.location).searchParams;
    assert.equal(callback.get('error'), 'access_denied');
    assert.match(callback.get('error_description'), /viewer may not use the console/);
  });
});
