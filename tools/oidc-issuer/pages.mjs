// The issuer's few HTML pages (sign-in, sign-out, errors): plain forms, no script, no
// external font or style, labels on every input, so they pass the same accessibility and
// CSP checks as the console that sends people here.
import { createHash } from 'node:crypto';

const STYLE = `
:root{color-scheme:light dark;--accent:#1d4ed8;--fg:#111827;--muted:#4b5563;--bg:#f3f4f6;--card:#fff;--bad:#991b1b}
@media (prefers-color-scheme:dark){:root{--accent:#93c5fd;--fg:#f9fafb;--muted:#d1d5db;--bg:#111827;--card:#1f2937;--bad:#fecaca}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:26rem;margin:3rem auto;padding:1.5rem;background:var(--card);border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.4rem;margin:0 0 .25rem}
p{margin:.5rem 0 1rem;color:var(--muted)}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input{width:100%;padding:.5rem;font:inherit;border:1px solid var(--muted);border-radius:.25rem;background:var(--card);color:var(--fg)}
button{margin-top:1rem;width:100%;padding:.6rem;font:inherit;font-weight:600;border:0;border-radius:.25rem;background:var(--accent);color:var(--card);cursor:pointer}
button.secondary{background:transparent;color:var(--accent);border:1px solid var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.error{color:var(--bad);font-weight:600}
`;

// Headers for every page: no script at all, the one stylesheet by its hash, form posts to
// this issuer (and the redirects that follow them back to the client), no framing.
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · local OIDC issuer</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

// The sign-in form of an interaction. `error` (optional) is shown above the form and the
// username is kept, so a mistyped password costs one field, not two.
export function loginPage({ uid, clientName, username = '', error }) {
  const alert = error ? `<p class="error" role="alert" id="login-error">${escape(error)}</p>` : '';
  const described = error ? ' aria-describedby="login-error"' : '';
  return layout('Sign in', `<h1>Sign in</h1>
<p>to <strong>${escape(clientName)}</strong> with your operator account (local development issuer).</p>
${alert}
<form method="post" action="/interaction/${escape(uid)}/login">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escape(username)}"${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${escape(uid)}/abort">
<button type="submit" class="secondary">Cancel</button>
</form>`);
}

// oidc-provider's RP-initiated logout confirmation; `form` is its hidden form (xsrf token).
export function logoutPage(form, host) {
  return layout('Sign out', `<h1>Sign out</h1>
<p>Sign out of the local OIDC issuer at ${escape(host)} too?</p>
${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`);
}

export function loggedOutPage() {
  return layout('Signed out', '<h1>Signed out</h1><p>You are signed out of the local OIDC issuer.</p>');
}

export function errorPage(out) {
  const lines = Object.entries(out)
    .map(([key, value]) => `<p><strong>${escape(key)}</strong>: ${escape(value)}</p>`)
    .join('\n');
  return layout('Error', `<h1>Something went wrong</h1>\n${lines}`);
}
