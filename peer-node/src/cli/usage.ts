// The CLI's help text: every command and every option, the serve options from the settings table.
import { SERVE_SETTINGS } from "../config.js";

/** What `peer-node --help` prints. */
export const USAGE = `peer-node — a pserver of the p2p file sharing system

Usage:
  peer-node serve [options]                run a pserver (see options below)
  peer-node login [--username NAME]        open a session on a running pserver (password: --password,
                                           PEER_PASSWORD, or asked on the terminal)
  peer-node logout                         end the session and take the peer offline
  peer-node status                         who the pserver is and how its directory link is
  peer-node ls                             files in the pserver's shared folder
  peer-node search <text> | --content-id ID   search the network
  peer-node peers                          live peers
  peer-node download <content id> | --name NAME [--detach]
  peer-node upload <content id> [--to PEER] [--detach]
  peer-node transfers                      running and recent transfers
  peer-node cancel <transfer id>
  peer-node hash <file>...                 print a file's content id (no pserver needed): check a saved
                                           download against the id you downloaded
  peer-node settings [--accept nobody|listed|anyone] [--from PEER,PEER] [--max-file SIZE] [--quota SIZE]
                                           show (or change) whom this peer takes pushes from; a new
                                           peer takes none

Options of the one-shot commands:
  --url URL          the pserver to drive (PEER_URL; default http://127.0.0.1:7001)
  --token-file FILE  where sessions are kept (PEER_TOKEN_FILE; default ~/.config/p2p-share/sessions.json)
  --ca FILE          trust this CA (PEM) for an https pserver, besides the system's: its private CA or
                     self-signed certificate (PEER_CA)

Options of serve (flags win over PEER_* environment variables, which win over a .env file):
${SERVE_SETTINGS.map((s) => `  ${`${s.flag}${"alias" in s ? `, ${s.alias}` : ""}`.padEnd(26)} ${s.env.padEnd(24)} ${s.help}`).join("\n")}
  --env-file FILE            read settings from FILE instead of ./.env
`;
