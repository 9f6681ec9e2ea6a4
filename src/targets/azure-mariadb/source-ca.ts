import {DatainError, ExitCode} from '../../lib/errors.js'
import {readCaFile} from '../../lib/validate.js'

/** The PEM text of --source-ssl-ca, which Azure's procedure takes (not a path); '' for a source without TLS. */
export async function sourceCaText(file: string | undefined): Promise<string> {
  if (!file) return ''
  try {
    // Checked as init checked it: the path may have become a FIFO or a device since.
    return readCaFile('--source-ssl-ca', file)
  } catch (error) {
    throw new DatainError(`datain could not use the source's CA file: ${(error as Error).message}`, {code: 'E_SOURCE_CA', exit: ExitCode.usage, cause: error})
  }
}
