import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/** The `acr` of a sign-in that used two factors; a client asks for it with `acr_values`. */
export const MFA_ACR = 'urn:gatehouse:mfa';

/** The sign-in prompt's reason when the client needs a second factor the session lacks. */
export const MFA_REQUIRED = 'mfa_required';

/** The sign-in prompt's reason when the signed-in person has no permission for a restricted tool. */
export const NO_TOOL_ACCESS = 'no_tool_access';

/** Whether the account may sign in to the tool at all. */
export type ToolAccessCheck = (accountId: string, toolId: string) => Promise<boolean>;

const prompt = (needed: boolean) => (needed ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT);

/**
 * oidc-provider's default prompts, plus two checks on `login`, evaluated on every
 * authorization request (so SSO cannot skip them) and again after each sign-in:
 * - a client registered with `require_mfa`, or a request naming MFA_ACR in
 *   `acr_values`, makes a session without a second factor sign in again (and, lacking
 *   one, enrol);
 * - a `restricted` tool stops a person with no permission there; the hosted page says
 *   so and returns `access_denied` to the tool.
 */
export function gatehouseInteractionPolicy(mayUseTool: ToolAccessCheck): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  login.checks.add(
    new interactionPolicy.Check(MFA_REQUIRED, 'this application requires two-factor authentication', async (ctx: KoaContextWithOIDC) => {
      const { client, params, session } = ctx.oidc;
      const requested = String(params?.acr_values ?? '').split(' ').includes(MFA_ACR);
      const required = requested || client?.metadata().require_mfa === true;
      return prompt(required && !session?.amr?.includes('mfa'));
    }),
  );
  login.checks.add(
    new interactionPolicy.Check(NO_TOOL_ACCESS, 'you have no access to this application', async (ctx: KoaContextWithOIDC) => {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId || client.metadata().restricted !== true) return prompt(false);
      return prompt(!(await mayUseTool(session.accountId, client.clientId)));
    }),
  );
  return policy;
}
