// A real OpenID Connect issuer for tests and local runs: panva's certified `oidc-provider`,
// so the services' verifier is tested against what a production issuer sends, not against
// tokens we mint ourselves. Offline; state in memory.
//
// Two ways to get a token:
// - Client credentials (services and tests): access tokens are RS256 JWTs whose `aud` is
//   the requested `resource` indicator verbatim (any absolute URI, e.g. `api://sales`).
//   Without `resource`, the audience follows from the requested scopes when they all belong
//   to one API (`sales:*` -> api://sales), so Swagger UI's "Authorize" works as is.
// - Authorization code + PKCE (people, through the `console` client): a sign-in page for
//   the operator accounts configured here, resource indicators (RFC 8707) for
//   api://users, api://sales and api://integrations in one authorization, then one access
//   token per audience: the code for the first, the refresh token for the others.
//
//   node issuer.mjs [--port N] [--host H] [--url URL] [--admin] [--clients JSON]
//                   [--operators JSON] [--console-url URL] [--exit-with-stdin]
//   (or ISSUER_PORT, ISSUER_HOST, ISSUER_URL, ISSUER_ADMIN=1, ISSUER_CLIENTS,
//    ISSUER_OPERATORS, ISSUER_CONSOLE_URL)
//
// Listens on 127.0.0.1 unless --host says otherwise (0.0.0.0 in a container), and names
// itself http://127.0.0.1:PORT unless --url gives the address its callers use (e.g.
// http://oidc-issuer:9000 inside docker-compose): tokens' `iss` must match what the
// services are configured with.
// Prints one line on stdout once it listens: {"issuer":"<url>"}.
// --clients is a JSON array of {client_id, client_secret, access_token_ttl?} (client
//   credentials only); the `console` client is always there besides them.
// --operators is a JSON array of {username, password, name?, groups[]}: the people who can
//   sign in. Only members of `platform-operators` may sign in to the console (as an Okta
//   app is assigned to a group); their tokens carry the scopes of each API.
// --console-url is the console's address; its redirect URI is <url>/ops/callback.
// --admin enables POST /__admin/rotate-keys (tests only): a new signing key, the old one
// leaves the JWKS, the URL stays the same.
// --exit-with-stdin: exit when standard input closes, i.e. when the test process that
// started the issuer (holding the pipe's other end) is gone, however it ended.
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

import {
  PAGE_HEADERS, errorPage, loggedOutPage, loginPage, logoutPage,
} from './pages.mjs';

// Each API's audience and the scopes it knows. A person's token for an audience carries
// only that API's scopes.
const RESOURCE_SCOPES = {
  'api://users': ['users:admin'],
  'api://sales': ['sales:read', 'sales:write'],
  'api://integrations': ['integrations:read', 'integrations:write'],
};
const SCOPES = Object.values(RESOURCE_SCOPES).flat().join(' ');

// The group whose members may use the console: the dev counterpart of assigning the Okta
// app to a group. Everyone else is refused at sign-in with `access_denied`, as Okta refuses
// a user the app is not assigned to.
const OPERATOR_GROUP = 'platform-operators';
const CONSOLE_CLIENT_ID = 'console';

// Local development values, not secrets. `short-lived` gives tests a genuinely expired token;
// `second-service` is another calling service, for tests of what one caller may do that
// another may not.
const DEFAULT_CLIENTS = [
  { client_id: 'platform-dev', client_secret: 'platform-dev-secret' },
  { client_id: 'second-service', client_secret: 'second-service-secret' },
  { client_id: 'short-lived', client_secret: 'short-lived-secret', access_token_ttl: 1 },
];
// `viewer` can sign in but is no operator: the console must refuse it.
const DEFAULT_OPERATORS = [
  { username: 'operator', password: 'operator-password-1', name: 'Dev Operator', groups: [OPERATOR_GROUP] },
  { username: 'viewer', password: 'viewer-password-1', name: 'Dev Viewer', groups: [] },
];
const CONSOLE_SECRET = process.env.ISSUER_CONSOLE_SECRET ?? 'console-dev-secret';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.ISSUER_PORT ?? '0' },
    host: { type: 'string', default: process.env.ISSUER_HOST ?? '127.0.0.1' },
    url: { type: 'string', default: process.env.ISSUER_URL },
    admin: { type: 'boolean', default: process.env.ISSUER_ADMIN === '1' },
    clients: { type: 'string', default: process.env.ISSUER_CLIENTS },
    operators: { type: 'string', default: process.env.ISSUER_OPERATORS },
    'console-url': { type: 'string', default: process.env.ISSUER_CONSOLE_URL ?? 'http://127.0.0.1:8080' },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});
const clients = args.clients ? JSON.parse(args.clients) : DEFAULT_CLIENTS;
const ttlByClient = new Map(clients.map((c) => [c.client_id, c.access_token_ttl ?? 600]));
const operators = new Map(
  (args.operators ? JSON.parse(args.operators) : DEFAULT_OPERATORS).map((o) => [o.username, o]),
);

// The console's addresses: the configured one and its `localhost` twin, so either name of
// the loopback address works in a browser.
function consoleOrigins(url) {
  const origin = new URL(url);
  const twin = new URL(url);
  if (origin.hostname === '127.0.0.1') twin.hostname = 'localhost';
  else if (origin.hostname === 'localhost') twin.hostname = '127.0.0.1';
  return [...new Set([origin.origin, twin.origin])];
}
const CONSOLE_ORIGINS = consoleOrigins(args['console-url']);

// The one API whose scopes `scope` asks for, if there is exactly one.
function resourceForScopes(scope) {
  const requested = new Set((scope ?? '').split(' ').filter(Boolean));
  const matches = Object.entries(RESOURCE_SCOPES)
    .filter(([, known]) => known.some((s) => requested.has(s)))
    .map(([resource]) => resource);
  return matches.length === 1 ? matches[0] : undefined;
}

// Compares digests, so the time taken says nothing about how much of a password matched.
function samePassword(given, expected) {
  const digest = (value) => createHash('sha256').update(String(value)).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function findAccount(_ctx, sub) {
  const person = operators.get(sub);
  if (!person) return undefined;
  return {
    accountId: sub,
    claims: () => ({
      sub,
      name: person.name ?? sub,
      preferred_username: sub,
      groups: person.groups ?? [],
    }),
  };
}

// A fresh key per start (and per rotation): no key material is ever written to disk.
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('base64url');
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

function sendPage(res, status, html) {
  res.writeHead(status, PAGE_HEADERS);
  res.end(html);
}

function provider(issuer, key) {
  const callbackUris = CONSOLE_ORIGINS.map((o) => `${o}/ops/callback`);
  return new Provider(issuer, {
    clients: [
      ...clients.map(({ client_id, client_secret }) => ({
        client_id,
        client_secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        // The method is only the registered default: oidc-provider accepts the secret by
        // Basic header (client_secret_basic) or in the form (client_secret_post) either way.
        token_endpoint_auth_method: 'client_secret_basic',
        scope: SCOPES,
      })),
      {
        client_id: CONSOLE_CLIENT_ID,
        client_secret: CONSOLE_SECRET,
        client_name: 'Platform console',
        // Client credentials too: the console's own token names it to the services as the
        // forwarder of a person's address.
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        redirect_uris: callbackUris,
        post_logout_redirect_uris: CONSOLE_ORIGINS.map((o) => `${o}/`),
        token_endpoint_auth_method: 'client_secret_basic',
        scope: `openid profile groups offline_access ${SCOPES}`,
      },
    ],
    jwks: { keys: [key] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', ...SCOPES.split(' ')],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    // The console reads who signed in (and the operator group) from the ID token alone.
    conformIdTokenClaims: false,
    findAccount,
    pkce: { required: () => true },
    // The console keeps one refresh token per sign-in to get each audience's token; no
    // `offline_access` consent dance for a first-party client.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // Swagger UI on a service's loopback port asks for tokens from the browser.
    clientBasedCORS: (_ctx, origin) => {
      const host = URL.parse(origin)?.hostname;
      return host === '127.0.0.1' || host === 'localhost';
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.set(PAGE_HEADERS);
      ctx.body = errorPage(out);
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.set(PAGE_HEADERS);
          ctx.body = logoutPage(form, ctx.host);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.set(PAGE_HEADERS);
          ctx.body = loggedOutPage();
        },
      },
      resourceIndicators: {
        enabled: true,
        // Without `resource`: the API that the requested scopes name, if only one.
        // With several granted (a refresh token's), the caller must say which one it wants.
        defaultResource: async (ctx, _client, oneOf) => {
          if (oneOf) return oneOf;
          const resource = resourceForScopes(ctx.oidc.params.scope);
          // A client-credentials token without an audience is opaque, and no API here
          // accepts one: say so instead of handing it out.
          if (!resource && ctx.oidc.params.grant_type === 'client_credentials') {
            throw new errors.InvalidTarget(
              'name the API: pass resource (e.g. api://sales), or ask for the scopes of one API only',
            );
          }
          return resource;
        },
        // People's tokens carry only the audience's own scopes. Client-credential callers
        // may ask any audience for any scope (tests of a service refusing another API's
        // scope need such tokens). Every absolute URI names a resource server (oidc-provider
        // has already rejected anything else); its tokens are JWTs for exactly that audience.
        getResourceServerInfo: (ctx, resource) => ({
          audience: resource,
          scope: ctx.oidc.params.grant_type === 'client_credentials'
            ? SCOPES
            : (RESOURCE_SCOPES[resource] ?? []).join(' '),
          accessTokenFormat: 'jwt',
        }),
        useGrantedResource: async () => true,
      },
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      ClientCredentials: (_ctx, _token, client) => ttlByClient.get(client.clientId) ?? 600,
      Grant: 8 * 3600,
      IdToken: 600,
      Interaction: 600,
      RefreshToken: 8 * 3600,
      Session: 8 * 3600,
    },
  });
}

// The request's form body, at most 8 KiB.
async function formBody(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 8192) throw new errors.InvalidRequest('form too large');
  }
  return new URLSearchParams(body);
}

// The sign-in page of an interaction, and its answers. Consent is given by the issuer
// itself: the console is first-party, and an operator gets each API's scopes.
async function interaction(oidc, req, res) {
  const [, , uid, action] = req.url.split('?')[0].split('/');
  const details = await oidc.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction session id cookie not found');
  const client = await oidc.Client.find(details.params.client_id);
  const clientName = client?.clientName ?? details.params.client_id;

  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') {
      return sendPage(res, 200, loginPage({ uid, clientName }));
    }
    return consent(oidc, details, req, res);
  }
  if (req.method === 'POST' && action === 'abort') {
    return oidc.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'The sign-in was cancelled.',
    }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'login' && details.prompt.name === 'login') {
    const form = await formBody(req);
    const username = form.get('username') ?? '';
    const person = operators.get(username);
    if (!person || !samePassword(form.get('password') ?? '', person.password)) {
      return sendPage(res, 401, loginPage({
        uid, clientName, username, error: 'Wrong username or password.',
      }));
    }
    if (client?.clientId === CONSOLE_CLIENT_ID && !(person.groups ?? []).includes(OPERATOR_GROUP)) {
      return oidc.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: `${username} may not use the console: only members of ${OPERATOR_GROUP} may.`,
      }, { mergeWithLastSubmission: false });
    }
    return oidc.interactionFinished(req, res, { login: { accountId: username } }, {
      mergeWithLastSubmission: false,
    });
  }
  res.writeHead(405, { allow: 'GET, POST' });
  return res.end();
}

async function consent(oidc, details, req, res) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await oidc.Grant.find(details.grantId)
    : new oidc.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return oidc.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

// One HTTP server for the process's life; the provider behind it is swapped on rotation,
// so the issuer URL (and thus every verifier's configuration) survives a key change.
let oidc;
let handle;
let issuer;
function rotate() {
  const key = signingKey();
  oidc = provider(issuer, key);
  handle = oidc.callback();
  return key.kid;
}

const server = createServer((req, res) => {
  if (args.admin && req.method === 'POST' && req.url === '/__admin/rotate-keys') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: rotate() }));
    return;
  }
  if (req.url.startsWith('/interaction/')) {
    interaction(oidc, req, res).catch((error) => {
      sendPage(res, error.statusCode ?? 400, errorPage({
        error: error.error ?? 'server_error',
        error_description: error.error_description ?? 'The sign-in could not go on; start it again.',
      }));
    });
    return;
  }
  handle(req, res);
});

if (args['exit-with-stdin']) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

server.listen(Number(args.port), args.host, () => {
  issuer = args.url ?? `http://127.0.0.1:${server.address().port}`;
  rotate();
  console.log(JSON.stringify({ issuer }));
});
