import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/**
 * A real OpenID Connect provider for tests: the `oidc-provider` package on
 * 127.0.0.1, with a scripted login through its interactions API (the user the
 * test names signs in and consents at once, as a person clicking through would).
 */

/** A user of the test provider. */
export interface TestUser {
  /** Subject. */
  readonly sub: string;
  /** Groups (the `groups` claim). */
  readonly groups: readonly string[];
}

/** The running provider. */
export interface TestIdp {
  /** Issuer URL, `http://127.0.0.1:<port>`. */
  readonly issuer: string;
  /** Client id of the gateway at the provider. */
  readonly clientId: string;
  /** Its client secret. */
  readonly clientSecret: string;
  /** The user the next login signs in as. */
  nextUser: TestUser;
  /** How many logins finished. */
  readonly logins: number;
  /** Stops it. */
  close(): Promise<void>;
}

/** Starts a provider whose one client is the gateway, with callback `callbackUrl`. */
export async function startIdp(callbackUrl: string, users: Record<string, TestUser> = {}): Promise<TestIdp> {
  const server: Server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'mcp-fleet-gateway';
  const clientSecret = 'upstream-client-secret-for-tests-only';
  const state = { nextUser: { sub: 'alice', groups: ['engineers'] } as TestUser, logins: 0 };
  const known = (sub: string): TestUser => users[sub] ?? (state.nextUser.sub === sub ? state.nextUser : { sub, groups: [] });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [callbackUrl],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: { openid: ['sub'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'email', 'groups'],
    conformIdTokenClaims: false,
    cookies: { keys: ['test-idp-cookie-key-0123456789abcdef'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: () => ({ sub, email: `${sub}@example.com`, groups: [...known(sub).groups] }),
    }),
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
  });
  const handle = provider.callback();
  server.on('request', (req, res) => {
    const match = /^\/interaction\/([^/?]+)/.exec(req.url ?? '');
    if (match === null) {
      handle(req, res);
      return;
    }
    // The scripted login: the provider's own interaction API signs the test's user in and records consent.
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'login') {
          state.logins += 1;
          await provider.interactionFinished(req, res, { login: { accountId: state.nextUser.sub } }, { mergeWithLastSubmission: false });
          return;
        }
        const accountId = details.session?.accountId ?? state.nextUser.sub;
        const grant = new provider.Grant({ accountId, clientId: String(details.params['client_id']) });
        grant.addOIDCScope(String(details.params['scope']));
        await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
      }
    })();
  });
  return {
    issuer,
    clientId,
    clientSecret,
    get nextUser() {
      return state.nextUser;
    },
    set nextUser(user: TestUser) {
      state.nextUser = user;
    },
    get logins() {
      return state.logins;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
