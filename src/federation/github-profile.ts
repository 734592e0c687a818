import * as oidc from 'openid-client';
import type { UpstreamProfile } from './linking.js';

interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  avatar_url: string | null;
}

interface GitHubEmail {
  email: string;
  verified: boolean;
  primary: boolean;
}

async function getJson<T>(config: oidc.Configuration, accessToken: string, url: string): Promise<T> {
  const res = await oidc.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, new Headers({ accept: 'application/vnd.github+json' }));
  if (!res.ok) throw new Error(`GitHub API ${new URL(url).pathname} answered ${res.status}`);
  return (await res.json()) as T;
}

/**
 * A GitHub account as an upstream profile: the numeric id (stable, unlike the login) is
 * the subject, and the email is the primary address with GitHub's own verified flag.
 */
export async function githubProfile(config: oidc.Configuration, apiUrl: string, accessToken: string): Promise<UpstreamProfile> {
  const [user, emails] = await Promise.all([
    getJson<GitHubUser>(config, accessToken, `${apiUrl}/user`),
    getJson<GitHubEmail[]>(config, accessToken, `${apiUrl}/user/emails`),
  ]);
  const primary = emails.find((e) => e.primary) ?? null;
  return {
    subject: String(user.id),
    email: primary?.email ?? null,
    emailVerified: primary?.verified === true,
    name: user.name ?? user.login,
    picture: user.avatar_url,
  };
}
