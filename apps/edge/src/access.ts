import { ApiError } from '@edgehead/contracts';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

/** Header in which Cloudflare Access hands the signed-in user's JWT to the origin. */
export const ACCESS_JWT_HEADER = 'cf-access-jwt-assertion';

/** A Cloudflare Access application: its team domain (the JWT issuer) and its AUD tag. */
export interface AccessConfig {
  /** `https://<team>.cloudflareaccess.com`. */
  issuer: string;
  audience: string;
}

/** A user that Cloudflare Access signed in. */
export interface AccessUser {
  /** The email (users) or common name (service tokens), else the subject. */
  name: string;
  subject: string;
  expiresAt: Date;
}

/**
 * The Access application of the `ACCESS_TEAM_DOMAIN` and `ACCESS_AUD` vars, or null when neither is set
 * (Access off); 503 when only one is, since half a configuration must not silently turn Access off.
 */
export function accessConfig(env: { ACCESS_TEAM_DOMAIN?: string; ACCESS_AUD?: string }): AccessConfig | null {
  const team = env.ACCESS_TEAM_DOMAIN?.trim() ?? '';
  const audience = env.ACCESS_AUD?.trim() ?? '';
  if (!team && !audience) return null;
  if (!team || !audience)
    throw new ApiError(
      503,
      'unavailable',
      `Cloudflare Access is half configured: set both ACCESS_TEAM_DOMAIN and ACCESS_AUD (missing ${team ? 'ACCESS_AUD' : 'ACCESS_TEAM_DOMAIN'})`,
    );
  const issuer = (/^https?:\/\//.test(team) ? team : `https://${team}`).replace(/\/+$/, '');
  return { issuer, audience };
}

// one key set per team and isolate: jose caches the keys and refetches on an unknown key id
const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
function keySet(issuer: string) {
  let set = keySets.get(issuer);
  if (!set) {
    set = createRemoteJWKSet(new URL(`${issuer}/cdn-cgi/access/certs`));
    keySets.set(issuer, set);
  }
  return set;
}

/** Why jose refused a token, in words a user can act on. */
function refusal(err: unknown): string | null {
  if (err instanceof errors.JWTExpired) return 'it has expired';
  if (err instanceof errors.JWTClaimValidationFailed)
    return `its "${err.claim}" claim is wrong (${err.reason})`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the team signed it';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'it is not signed with RS256';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'it is not a valid JWT';
  return null;
}

/**
 * Verifies an Access JWT against the team's keys (`<team>/cdn-cgi/access/certs`), issuer, audience and
 * expiry: 401 when refused, 503 when the team's keys cannot be fetched.
 */
export async function verifyAccessJwt(token: string, config: AccessConfig): Promise<AccessUser> {
  try {
    const { payload } = await jwtVerify(token, keySet(config.issuer), {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: ['RS256'],
      requiredClaims: ['exp', 'sub'],
    });
    const name = [payload.email, payload.common_name, payload.sub].find((v) => typeof v === 'string' && v);
    return {
      name: name as string,
      subject: payload.sub as string,
      expiresAt: new Date((payload.exp as number) * 1000),
    };
  } catch (err) {
    const why = refusal(err);
    if (why)
      throw new ApiError(401, 'unauthorized', `Cloudflare Access token refused: ${why}`, undefined, {
        cause: err,
      });
    throw new ApiError(
      503,
      'unavailable',
      `Cloudflare Access keys of ${config.issuer} could not be read: ${(err as Error).message}`,
      undefined,
      { cause: err },
    );
  }
}
