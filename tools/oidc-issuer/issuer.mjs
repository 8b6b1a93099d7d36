// A real OpenID Connect issuer for tests and local runs: panva's certified `oidc-provider`,
// so the services' verifier is tested against what a production issuer sends, not against
// tokens we mint ourselves.
//
// Client-credentials grant only. Access tokens are RS256 JWTs whose `aud` is the requested
// `resource` indicator verbatim (any absolute URI, e.g. `api://sales`). Offline.
//
//   node issuer.mjs [--port N] [--host H] [--url URL] [--admin] [--clients JSON] [--exit-with-stdin]
//   (or ISSUER_PORT, ISSUER_HOST, ISSUER_URL, ISSUER_ADMIN=1, ISSUER_CLIENTS)
//
// Listens on 127.0.0.1 unless --host says otherwise (0.0.0.0 in a container), and names
// itself http://127.0.0.1:PORT unless --url gives the address its callers use (e.g.
// http://oidc-issuer:9000 inside docker-compose): tokens' `iss` must match what the
// services are configured with.
// Prints one line on stdout once it listens: {"issuer":"<url>"}.
// --clients is a JSON array of {client_id, client_secret, access_token_ttl?}.
// --admin enables POST /__admin/rotate-keys (tests only): a new signing key, the old one
// leaves the JWKS, the URL stays the same.
// --exit-with-stdin: exit when standard input closes, i.e. when the test process that
// started the issuer (holding the pipe's other end) is gone, however it ended.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const SCOPES = 'sales:read sales:write integrations:read integrations:write';

// Local development values, not secrets. `short-lived` gives tests a genuinely expired token;
// `second-service` is another calling service, for tests of what one caller may do that
// another may not.
const DEFAULT_CLIENTS = [
  { client_id: 'platform-dev', client_secret: 'platform-dev-secret' },
  { client_id: 'second-service', client_secret: 'second-service-secret' },
  { client_id: 'short-lived', client_secret: 'short-lived-secret', access_token_ttl: 1 },
];

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.ISSUER_PORT ?? '0' },
    host: { type: 'string', default: process.env.ISSUER_HOST ?? '127.0.0.1' },
    url: { type: 'string', default: process.env.ISSUER_URL },
    admin: { type: 'boolean', default: process.env.ISSUER_ADMIN === '1' },
    clients: { type: 'string', default: process.env.ISSUER_CLIENTS },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});
const clients = args.clients ? JSON.parse(args.clients) : DEFAULT_CLIENTS;
const ttlByClient = new Map(clients.map((c) => [c.client_id, c.access_token_ttl ?? 600]));

// A fresh key per start (and per rotation): no key material is ever written to disk.
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('base64url');
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

function provider(issuer, key) {
  return new Provider(issuer, {
    clients: clients.map(({ client_id, client_secret }) => ({
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
    jwks: { keys: [key] },
    scopes: SCOPES.split(' '),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Every absolute URI names a resource server (oidc-provider has already rejected
        // anything else); its tokens are JWTs for exactly that audience.
        getResourceServerInfo: (_ctx, resource) => ({
          audience: resource,
          scope: SCOPES,
          accessTokenFormat: 'jwt',
        }),
      },
    },
    ttl: { ClientCredentials: (_ctx, _token, client) => ttlByClient.get(client.clientId) },
  });
}

// One HTTP server for the process's life; the provider behind it is swapped on rotation,
// so the issuer URL (and thus every verifier's configuration) survives a key change.
let handle;
let issuer;
function rotate() {
  const key = signingKey();
  handle = provider(issuer, key).callback();
  return key.kid;
}

const server = createServer((req, res) => {
  if (args.admin && req.method === 'POST' && req.url === '/__admin/rotate-keys') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: rotate() }));
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
