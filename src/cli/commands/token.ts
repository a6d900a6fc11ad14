// `modelgate token`: mints a JWT from the quick start's dev issuer, for trying policies by hand.

import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('token')
    .description('mint a token from the dev issuer (quick start only)')
    .requiredOption('--sub <subject>', 'subject')
    .option('--role <role...>', 'roles claim', [])
    .option('--org <org>', 'org claim')
    .option('--tier <tier>', 'tier claim')
    .option('--aud <audience>', 'audience', 'modelgate')
    .option('--ttl <seconds>', 'lifetime in seconds', '3600')
    .action(async (opts: { sub: string; role: string[]; org?: string; tier?: string; aud: string; ttl: string }) => {
      const { SignJWT } = await import('jose');
      const dev = await import('../dev-assets.js');
      await dev.ensureDevAssets();
      const { key, kid } = await dev.devSigningKey();
      const claims: Record<string, unknown> = { roles: opts.role };
      if (opts.org) claims.org = opts.org;
      if (opts.tier) claims.tier = opts.tier;
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setIssuer(dev.DEV_ISSUER)
        .setAudience(opts.aud)
        .setSubject(opts.sub)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + Number(opts.ttl))
        .sign(key);
      process.stdout.write(`${token}\n`);
    });
}
