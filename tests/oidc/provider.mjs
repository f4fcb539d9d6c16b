// A real OpenID Connect provider (node-oidc-provider) on loopback, for the sign-in tests.
//
// node tests/oidc/provider.mjs CONFIG.json
//   CONFIG: {"port": 0, "clients": [...], "accounts": "accounts.json", "ready": "ready.json"}
// The accounts file is read at every sign-in, so a test can change a person's groups between
// two sign-ins. Interactions are the provider's own development login form (any password);
// consent is granted to these first-party clients without a question, as Entra ID does for an
// application an administrator has consented to. ID tokens carry the profile, email and groups
// claims (as Entra ID's do), signed with the provider's keys (RS256), published at its JWKS.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = () => JSON.parse(readFileSync(config.accounts, 'utf8'));

const server = createServer();
await new Promise((resolve) => server.listen(config.port || 0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  scopes: ['openid', 'profile', 'email'],
  claims: {  // groups come with the profile, as Entra ID puts them in the ID token with no scope of their own
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'oid', 'tid', 'groups'],
    email: ['email'],
  },
  conformIdTokenClaims: false,
  cookies: { keys: ['pathways-tests-only'] },
  ttl: { IdToken: 3600, AccessToken: 3600, AuthorizationCode: 120, Session: 3600, Interaction: 3600, Grant: 3600 },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const account = accounts()[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: account.sub, ...account.claims }; } };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));
server.on('request', provider.callback());
writeFileSync(config.ready, JSON.stringify({ issuer, port }));
console.log(`oidc provider at ${issuer}`);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
