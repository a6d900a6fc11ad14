// `modelgate keys create --id ID`: a new API key, printed once, and the config entry that stores its hash.

import type { Command } from 'commander';

export function register(program: Command): void {
  const keys = program.command('keys').description('manage API keys');
  keys
    .command('create')
    .description('create an API key; prints the key once and the YAML entry to paste under identity.api_keys.keys')
    .requiredOption('--id <id>', 'key id (lower-case letters, digits, dashes)')
    .option('--subject <subject>', 'subject the key authenticates as (default: the id)')
    .option('--role <role...>', 'roles granted to the key', [])
    .option('-c, --config <file>', 'config whose api_keys secret hashes the key', process.env.MODELGATE_CONFIG)
    .option('--expires <iso-datetime>', 'expiry, e.g. 2027-01-01T00:00:00Z')
    .action(async (opts: { id: string; subject?: string; role: string[]; config?: string; expires?: string }) => {
      const { readFileSync } = await import('node:fs');
      const { resolve } = await import('node:path');
      const { stringify } = await import('yaml');
      const { createApiKey } = await import('../../identity/api-key.js');
      const { loadConfig } = await import('../../config/load.js');
      const dev = await import('../dev-assets.js');
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(opts.id)) throw new Error('key ids are lower-case letters, digits and dashes');
      let configFile = opts.config;
      if (!configFile) {
        await dev.ensureDevAssets();
        configFile = dev.EXAMPLE_CONFIG;
      }
      const loaded = loadConfig(configFile);
      const cfg = loaded.config.identity.api_keys;
      if (!cfg) throw new Error(`${configFile}: identity.api_keys is not configured`);
      const raw = cfg.secret_file ? readFileSync(resolve(loaded.baseDir, cfg.secret_file), 'utf8').trim() : process.env[cfg.secret_env];
      if (!raw) throw new Error(`API key secret missing: set ${cfg.secret_file ? `file ${cfg.secret_file}` : `env ${cfg.secret_env}`}`);
      // A key with a role no rule can name would authenticate and then be denied everything.
      const declared = Object.keys(loaded.config.policy.roles);
      const unknown = opts.role.filter((r) => !declared.includes(r));
      if (unknown.length > 0) throw new Error(`${configFile}: unknown role ${unknown.map((r) => `'${r}'`).join(', ')} (declared in policy.roles: ${declared.join(', ') || 'none'})`);
      // Say which config and secret hashed the key: a key hashed with the example's dev secret
      // matches nothing in a deployment.
      process.stderr.write(`Using ${configFile}${opts.config ? '' : ' (no --config: the example config and its dev secret)'}, secret from ${cfg.secret_file ? `file ${resolve(loaded.baseDir, cfg.secret_file)}` : `env ${cfg.secret_env}`}\n`);
      const { key, hash } = createApiKey(Buffer.from(raw, 'utf8'), opts.id);
      const entry: Record<string, unknown> = { id: opts.id, hash, subject: opts.subject ?? opts.id, roles: opts.role };
      if (opts.expires) entry.expires_at = opts.expires;
      process.stderr.write('API key (shown once; modelgate stores only its hash):\n');
      process.stdout.write(`${key}\n`);
      process.stderr.write(`\nAdd under identity.api_keys.keys (or to the keys_file):\n${stringify([entry])}`);
      // Rules and buckets name callers with their source, so a JWT `sub` cannot pass for this key.
      process.stderr.write(`\nRules, limits and logs name this key's caller api_key:${String(entry.subject)}\n`);
    });
}
