import {readFile} from 'node:fs/promises'
import {DatainError, ExitCode} from '../../lib/errors.js'

/** The PEM text of --source-ssl-ca, which Azure's procedure takes (not a path); '' for a source without TLS. */
export async function sourceCaText(file: string | undefined): Promise<string> {
  if (!file) return ''
  let pem: string
  try {
    pem = await readFile(file, 'utf8')
  } catch (error) {
    throw new DatainError(`datain could not read the source's CA file ${file} (--source-ssl-ca): ${(error as Error).message}.`, {
      code: 'E_SOURCE_CA',
      exit: ExitCode.usage,
      cause: error,
    })
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new DatainError(`The source's CA file ${file} (--source-ssl-ca) holds no PEM certificate (-----BEGIN CERTIFICATE-----).`, {code: 'E_SOURCE_CA', exit: ExitCode.usage})
  }
  return pem
}
