/** Text of `switchboard --help`. */
export const USAGE = `Usage: switchboard <command> [options]

Commands:
  start                          run the server (default: every role, on embedded backends, or
                                 on the cluster's Redis and NATS when both URLs are set)
  user add <jid> [password]      create an account (password from stdin/prompt when omitted)
  user passwd <jid> [password]   change an account's password
  user del <jid>                 delete an account and all its data
  user list                      list accounts
  user import [file]             create accounts from "jid password" lines (stdin when no file)
  sessions [JID]                 every session on every node (JID: one account or resource)
  kick JID [--reason TEXT]       close a resource's stream, or all of an account's, with
                                 <policy-violation/>
  ban JID [--for DURATION] [--reason TEXT]
                                 kick and refuse logins (<account-disabled/>) until unbanned
                                 or the duration ends (DURATION: seconds, or 90s, 15m, 2h, 7d)
  unban JID                      lift a ban
  top [--by stanzas|bytes] [--limit N]
                                 the heaviest users online now (default: by stanzas, 10)
  alerts [--follow]              recent alerts of every node (--follow: keep printing new ones)
  tap JID [--redact-bodies] [--for DURATION]
                                 every stanza to and from JID, live, until Ctrl-C or DURATION
  bench [run|compare] [options]  load generator and side-by-side benchmark (see docs/benchmarks.md)
  help                           show this help

Options (every command):
  -c, --config FILE     YAML configuration file (default: $SWITCHBOARD_CONFIG, else none)
      --domain D        XMPP domain served
      --data-dir DIR    data directory (SQLite store, generated TLS files)
      --log-level L     fatal, error, warn, info, debug, trace or silent
      --role R          what the process serves: all (default) or a comma-separated list
                        of roles (this build: edge, muc)
      --iterations N    SCRAM PBKDF2 iterations for new passwords (default 4096, the minimum)
  -h, --help            show this help

Admin commands (sessions, kick, ban, unban, top, alerts, tap; docs/admin.md) reach the running
server from the same settings: in a cluster its NATS (natsUrl, redisUrl); on a single node its
HTTP port (http.port) with the admin token from --token, SWITCHBOARD_ADMIN_TOKEN or
admin.tokenFile (default <dataDir>/admin-token). --json prints JSON (an array or one object).

User commands work while the server runs; with SWITCHBOARD_REDIS_URL set they act on the
cluster's Redis store instead of the SQLite file. Settings and their SWITCHBOARD_* environment
variables are listed in docs/configuration.md.

Exit codes: 0 success, 1 failure (existing or missing user, bad config, store error,
bad import lines), 2 usage error (unknown command or option, missing or invalid argument).
`;
