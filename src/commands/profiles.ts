import {Flags} from '@oclif/core'
import {BaseCommand} from '../ui/base-command.js'
import {exitCodesHelp} from '../ui/exit-codes-help.js'
import {redact} from '../lib/redact.js'
import type {ProfileJournal} from '../profiles/journal.js'
import type {ProfileList} from '../profiles/list.js'

export default class Profiles extends BaseCommand<typeof Profiles> {
  static override summary = "List the profiles in DATAIN_HOME and where each setup stands; --journal shows one profile's journal."
  static override description =
    'For each profile: its target, source, replica and where its setup stands (not started, running, a step failed or interrupted, ' +
    "replicating (setup done), stopped, removed), read from the profile's files alone: no server is asked (datain status does that). " +
    'Never takes a profile\'s lock, so it runs beside a datain start; a profile whose files are damaged is listed as corrupt with the file and the fix. ' +
    "--journal prints what datain did on the profile given by --profile, with timestamps, oldest first.\n\n" +
    exitCodesHelp({ok: 'listed', failed: 'DATAIN_HOME cannot be read', usage: 'bad usage, or --journal on a profile that does not exist'})

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --journal --profile prod --tail 20',
  ]

  static override flags = {
    journal: Flags.boolean({summary: "Print the journal of the profile given by --profile instead of the list."}),
    tail: Flags.integer({summary: 'With --journal: only the last N entries.', min: 1, dependsOn: ['journal']}),
  }

  async run(): Promise<ProfileList | ProfileJournal> {
    const {flags} = await this.parse(Profiles)
    // Loaded here, not at the top: the status code reads the step list, whose modules hold the MariaDB connector.
    const [{listProfileSummaries}, {readProfileJournal}, {renderJournal, renderProfiles}] = await Promise.all([
      import('../profiles/list.js'),
      import('../profiles/journal.js'),
      import('../ui/profiles.js'),
    ])
    if (flags.journal) {
      const journal = await readProfileJournal(this.home, flags.profile, flags.tail)
      if (!this.jsonEnabled()) this.log(redact(renderJournal(journal)))
      return journal
    }
    const list = await listProfileSummaries(this.home)
    if (!this.jsonEnabled()) this.log(redact(renderProfiles(list)))
    return list
  }
}
