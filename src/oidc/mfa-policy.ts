import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';

/** The `acr` of a sign-in that used two factors; a client asks for it with `acr_values`. */
export const MFA_ACR = 'urn:gatehouse:mfa';

/** The sign-in prompt's reason when the client needs a second factor the session lacks. */
export const MFA_REQUIRED = 'mfa_required';

/**
 * oidc-provider's default prompts, plus one check on `login`: a client registered with
 * `require_mfa`, or a request naming MFA_ACR in `acr_values`, makes a session without a
 * second factor sign in again (and, lacking one, enrol) — SSO cannot skip it.
 */
export function interactionPolicyWithMfa(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(
    new interactionPolicy.Check(MFA_REQUIRED, 'this application requires two-factor authentication', async (ctx: KoaContextWithOIDC) => {
      const { client, params, session } = ctx.oidc;
      const requested = String(params?.acr_values ?? '').split(' ').includes(MFA_ACR);
      const required = requested || client?.metadata().require_mfa === true;
      return required && !session?.amr?.includes('mfa') ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}
