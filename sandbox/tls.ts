import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {link, mkdir, rename, rm, writeFile} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {isIP} from 'node:net'
import path from 'node:path'

/** A certificate authority on disk: `cert` is the PEM file a client is told to trust. */
export interface CertificateAuthority {
  cert: string
  key: string
}

/** A leaf certificate and its key, PEM files. */
export interface Certificate {
  cert: string
  key: string
}

/** Creates (or reuses, when `dir` already holds one) a CA named `name`: `<dir>/<name>-ca.pem`. */
export async function ensureCa(dir: string, name: string): Promise<CertificateAuthority> {
  await mkdir(dir, {recursive: true, mode: 0o700})
  const ca = {cert: path.join(dir, `${name}-ca.pem`), key: path.join(dir, `${name}-ca-key.pem`)}
  // The certificate is put in place last: once it exists, so does its key.
  if (existsSync(ca.cert)) return ca
  // Written under temp names first: sandboxes starting side by side may share the folder, and one
  // must never read another's half-written CA.
  const tmp = `.${process.pid}.${randomBytes(4).toString('hex')}`
  await execa('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
    '-subj', `/CN=datain sandbox ${name} CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', ca.key + tmp, '-out', ca.cert + tmp,
  ])
  try {
    // link() is exclusive: of two sandboxes racing here, one wins and the other uses its CA.
    await link(ca.key + tmp, ca.key)
    await rename(ca.cert + tmp, ca.cert)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    while (!existsSync(ca.cert)) await sleep(50)
    await rm(ca.cert + tmp, {force: true})
  }
  await rm(ca.key + tmp, {force: true})
  return ca
}

/** Issues a server certificate signed by `ca`, valid for every host name and IP in `hosts`. */
export async function issueCertificate(
  dir: string,
  ca: CertificateAuthority,
  name: string,
  hosts: string[],
): Promise<Certificate> {
  await mkdir(dir, {recursive: true, mode: 0o700})
  const leaf = {cert: path.join(dir, `${name}-cert.pem`), key: path.join(dir, `${name}-key.pem`)}
  const csr = path.join(dir, `${name}.csr`)
  const ext = path.join(dir, `${name}.ext`)
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',')
  await writeFile(
    ext,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
  )
  await execa('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${hosts[0]}`, '-keyout', leaf.key, '-out', csr])
  await execa('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key,
    // A random serial, not -CAcreateserial: sandboxes sharing a CA would race on its .srl file.
    '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', '825', '-sha256', '-extfile', ext, '-out', leaf.cert,
  ])
  return leaf
}
