// A real OpenID Provider for tokenwarden's single sign-on tests: panva's oidc-provider
// (OpenID-certified), configured with one confidential client and the people of a small
// school. The test harness starts it on a free port and stops it after.
//
// Environment:
//   PORT           the port to listen on (127.0.0.1)
//   CLIENT_ID      the client registered for tokenwarden
//   CLIENT_SECRET  its secret
//   REDIRECT_URI   tokenwarden's <public-url>/login/oidc/callback
//   ACCOUNTS_FILE  JSON: { "<login>": { "password", "name", "email", "groups": [..] } },
//                  read again at every sign-in, so a test moves people between groups by
//                  rewriting it
//   CLAIMS_IN      "userinfo" (the default, as the specification has it for the code flow)
//                  or "id_token" (claims in the ID token too, as Entra ID and Keycloak do)
//
// Its sign-in page is its own (GET and POST /interaction/:uid): login and password, checked
// against ACCOUNTS_FILE. Consent is implied for this first-party client.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accountsFile = process.env.ACCOUNTS_FILE;
const scopes = 'openid profile email groups';

const accounts = () => JSON.parse(readFileSync(accountsFile, 'utf8'));

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [{ ...signingKey, kid: 'test-key', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: scopes.split(' '),
  conformIdTokenClaims: process.env.CLAIMS_IN !== 'id_token',
  pkce: { required: () => true, methods: ['S256'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const person = accounts()[id];
    if (!person) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: `sub-${id}`,
          preferred_username: person.preferred_username ?? id,
          name: person.name,
          email: person.email,
          email_verified: true,
          groups: person.groups ?? [],
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const existing = session.grantIdFor(client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(scopes);
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Error</title><h1>Identity provider error</h1><p>${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`;
  },
});

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, message = '') {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in — Test University</title></head>
<body>
<h1>Test University sign-in</h1>
${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
  <label for="login">Username</label> <input id="login" name="login" autofocus>
  <label for="password">Password</label> <input id="password" name="password" type="password">
  <button type="submit">Sign in</button>
</form>
</body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

const callback = provider.callback();

const server = createServer(async (req, res) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(req.url.split('?')[0]);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== match[1]) throw new Error('interaction mismatch');
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(loginPage(details.uid));
    }
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    const person = accounts()[login];
    if (!person || person.password !== form.get('password')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(loginPage(details.uid, 'Wrong username or password.'));
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`interaction failed: ${err.message}`);
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
