// Test PKI generated at test time with openssl: a CA, server certs and client certs with SPIFFE URI SANs.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface TestPki {
  readonly dir: string;
  readonly ca: CertFiles;
  /** A leaf cert signed by the CA; `uris` and `dns` become subjectAltName entries. */
  issue(name: string, opts: { uris?: string[]; dns?: string[]; ips?: string[]; server?: boolean }): CertFiles;
  cleanup(): void;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

export function createTestPki(caName = 'modelgate test CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-pki-'));
  const files = (name: string): CertFiles => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return {
      certFile,
      keyFile,
      get certPem() {
        return readFileSync(certFile, 'utf8');
      },
      get keyPem() {
        return readFileSync(keyFile, 'utf8');
      },
    };
  };
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-subj', `/CN=${caName}`, '-keyout', 'ca.key', '-out', 'ca.crt',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  return {
    dir,
    ca: files('ca'),
    issue(name, opts) {
      const san = [
        ...(opts.uris ?? []).map((u) => `URI:${u}`),
        ...(opts.dns ?? []).map((d) => `DNS:${d}`),
        ...(opts.ips ?? []).map((i) => `IP:${i}`),
      ].join(',');
      const ext = [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage=${opts.server ? 'serverAuth,clientAuth' : 'clientAuth'}`,
        ...(san ? [`subjectAltName=${san}`] : []),
      ].join('\n');
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
        '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
      return files(name);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
